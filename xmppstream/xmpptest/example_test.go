package xmpptest_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"time"

	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// Two users chat through an in-process server: each Client logs in over
// BOSH, and a message from one reaches the other.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv, err := xmpptest.NewServer(xmpptest.Config{}) // domain "localhost"
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.Core.AddUser("alice", "wonderland")
	srv.Core.AddUser("bob", "builder")

	login := func(user, password, resource string) *boshtest.Client {
		c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
		if err := c.Connect(ctx, "localhost"); err != nil {
			panic(err)
		}
		jid, err := c.Login(ctx, user, password, resource)
		if err != nil {
			panic(err)
		}
		fmt.Println("logged in as", jid)
		return c
	}
	alice := login("alice", "wonderland", "phone")
	defer alice.Close()
	bob := login("bob", "builder", "laptop")
	defer bob.Close()

	err = bob.Send(ctx, []byte(`<message to='alice@localhost/phone' type='chat' xmlns='jabber:client'><body>Hi Alice!</body></message>`))
	if err != nil {
		panic(err)
	}
	stanza, err := alice.Receive(ctx)
	if err != nil {
		panic(err)
	}
	var msg struct {
		From string `xml:"from,attr"`
		Body string `xml:"body"`
	}
	xml.Unmarshal(stanza, &msg)
	fmt.Printf("alice got %q from %s\n", msg.Body, msg.From)

	fmt.Println(bob.Terminate(ctx), alice.Terminate(ctx))
	// Output:
	// logged in as alice@localhost/phone
	// logged in as bob@localhost/laptop
	// alice got "Hi Alice!" from bob@localhost/laptop
	// <nil> <nil>
}
