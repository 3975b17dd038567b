package main

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/serve"
)

// httpServer returns boshd's HTTP server for handler. HTTP/1.1 is always
// served; with -tls-cert, HTTP/2 too, chosen by ALPN (RFC 9113 §3.2);
// with -h2c, HTTP/2 with prior knowledge on the plain listener (RFC 9113
// §3.3), as with -peers or -peers-dns, whose forwards between nodes speak
// it. Over HTTP/2 a client's held and sending requests are streams of
// one connection. r.TLS is set for HTTP/2 over TLS as for HTTP/1.1, so a
// session created over either is a secure session (XEP-0124 §19.1).
func (o *options) httpServer(handler http.Handler, log *slog.Logger) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(o.cert != nil)
	p.SetUnencryptedHTTP2(o.h2c || o.cluster.clustered() && o.cert == nil)
	srv := serve.NewServer(handler, log)
	srv.Protocols = &p
	if o.cert != nil {
		srv.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{*o.cert},
			NextProtos:   []string{"h2", "http/1.1"},
			MinVersion:   tls.VersionTLS12,
		}
	}
	return srv
}

// openListener listens on -listen, with TLS when srv has a TLS
// configuration (see httpServer), and with -park parks srv's held
// requests, HTTP/1.1 and HTTP/2 (bosh.ParkListener, as bosh.Serve does).
func (o *options) openListener(srv *http.Server) (net.Listener, error) {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, err
	}
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	if o.park {
		ln = bosh.ParkListener(srv, ln)
	}
	return ln, nil
}

// scheme is the scheme of the endpoint's URL.
func (o *options) scheme() string {
	if o.cert != nil {
		return "https"
	}
	return "http"
}
