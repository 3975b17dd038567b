// Package xmppstream implements XMPP over BOSH (XEP-0206) on top of package
// bosh: stream restarts, stream features in BOSH responses, stream errors as
// remote-stream-error, the SASL → bind → session preconditions, and 'from'
// stamping. It provides the standard upstreams:
//
//   - Server, a negotiating upstream for hosts whose XMPP core runs in the
//     same process: it runs SASL (PLAIN, SCRAM-SHA-1, SCRAM-SHA-256, through
//     mellium.im/sasl; DIGEST-MD5, historic, only when configured),
//     resource binding and RFC 3921 session establishment itself, and
//     hands authenticated stanzas to the host's Core; non-SASL
//     authentication (XEP-0078, obsolete) only when configured;
//   - TCPUpstream, a standalone connection manager: each session opens its
//     own client-to-server stream (RFC 6120) to an existing XMPP server and
//     relays it (STARTTLS or direct TLS with verification, restarts as new
//     stream headers, stream errors as remote-stream-error, connection
//     failures as remote-connection-failed), like Punjab or node-xmpp-bosh;
//   - the in-memory reference Core in package memcore.
//
// Each payload of a request is parsed once, by internal/xmlscan: the parse
// decides what the payload is (SASL, bind, session, a stanza), checks the
// stanza, locates the attributes that 'from' stamping rewrites, and goes
// to the Core as the Stanza's Element, so that the Core need not parse
// the stanza again.
//
// Layer: above bosh, which it implements bosh.Upstream for; it knows nothing
// of rids, HTTP or held requests. Start at Server and Core.
package xmppstream
