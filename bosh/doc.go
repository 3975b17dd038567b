// Package bosh is the http-bind endpoint of a BOSH connection manager
// (XEP-0124): an http.Handler that runs BOSH sessions and connects each to a
// stream of a pluggable Upstream.
//
// Layer: above session and internal, below xmppstream. It owns HTTP (method,
// CORS, body size, compression, charsets, status codes), the <body/> wire
// format and the terminal binding conditions (§17); it knows nothing of
// SASL, JIDs or XMPP stanzas. It must not import xmppstream.
//
// Start at NewHandler and the Upstream, Stream and Sink interfaces: the
// upstream pushes what it has for the client into the session's Sink, and
// receives the client's payloads through Stream.Send in rid order. Payloads
// travel as the client's bytes; responses are built without re-encoding
// them. Every failure a client can see is a Condition or an *Error, turned
// into bytes in one place; a busy server answers HTTP 503 with Retry-After
// (OverloadError). Stream, Request, Closing, Condition and Error are
// defined once, in package session, and named here. Stats is a snapshot of
// the counters (bosh/boshprom exports them to Prometheus); Ready says
// whether new sessions are taken; Drain stops taking them while the
// sessions go on; Shutdown ends every session and waits for the upstream's
// goroutines. PeekSID, Fail and Secure serve a front end that routes
// requests among several nodes by the node id in the sid
// (Config.SIDPrefix): package bosh/cluster.
//
// The Handler works in any net/http server. Serve (serve.go, park.go) is
// the lean way to serve it: a held request of an HTTP/1.1 connection is
// parked without a goroutine or buffers until its reply is there, and
// internal/netpark watches its connection meanwhile (Linux); the
// connection then stays with Serve, which serves its next requests itself
// (keepalive.go). A held HTTP/2 stream (h2c or over TLS) is detached from
// internal/h2serve, the HTTP/2 server Serve puts behind them.
//
// Spec sections cited in this package are XEP-0124 v1.11.2's.
package bosh
