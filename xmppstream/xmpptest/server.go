package xmpptest

import (
	"fmt"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
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
// conflict policy; its Domain defaults to the server's domain. Default
// memcore.Config{KeepPasswords: true}: the accounts keep their passwords,
// so that a PLAIN login costs no salting and hashing (memcore's default
// checks it against the SCRAM salted passwords, 4096 iterations).
func WithCoreConfig(cfg memcore.Config) ServerOption {
	return func(c *serverConfig) { c.core = cfg }
}

// Server is an in-process XMPP-over-BOSH connection manager for tests: a
// boshtest.Server on 127.0.0.1 serving a bosh.Handler at /http-bind, whose
// upstream is an xmppstream.Server over an in-memory memcore.Core with no
// accounts (add them with Core.AddUser).
type Server struct {
	*boshtest.Server // URL, Close
	// Core is the in-memory XMPP core behind the handler.
	Core *memcore.Core
	// Handler is the BOSH handler, for its Stats or Shutdown.
	Handler *bosh.Handler
}

// NewServer starts a Server. Like httptest.NewServer it panics when it
// cannot start, here also when an option's configuration is invalid.
func NewServer(opts ...ServerOption) *Server {
	cfg := serverConfig{domain: "localhost", core: memcore.Config{KeepPasswords: true}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.core.Domain == "" {
		cfg.core.Domain = cfg.domain
	}
	if len(cfg.stream.Domains) == 0 {
		cfg.stream.Domains = []string{cfg.domain}
	}
	core, err := memcore.New(cfg.core)
	if err != nil {
		panic(fmt.Sprintf("xmpptest: %v", err))
	}
	up, err := xmppstream.NewServer(core, cfg.stream)
	if err != nil {
		panic(fmt.Sprintf("xmpptest: %v", err))
	}
	h, err := bosh.NewHandler(up, cfg.handler)
	if err != nil {
		panic(fmt.Sprintf("xmpptest: %v", err))
	}
	return &Server{Server: boshtest.NewServer(h), Core: core, Handler: h}
}
