// Package boshclient is the module's one XMPP-over-BOSH client: the
// request loop of XEP-0124 (creation §7, rids and in-order processing
// §14, at most 'requests' in flight §11, resending a rid after a network
// failure §14.3, acknowledgements §9, HTTP 503 with Retry-After,
// termination §13) that internal/xmpplogin's login runs over.
//
// Two packages run it: bosh/boshtest's Client over the network, keeping one
// request held at all times like a browser, and xmppstream/prebind in
// process, over a HandlerTransport that calls a bosh.Handler's ServeHTTP,
// sending an empty request only while it waits for an answer
// (Config.OnDemand), so that the session it hands to a browser has no
// request held. Wire details (namespaces, escaping, the request body, the
// response parser) are internal/xmppwire's.
//
// Start at Config, Client.Connect and Client.Next.
//
// Layer: internal, above bosh (its conditions and OverloadError) and
// internal/xmppwire; it imports nothing of the XMPP layer, so that
// bosh/boshtest does not either. internal/cmd/boshload keeps a minimal
// client of its own, for the reasons its doc gives.
package boshclient
