package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/httpbind/httpbind/bosh"
)

// HopHeader marks a request one node forwarded to another, with the
// forwarding node's id: such a request is served where it arrives, never
// forwarded again (the loop guard). The forwarding node sets it on the
// owner's response too, as it relays it to the client, so that a client
// or a load tool can tell which responses took the forwarding hop. A
// response the node answered itself, or a forward that failed (HTTP 503,
// item-not-found), does not carry it.
const HopHeader = "Httpbind-Forwarded-By"

// Defaults.
const (
	// DefaultDialTimeout is well under bosh.DefaultGapTimeout, so that a
	// request resent after a failed dial still fills its rid gap.
	DefaultDialTimeout = time.Second
	// DefaultResponseTimeout exceeds bosh.DefaultMaxWait and the 10s
	// clients such as boshtest allow on top of it.
	DefaultResponseTimeout = bosh.DefaultMaxWait + 15*time.Second
	// DefaultPingTimeout finds a stalled connection to another node within
	// about two seconds.
	DefaultPingTimeout = time.Second
)

// retryAfter is the Retry-After of a forward that failed in a way that may
// pass.
const retryAfter = time.Second

// Config tunes a Handler. Zero fields mean the defaults given.
type Config struct {
	// Membership says who this node is and where the others are.
	// Required.
	Membership Membership
	// DialTimeout bounds connecting to another node; a node that does not
	// answer in time is taken for suspect (HTTP 503). Default
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for the owner's response to a
	// forwarded request, which holds it for up to the session's 'wait'
	// (XEP-0124 §8): it must exceed bosh.Config.MaxWait. Past it the
	// client gets HTTP 503 with Retry-After and sends the same rid again;
	// the session lives on. Default DefaultResponseTimeout.
	ResponseTimeout time.Duration
	// PingTimeout checks a connection to another node that has received
	// nothing for that long with an HTTP/2 ping (RFC 9113 §6.7), and
	// closes it when the ping is not answered within as long again: the
	// forwards on it get HTTP 503 with Retry-After, and the clients'
	// resends go over a new connection. A partition can leave a connection
	// stalled for minutes after it heals (TCP retransmits ever more
	// rarely), and without the check new forwards would queue on it.
	// Default DefaultPingTimeout; negative turns the check off. Unused
	// with Transport set.
	PingTimeout time.Duration
	// Transport carries forwarded requests; nil means an http.Transport
	// speaking HTTP/2 without TLS (h2c) to http:// nodes and HTTP/2 over
	// TLS to https:// ones, with DialTimeout and PingTimeout. The nodes'
	// servers must accept h2c (http.Server.Protocols with
	// SetUnencryptedHTTP2).
	Transport http.RoundTripper
	// Logger receives the handler's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves a node's own sessions and creation requests with its
// bosh.Handler, and forwards another node's request to that node. Its
// methods are safe for concurrent use.
type Handler struct {
	// Set in New, then read-only.
	h       *bosh.Handler
	members Membership
	proxy   *httputil.ReverseProxy
	log     *slog.Logger

	forwarded atomic.Uint64 // requests forwarded
	failed    atomic.Uint64 // forwards that failed
}

// Stats are a Handler's counters.
type Stats struct {
	Forwarded uint64 // requests forwarded to another node
	Failed    uint64 // of those, how many failed (item-not-found or HTTP 503)
}

// Stats returns a snapshot of the counters.
func (c *Handler) Stats() Stats {
	return Stats{Forwarded: c.forwarded.Load(), Failed: c.failed.Load()}
}

// New returns the Handler in front of h. It reports an error when h's
// bosh.Config.SIDPrefix is not the membership's Self, or ResponseTimeout
// does not exceed h's MaxWait.
func New(h *bosh.Handler, cfg Config) (*Handler, error) {
	if h == nil || cfg.Membership == nil {
		return nil, errors.New("cluster: nil bosh.Handler or Membership")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	bc := h.Config()
	switch self := cfg.Membership.Self(); {
	case bc.SIDPrefix != self:
		return nil, fmt.Errorf("cluster: bosh.Config.SIDPrefix %q is not this node's id %q", bc.SIDPrefix, self)
	case cfg.DialTimeout < 0:
		return nil, fmt.Errorf("cluster: DialTimeout %v: want more than 0", cfg.DialTimeout)
	case cfg.ResponseTimeout <= bc.MaxWait:
		return nil, fmt.Errorf("cluster: ResponseTimeout %v: want more than bosh.Config.MaxWait (%v), for which a request may be held", cfg.ResponseTimeout, bc.MaxWait)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Transport == nil {
		cfg.Transport = newTransport(cfg.DialTimeout, cfg.PingTimeout)
	}
	c := &Handler{h: h, members: cfg.Membership, log: cfg.Logger}
	c.proxy = &httputil.ReverseProxy{
		Rewrite:        c.rewrite,
		Transport:      &timeoutTransport{rt: cfg.Transport, d: cfg.ResponseTimeout},
		ErrorHandler:   c.forwardFailed,
		ModifyResponse: c.markResponse,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return c, nil
}

// newTransport returns the h2c transport to the other nodes.
func newTransport(dial, ping time.Duration) *http.Transport {
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: dial}).DialContext,
		TLSHandshakeTimeout: dial,
		ForceAttemptHTTP2:   true,
		Protocols:           new(http.Protocols),
	}
	if ping > 0 {
		t.HTTP2 = &http.HTTP2Config{SendPingTimeout: ping, PingTimeout: ping}
	}
	t.Protocols.SetUnencryptedHTTP2(true)
	t.Protocols.SetHTTP2(true)
	return t
}

// ServeHTTP serves r here or forwards it to the owner of its session. A
// session creation is served here unless this node is not ready
// (bosh.Handler.Ready: it drains, shuts down or is full): it then goes to
// the node Membership.Pick gives.
func (c *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		c.h.ServeHTTP(w, r) // CORS preflight, the endpoint page, 405
		return
	}
	sid, raw, err := c.h.PeekSID(r)
	if raw == nil {
		c.h.Fail(w, r, err)
		return
	}
	in := r.WithContext(r.Context())
	in.Body = io.NopCloser(bytes.NewReader(raw))
	in.ContentLength = int64(len(raw))
	if err != nil || r.Header.Get(HopHeader) != "" {
		c.h.ServeHTTP(w, in) // bosh answers a bad body; the loop guard
		return
	}
	if sid == "" {
		c.create(w, in)
		return
	}
	owner, ok := bosh.SIDPrefixOf(sid)
	if !ok || owner == c.members.Self() {
		c.h.ServeHTTP(w, in)
		return
	}
	n, ok := c.members.Lookup(owner)
	switch {
	case !ok || n.State == Left:
		c.failed.Add(1)
		c.h.Fail(w, r, bosh.ItemNotFound) // §17.2: the session is gone with its node
	case n.State == Suspect:
		c.failed.Add(1)
		c.h.Fail(w, r, unavailable(errSuspect))
	default:
		c.forward(w, in, n, false)
	}
}

