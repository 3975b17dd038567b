package boshtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
)

// A ServerOption configures NewServer.
type ServerOption func(*serverConfig)

type serverConfig struct {
	domain  string
	handler bosh.Config
	stream  xmppstream.ServerConfig
	core    memcore.Config
}

// WithDomain sets the XMPP domain the server hosts. Default "localhost".
func WithDomain(domain string) ServerOption {
	return func(c *serverConfig) { c.domain = domain }
}

// WithHandlerConfig sets the bosh.Handler's configuration. Default the
// zero bosh.Config (every default).
func WithHandlerConfig(cfg bosh.Config) ServerOption {
	return func(c *serverConfig) { c.handler = cfg }
}

// WithStreamConfig sets the xmppstream.Server's configuration; its Domains
// default to the server's domain.
func WithStreamConfig(cfg xmppstream.ServerConfig) ServerOption {
	return func(c *serverConfig) { c.stream = cfg }
}

// WithCoreConfig sets the memcore.Core's configuration, for example its
// conflict policy; its Domain defaults to the server's domain.
func WithCoreConfig(cfg memcore.Config) ServerOption {
	return func(c *serverConfig) { c.core = cfg }
}

// Server is an in-process BOSH connection manager for tests: an
// httptest.Server on 127.0.0.1 serving a bosh.Handler at /http-bind, whose
// upstream is an xmppstream.Server over an in-memory memcore.Core with no
// accounts (add them with Core.AddUser).
type Server struct {
	// URL is the BOSH endpoint, http://127.0.0.1:port/http-bind.
	URL string
	// Core is the in-memory XMPP core behind the handler.
	Core *memcore.Core
	// Handler is the BOSH handler, for its Stats or Shutdown.
	Handler *bosh.Handler

	ts    *httptest.Server
	close sync.Once
}

// NewServer starts a Server. Like httptest.NewServer it panics when it
// cannot start, here also when an option's configuration is invalid.
func NewServer(opts ...ServerOption) *Server {
	cfg := serverConfig{domain: "localhost"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.core.Domain == "" {
		cfg.core.Domain = cfg.domain
	}
	if len(cfg.stream.Domains) == 0 {
		cfg.stream.Domains = []string{cfg.domain}
	}
	core := memcore.New(cfg.core)
	up, err := xmppstream.NewServer(core, cfg.stream)
	if err != nil {
		panic(fmt.Sprintf("boshtest: %v", err))
	}
	h, err := bosh.NewHandler(up, cfg.handler)
	if err != nil {
		panic(fmt.Sprintf("boshtest: %v", err))
	}
	mux := http.NewServeMux()
	mux.Handle("/http-bind", h)
	ts := httptest.NewServer(mux)
	return &Server{URL: ts.URL + "/http-bind", Core: core, Handler: h, ts: ts}
}

// shutdownTimeout bounds Close's wait for the handler's requests.
const shutdownTimeout = 10 * time.Second

// Close shuts the server down: Handler.Shutdown first, which ends every
// session with system-shutdown and answers the held requests, then the
// HTTP server's Close. It is idempotent.
func (s *Server) Close() {
	s.close.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		s.Handler.Shutdown(ctx)
		s.ts.Close()
	})
}
