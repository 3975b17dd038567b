// Package xmpptest starts an XMPP-over-BOSH connection manager in the
// test's process: a bosh.Handler whose upstream is an xmppstream.Server
// over the in-memory reference core, memcore, served on 127.0.0.1 by a
// boshtest.Server. Tests and examples of the module use it; a host
// application uses it to test its clients, or xmpptest.NewServer with its
// own handler to test its own upstream.
//
// Layer: above xmppstream and memcore, which it wires together; like a
// test helper, nothing but tests, examples and tools imports it.
//
//	srv, err := xmpptest.NewServer(xmpptest.Config{})
//	…
//	defer srv.Close()
//	srv.Core.AddUser("alice", "secret")
//	c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
//	c.Connect(ctx, "localhost")
//	jid, err := c.Login(ctx, "alice", "secret", "test")
package xmpptest
