package prebind

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"mellium.im/sasl"
)

// Defaults of Config.
const (
	DefaultPath    = "/http-bind"
	DefaultWait    = 60 * time.Second
	DefaultHold    = 1
	DefaultTimeout = 30 * time.Second
)

// Config configures a Prebinder. Zero fields take the defaults given.
type Config struct {
	// Handler is the BOSH endpoint the sessions are created at, called in
	// process: usually the host's *bosh.Handler. It must be the handler
	// the browser reaches at its bosh_service_url, so that the session it
	// continues exists there. Required.
	Handler http.Handler
	// Path is the request path of the in-process requests, for a Handler
	// that looks at it (a mux). Default DefaultPath, "/http-bind".
	Path string
	// Wait is the 'wait' asked for at creation (XEP-0124 §7.1): how long
	// the connection manager holds the browser's requests, capped by its
	// bosh.Config.MaxWait. Default 60s; whole seconds, 1s to 65535s. Keep
	// it below the client's own timeout: converse.js attaches with a wait
	// of 59s and gives up on a request after 1.1 × 59s.
	Wait time.Duration
	// Hold is the 'hold' asked for (XEP-0124 §7.1), capped by
	// bosh.Config.MaxHold. Default 1, what browser clients use; 1 to 16.
	Hold int
	// Mechanism is the SASL mechanism (RFC 6120 §6): sasl.Plain (the
	// default), sasl.ScramSha1 or sasl.ScramSha256. The server must offer
	// it; a Prebind fails otherwise.
	Mechanism sasl.Mechanism
	// Timeout bounds one Prebind, on top of its context. Default 30s.
	Timeout time.Duration
	// Logger receives the Prebinder's logs (never credentials, SASL data
	// or stanzas); nil means slog.Default().
	Logger *slog.Logger
}

// Prebinder creates and authenticates BOSH sessions on users' behalf. Its
// methods are safe for concurrent use; each Prebind is independent.
type Prebinder struct {
	cfg Config // set in New, with its defaults; then read-only
}

// New returns a Prebinder for cfg, or an error for an invalid Config.
func New(cfg Config) (*Prebinder, error) {
	if cfg.Handler == nil {
		return nil, errors.New("prebind: Config.Handler is nil")
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if !strings.HasPrefix(cfg.Path, "/") {
		return nil, fmt.Errorf("prebind: Config.Path %q does not start with /", cfg.Path)
	}
	if cfg.Wait == 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Wait < time.Second || cfg.Wait > 65535*time.Second || cfg.Wait%time.Second != 0 {
		return nil, fmt.Errorf("prebind: Config.Wait %v is not whole seconds from 1s to 65535s", cfg.Wait)
	}
	if cfg.Hold == 0 {
		cfg.Hold = DefaultHold
	}
	if cfg.Hold < 1 || cfg.Hold > 16 {
		return nil, fmt.Errorf("prebind: Config.Hold %d is not 1 to 16", cfg.Hold)
	}
	switch cfg.Mechanism.Name {
	case "":
		cfg.Mechanism = sasl.Plain
	case sasl.Plain.Name, sasl.ScramSha1.Name, sasl.ScramSha256.Name:
	default:
		return nil, fmt.Errorf("prebind: Config.Mechanism %s is not PLAIN, SCRAM-SHA-1 or SCRAM-SHA-256", cfg.Mechanism.Name)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("prebind: Config.Timeout %v is negative", cfg.Timeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Prebinder{cfg: cfg}, nil
}

// Request is what Prebind logs in with.
type Request struct {
	// Domain is the XMPP domain, the 'to' of the session (XEP-0124 §7.1).
	// Required.
	Domain string
	// User is the account's localpart, without "@domain". Required.
	User string
	// Password is what SASL authenticates with. It may be the account's
	// password or anything else the server's credentials accept — with
	// xmppstream.Server, whatever the host's xmppstream.Core Credentials
	// returns for the user, so a host can issue one-time tokens instead
	// of keeping users' passwords.
	Password string
	// Resource is the resource to bind (RFC 6120 §7); empty lets the
	// server make one.
	Resource string
	// RemoteAddr is the end user's address ("ip" or "ip:port"), the
	// session's client address for bosh.Config.MaxSessionsPerAddress and
	// the upstream's OpenRequest.RemoteAddr. Default "127.0.0.1". Endpoint
	// fills it from the HTTP request.
	RemoteAddr string

	// Set by Endpoint: the forwarding headers of the user's request (only
	// those), so that bosh.Config.TrustedProxies apply to them, and its TLS
	// state, so that a session prebound over HTTPS is a secure one
	// (XEP-0124 §19.1).
	forwarded http.Header
	tls       *tls.ConnectionState
}

// Session is a prebound session, as converse.js's prebind_url returns it
// and Strophe.js's Connection.attach(jid, sid, rid) takes it.
type Session struct {
	// JID is the bound full JID (RFC 6120 §7).
	JID string `json:"jid"`
	// SID is the session id (XEP-0124 §7.2).
	SID string `json:"sid"`
	// RID is the rid of the browser's next request: one more than the
	// last request Prebind sent (XEP-0124 §14.1). Strophe.js sends its
	// next request with exactly this rid.
	RID uint64 `json:"rid"`
}

// Prebind creates a session for r.Domain at the Handler and logs in as
// r.User on the user's behalf (XEP-0206): session creation (no keys, no
// acks: the browser would not know them), SASL with Config.Mechanism, the
// stream restart, resource binding and, when the server advertises it,
// session establishment. It returns when the last response arrived, with
// no request left held, so the browser's first request finds the session
// waiting for it; the session ends by inactivity (XEP-0124 §10) if the
// browser never comes.
//
// A failure is an *Error (see Error for errors.Is). When it happens after
// creation, Prebind terminates the session, so nothing is left behind.
//
// Stanzas the server sends in Prebind's responses after binding, other
// than the answers Prebind waits for, cannot reach the browser; none are
// sent before the client's initial presence by servers following RFC 6121
// (offline messages, presence and roster pushes all wait for it).
func (p *Prebinder) Prebind(ctx context.Context, r Request) (Session, error) {
	if r.Domain == "" || r.User == "" {
		return Session{}, &Error{Op: OpCreate, Err: errors.New("Request needs Domain and User")}
	}
	if r.RemoteAddr == "" {
		r.RemoteAddr = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	c := p.client(&r)
	defer c.Close() // stops the client, not the session
	if err := c.Connect(ctx, r.Domain); err != nil {
		return Session{}, opError(OpCreate, err)
	}
	jid, err := p.login(ctx, c, &r)
	if err != nil {
		p.terminate(ctx, c)
		p.cfg.Logger.Debug("prebind: failed", "sid", c.SID(), "err", err)
		return Session{}, err
	}
	if n := c.Unread(); n > 0 {
		p.cfg.Logger.Warn("prebind: stanzas sent during the login were not handed on", "sid", c.SID(), "count", n)
	}
	p.cfg.Logger.Debug("prebind: session ready", "sid", c.SID(), "jid", jid)
	return Session{JID: jid, SID: c.SID(), RID: c.RID()}, nil
}
