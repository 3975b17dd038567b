// Package xmpptest starts an XMPP-over-BOSH connection manager in the
// test's process: a bosh.Handler whose upstream is an xmppstream.Server
// over the in-memory reference core, memcore, served on 127.0.0.1 by a
// boshtest.Server. Tests and examples of the module use it; a host
// application uses it to test its clients, or boshtest.NewServer with its
// own handler to test its own upstream.
//
// Layer: above xmppstream and memcore, which it wires together; like a
// test helper, nothing but tests, examples and tools imports it.
//
// Start at NewServer: a Config whose zero value serves "localhost" with
// every default, and whose fields hold the bosh.Config, the
// xmppstream.ServerConfig and the memcore.Config of the parts. An invalid
// configuration is an error, not a panic.
//
//	srv, err := xmpptest.NewServer(xmpptest.Config{})
//	if err != nil { … }
//	defer srv.Close()
//	srv.Core.AddUser("alice", "secret")
//	c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
//	c.Connect(ctx, "localhost")
//	jid, err := c.Login(ctx, "alice", "secret", "test")
package xmpptest
