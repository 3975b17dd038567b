// Package boshtest helps host applications test their own BOSH embedding,
// in the spirit of net/http/httptest: a small Go BOSH client (Client) that
// behaves like a browser client (XEP-0124, XEP-0206), and an in-process
// server (NewServer) with the in-memory XMPP core behind a bosh.Handler.
//
// Layer: despite its path under bosh, boshtest is a test helper that sits
// above xmppstream, like an example: NewServer wires
// xmppstream/memcore, xmppstream.Server and bosh.Handler together. Nothing
// in this module imports it except tests and examples. The Client itself
// needs only HTTP and the wire format, so it also works against any other
// connection manager.
//
// Start at NewServer and NewClient:
//
//	srv := boshtest.NewServer()
//	defer srv.Close()
//	srv.Core.AddUser("alice", "secret")
//	c := boshtest.NewClient(srv.URL)
//	defer c.Close()
//	c.Connect(ctx, "localhost")
//	jid, err := c.Login(ctx, "alice", "secret", "test")
//	c.Send(ctx, []byte(`<message to='bob@localhost' xmlns='jabber:client'><body>hi</body></message>`))
//	stanza, err := c.Receive(ctx)
//
// The Client keeps one empty request held at the connection manager at all
// times, sends stanzas in extra requests, increments rids and processes the
// responses in rid order, as XEP-0124 §8 and §14 ask of a client. WithTrace
// logs every request and response body for debugging.
package boshtest
