package boshtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/httpbind/httpbind/bosh"
)

// Server is an in-process BOSH endpoint for tests, like httptest.Server:
// it serves the handler under test at /http-bind on 127.0.0.1, over
// HTTP/1.1 and over HTTP/2 with prior knowledge (h2c).
type Server struct {
	// URL is the BOSH endpoint, http://127.0.0.1:port/http-bind.
	URL string

	h     http.Handler
	ts    *httptest.Server
	close sync.Once
}

// NewServer starts a Server for h, typically a *bosh.Handler over the
// upstream under test. Like httptest.NewServer it panics when it cannot
// listen.
func NewServer(h http.Handler) *Server {
	mux := http.NewServeMux()
	mux.Handle("/http-bind", h)
	ts := httptest.NewUnstartedServer(mux)
	// HTTP/1.1 and h2c (HTTP/2 with prior knowledge), and held requests
	// parked, as under bosh.Serve, which boshd uses.
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	ts.Config.Protocols = &p
	ts.Listener = bosh.ParkListener(ts.Config, ts.Listener)
	ts.Start()
	return &Server{URL: ts.URL + "/http-bind", h: h, ts: ts}
}

// shutdownTimeout bounds Close's wait for the handler's requests.
const shutdownTimeout = 10 * time.Second

// Close shuts the server down: the handler's Shutdown first when it has
// one (a *bosh.Handler: it ends every session with system-shutdown and
// answers the held requests), then the HTTP server's Close. It is
// idempotent.
func (s *Server) Close() {
	s.close.Do(func() {
		if sh, ok := s.h.(interface{ Shutdown(context.Context) error }); ok {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			sh.Shutdown(ctx)
		}
		s.ts.Close()
	})
}
