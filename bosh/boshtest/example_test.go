package boshtest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
)

// echo is the upstream under test: each stream sends every payload back.
type echo struct{}

func (echo) Open(_ context.Context, _ *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
	return echoStream{sink}, nil
}

type echoStream struct{ sink bosh.Sink }

func (s echoStream) Send(_ context.Context, r *bosh.Request) error {
	s.sink.Deliver(r.Payloads...)
	return nil
}

func (echoStream) Close(bosh.Closing) {}

// A host tests its own upstream: NewServer serves the handler under test,
// and a Client talks BOSH to it like a browser (XEP-0124 §8, §14).
func Example() {
	h, err := bosh.NewHandler(echo{}, bosh.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv := boshtest.NewServer(h)
	defer srv.Close()

	ctx := context.Background()
	c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
	defer c.Close()
	if err := c.Connect(ctx, "example.com"); err != nil {
		log.Fatal(err)
	}
	if err := c.Send(ctx, []byte("<ping xmlns='urn:example'/>")); err != nil {
		log.Fatal(err)
	}
	back, err := c.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(back))
	// Output: <ping xmlns='urn:example'/>
}
