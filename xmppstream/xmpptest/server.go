package xmpptest

import (
	"fmt"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
)

// Config configures NewServer. The zero Config serves the domain
// "localhost" with every default.
type Config struct {
	// Domain is the XMPP domain the server hosts. Default "localhost".
	Domain string
	// Handler is the bosh.Handler's configuration. Default the zero
	// bosh.Config (every default).
	Handler bosh.Config
	// Stream is the xmppstream.Server's configuration; its Domains default
	// to []string{Domain}.
	Stream xmppstream.ServerConfig
	// Core is the memcore.Core's configuration, for example its conflict
	// policy; its Domain defaults to Domain. nil means
	// memcore.Config{KeepPasswords: true}: the accounts keep their
	// passwords, so that a PLAIN login costs no salting and hashing
	// (memcore's default checks it against the SCRAM salted passwords,
	// 4096 iterations).
	Core *memcore.Config
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

// NewServer starts a Server for cfg. It returns the error of an invalid
// configuration (memcore.New's, xmppstream.NewServer's or
// bosh.NewHandler's); like httptest.NewServer it panics only when it
// cannot listen on 127.0.0.1.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	coreCfg := memcore.Config{KeepPasswords: true}
	if cfg.Core != nil {
		coreCfg = *cfg.Core
	}
	if coreCfg.Domain == "" {
		coreCfg.Domain = cfg.Domain
	}
	if len(cfg.Stream.Domains) == 0 {
		cfg.Stream.Domains = []string{cfg.Domain}
	}
	core, err := memcore.New(coreCfg)
	if err != nil {
		return nil, fmt.Errorf("xmpptest: %w", err)
	}
	up, err := xmppstream.NewServer(core, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("xmpptest: %w", err)
	}
	h, err := bosh.NewHandler(up, cfg.Handler)
	if err != nil {
		return nil, fmt.Errorf("xmpptest: %w", err)
	}
	return &Server{Server: boshtest.NewServer(h), Core: core, Handler: h}, nil
}
