package xmppstream_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
)

// ExampleNewServer embeds an XMPP core in a BOSH endpoint: the Server
// negotiates XEP-0206 (SASL, bind, session) and hands authenticated
// stanzas to the core, here the in-memory reference core.
func ExampleNewServer() {
	core, err := memcore.New(memcore.Config{Domain: "example.com"})
	if err != nil {
		log.Fatal(err)
	}
	if err := core.AddUser("alice", "wonderland"); err != nil {
		log.Fatal(err)
	}
	srv, err := xmppstream.NewServer(core, xmppstream.ServerConfig{Domains: []string{"example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	h, err := bosh.NewHandler(srv, bosh.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(h) // in a program: http.Handle("/http-bind", h)
	defer ts.Close()
	defer h.Shutdown(context.Background())

	ctx := context.Background()
	c := boshtest.NewClient(ts.URL, boshtest.ClientConfig{})
	if err := c.Connect(ctx, "example.com"); err != nil {
		log.Fatal(err)
	}
	jid, err := c.Login(ctx, "alice", "wonderland", "phone")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(jid)
	if err := c.Terminate(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: alice@example.com/phone
}
