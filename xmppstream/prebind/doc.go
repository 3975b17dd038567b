// Package prebind creates and authenticates XMPP-over-BOSH sessions on a
// user's behalf, for hosts whose web pages hand the session to a browser
// client ("prebinding", XEP-0206 §3–§5 over XEP-0124 §7): the host's own
// login page authenticates the user, the host logs in to XMPP for them
// with Prebind, and the page's client (converse.js with
// authentication: 'prebind' and prebind_url, or Strophe.js's
// Connection.attach) continues the session from the JID, SID and next RID
// it is given. The XMPP password never reaches the browser.
//
// A Prebinder speaks BOSH to the host's http-bind endpoint in process,
// with no network in between: it runs the module's one BOSH client
// (internal/boshclient, the client under bosh/boshtest's Client, with the
// login of internal/xmpplogin) over an http.RoundTripper that calls the
// endpoint's ServeHTTP (usually a *bosh.Handler). Whatever upstream runs
// behind the handler — xmppstream.Server with an in-process Core, or
// xmppstream.TCPUpstream relaying to another XMPP server — is the same to
// it: it is just a BOSH client. Endpoint serves the JSON that converse.js's
// prebind_url expects, {"jid":…,"sid":…,"rid":…}.
//
// Layer: above bosh (it uses its conditions) and beside xmppstream; it
// imports no upstream, and nothing below it imports it. Start at New,
// Prebinder.Prebind and Endpoint; conn.go is where the client is set up
// and its errors become an Error.
//
// Spec sections cited are XEP-0124 v1.11.2's and XEP-0206 v1.4's; SASL,
// binding and sessions are RFC 6120 §6–§7 and RFC 3921 §3.
package prebind