// create serves a creation request here, or on another node while this
// one is not ready.
func (c *Handler) create(w http.ResponseWriter, r *http.Request) {
	if c.h.Ready() != nil {
		if n, ok := c.members.Pick(); ok {
			c.forward(w, r, n, true)
			return
		}
	}
	c.h.ServeHTTP(w, r)
}

// forwardKey carries, in a forwarded request's context, the node it goes
// to and whether it creates a session.
type forwardKey struct{}

type forwarding struct {
	node   Node
	create bool
}

// forward sends r to node n with the reverse proxy.
func (c *Handler) forward(w http.ResponseWriter, r *http.Request, n Node, create bool) {
	c.forwarded.Add(1)
	ctx := context.WithValue(r.Context(), forwardKey{}, forwarding{node: n, create: create})
	c.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// rewrite makes the forwarded request: the owner's URL with the request's
// path, the Forwarded elements of the request (or its X-Forwarded-For) and
// one for this hop, and the loop guard.
func (c *Handler) rewrite(pr *httputil.ProxyRequest) {
	f := pr.In.Context().Value(forwardKey{}).(forwarding)
	pr.SetURL(f.node.URL)
	pr.Out.Host = pr.In.Host
	pr.Out.Header["Forwarded"] = append(priorHops(pr.In.Header), forwardedElement(pr.In.RemoteAddr, c.h.Secure(pr.In)))
	pr.Out.Header.Set(HopHeader, c.members.Self())
}

// markResponse sets HopHeader on the owner's response to a forwarded
// request, with this node's id.
func (c *Handler) markResponse(res *http.Response) error {
	res.Header.Set(HopHeader, c.members.Self())
	return nil
}

// forwardFailed answers a forward that failed: item-not-found when the
// owner is known gone (§17.2), HTTP 503 with Retry-After when the failure
// may pass, so that the client sends the same rid again (§14.3). A failed
// creation always gets 503: no session is lost.
func (c *Handler) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	c.failed.Add(1)
	if r.Context().Err() != nil {
		return // the client went away
	}
	f, _ := r.Context().Value(forwardKey{}).(forwarding)
	c.log.Debug("cluster: forward failed", "node", f.node.ID, "err", err)
	if gone(err) && !f.create {
		c.h.Fail(w, r, bosh.ItemNotFound)
		return
	}
	c.h.Fail(w, r, unavailable(err))
}

var errSuspect = errors.New("cluster: node suspected down")

func unavailable(err error) error {
	return &bosh.OverloadError{RetryAfter: retryAfter, Err: err}
}

// gone reports whether a forward's error shows its node gone: the
// connection was refused, or the node's name no longer resolves.
func gone(err error) bool {
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &dns) && dns.IsNotFound)
}
