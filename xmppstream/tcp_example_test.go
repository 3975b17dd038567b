package xmppstream_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
)

// A standalone connection manager: every BOSH session gets its own
// client-to-server stream to an existing XMPP server, here one whose
// certificate a private CA signed. Sessions for other domains are refused
// with host-unknown before anything is dialled.
func ExampleNewTCPUpstream() {
	roots := x509.NewCertPool() // roots.AppendCertsFromPEM(caPEM)
	up, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{
		Addr:       "xmpp.internal:5222",
		Domains:    []string{"example.com"},
		TLSConfig:  &tls.Config{RootCAs: roots},
		RequireTLS: true,
	})
	if err != nil {
		panic(err)
	}
	h, err := bosh.NewHandler(up, bosh.Config{Routes: []string{"xmpp:xmpp2.internal:5222"}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/http-bind", h)

	_, err = up.Open(context.Background(), &bosh.OpenRequest{To: "other.example"}, nil)
	fmt.Println(string(bosh.ConditionOf(err)))
	// Output: host-unknown
}
