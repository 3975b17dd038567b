// Package interop holds the interoperability tests of the TCP upstream
// with a real XMPP server: a bosh.Handler with xmppstream.TCPUpstream in
// front of Prosody (internal/prosodytest), driven by the Go BOSH client of
// bosh/boshtest, with a second user connected to Prosody directly over
// TCP. They cover XEP-0206 end to end — SASL PLAIN and SCRAM-SHA-1, the
// stream restart, resource binding, messages both ways, a server stream
// error and a server that dies — and host-unknown for a
// domain that is not served.
//
// BenchmarkStanzaLatency compares the latency of a stanza through this
// connection manager with Prosody's own mod_bosh on the same machine:
//
//	go test -run '^$' -bench StanzaLatency -benchtime 200x ./internal/interop
//
// The tests need Prosody: they skip without it, except under CI=true,
// where they fail (make deps installs it).
//
// Layer: tests only; the package has no code of its own. It imports bosh,
// bosh/boshtest, xmppstream and internal/prosodytest.
package interop
