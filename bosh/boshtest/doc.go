// Package boshtest helps host applications test their own BOSH embedding,
// in the spirit of net/http/httptest: NewServer serves the handler under
// test on 127.0.0.1, and Client is a small Go BOSH client that behaves
// like a browser client (XEP-0124, and the XEP-0206 login of Client.Login).
//
// Layer: above bosh, whose wire format and conditions it uses; it imports
// nothing of the XMPP layer. The Client needs only HTTP, so it also works
// against any other connection manager. Underneath it is the module's one
// BOSH client, internal/boshclient (with the login of internal/xmpplogin),
// which xmppstream/prebind runs in process; client.go maps ClientConfig
// onto it. For an in-process XMPP server to test clients against, see
// xmppstream/xmpptest, which builds one from this package and the
// in-memory core.
//
// Start at NewServer and NewClient:
//
//	h, _ := bosh.NewHandler(myUpstream, bosh.Config{})
//	srv := boshtest.NewServer(h)
//	defer srv.Close()
//	c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
//	defer c.Close()
//	c.Connect(ctx, "example.com")
//	c.Send(ctx, []byte(`<message to='bob@example.com' xmlns='jabber:client'><body>hi</body></message>`))
//	stanza, err := c.Receive(ctx)
//
// The Client keeps one empty request held at the connection manager at all
// times, sends stanzas in extra requests, increments rids and processes the
// responses in rid order, as XEP-0124 §8 and §14 ask of a client.
// ClientConfig.Trace logs every request and response body for debugging.
package boshtest
