package bosh_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/httpbind/httpbind/bosh"
)

// echoStream sends every payload straight back to the client.
type echoStream struct{ sink bosh.Sink }

func (e echoStream) Send(ctx context.Context, req *bosh.Request) error {
	if !req.Terminate && len(req.Payloads) > 0 {
		e.sink.Deliver(req.Payloads...)
	}
	return nil
}

func (echoStream) Close(bosh.Closing) {}

// A host mounts the handler in its own mux; the Upstream decides where the
// client's payloads go.
func ExampleNewHandler() {
	up := bosh.UpstreamFunc(func(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
		if req.To != "example.com" {
			return nil, bosh.HostUnknown // the client sees condition='host-unknown'
		}
		sink.SetAttrs(bosh.Attr{Name: "from", Value: "example.com"})
		return echoStream{sink}, nil
	})
	h, err := bosh.NewHandler(up, bosh.Config{MaxWait: 30e9})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/http-bind", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer h.Shutdown(context.Background()) // before the server's own shutdown

	post := func(body string) string {
		res, err := http.Post(srv.URL+"/http-bind", "text/xml; charset=utf-8", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	created := post(`<body rid='1000' to='example.com' wait='60' hold='1' ver='1.11' xmlns='http://jabber.org/protocol/httpbind'/>`)
	sid := regexp.MustCompile(`sid='([^']+)'`).FindStringSubmatch(created)[1]
	fmt.Println(strings.Replace(created, sid, "SID", 1))

	fmt.Println(post(`<body rid='1001' sid='` + sid + `' xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client'><body>ping</body></message></body>`))
	fmt.Println(post(`<body rid='1000' to='example.org' ver='1.11' xmlns='http://jabber.org/protocol/httpbind'/>`))
	// Output:
	// <body xmlns='http://jabber.org/protocol/httpbind' ack='1000' sid='SID' wait='30' requests='2' hold='1' inactivity='60' ver='1.11' accept='gzip,deflate' polling='2' maxpause='120' from='example.com'/>
	// <body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client'><body>ping</body></message></body>
	// <body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='host-unknown'/>
}

// Callers classify errors by condition, never by string.
func ExampleConditionOf() {
	err := fmt.Errorf("dial: %w", &bosh.Error{Condition: bosh.RemoteConnectionFailed, Err: errors.New("connection refused")})
	fmt.Println(string(bosh.ConditionOf(err)))
	fmt.Println(errors.Is(err, bosh.RemoteConnectionFailed))
	fmt.Println(string(bosh.ConditionOf(errors.New("anything else"))))
	fmt.Println(bosh.LegacyStatus(bosh.ItemNotFound))
	// Output:
	// remote-connection-failed
	// true
	// internal-server-error
	// 404
}
