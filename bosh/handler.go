package bosh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/text/encoding"

	"github.com/httpbind/httpbind/internal/xmlscan"
	"github.com/httpbind/httpbind/session"
)

// Handler is the http-bind endpoint: an http.Handler that runs BOSH
// sessions (XEP-0124) and connects each to a stream of its Upstream. Its
// methods are safe for concurrent use.
type Handler struct {
	// Set in NewHandler, then read-only.
	up       Upstream
	cfg      Config
	scfg     session.Config
	limits   xmlscan.Limits
	charsets map[string]encoding.Encoding // by canonical name
	advert   string                       // 'charsets' attribute value
	routes   map[Route]bool
	proxies  proxies
	// sidPrefix is Config.SIDPrefix and its dot, or "".
	sidPrefix string

	reg      session.Registry[*bsession]
	rate     creationLimiter // session creations (Config.SessionsPerSecond)
	perAddr  perAddress      // open sessions by client address
	shutting atomic.Bool
	draining atomic.Bool // Drain was called
	states   sync.Pool   // *reqState
	stats    counters
}

// bsession is a session and what the handler keeps with it.
type bsession struct {
	*session.Session
	info
}

// info is what the handler keeps with each session: its response settings.
type info struct {
	content string       // Content-Type of every response (§7.1)
	legacy  bool         // no 'ver' on the creation request (§17.1)
	secure  bool         // created over TLS (§19.1), as Secure judges it
	addr    netip.Prefix // counted in perAddr until the session ends
}

// reqState is the per-request scratch space, pooled.
type reqState struct {
	buf []byte
	doc xmlscan.Doc
	b   body
	// The readers of readBody, which empties them before it returns so
	// that the pool keeps no request's body.
	wire    countingReader
	decoded io.LimitedReader
}

// NewHandler returns a handler that opens each session's stream with up. It
// reports an error for an invalid Config.
func NewHandler(up Upstream, cfg Config) (*Handler, error) {
	if up == nil {
		return nil, errors.New("bosh: nil Upstream")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		up:     up,
		cfg:    cfg,
		limits: xmlscan.Limits{MaxDepth: cfg.MaxDepth, MaxAttrs: cfg.MaxAttrs},
		routes: make(map[Route]bool),
	}
	h.proxies, _ = parseProxies(cfg.TrustedProxies) // validated by withDefaults
	if cfg.SIDPrefix != "" {
		h.sidPrefix = cfg.SIDPrefix + "."
	}
	h.rate = newCreationLimiter(cfg.SessionsPerSecond, cfg.SessionBurst)
	h.perAddr = perAddress{max: cfg.MaxSessionsPerAddress}
	h.charsets, h.advert = lookupCharsets(cfg.Charsets)
	for _, r := range cfg.Routes {
		rt, _ := parseRoute(r) // validated by withDefaults
		h.routes[*rt] = true
	}
	h.scfg = session.Config{
		Clock:      cfg.clock,
		Encode:     func(r *session.Reply) []byte { return appendBody(make([]byte, 0, bodySize(r)), r) },
		Ended:      h.ended,
		GapTimeout: gapTimeout(cfg),
		Metrics:    &h.stats.session,
	}
	h.states.New = func() any { return new(reqState) }
	return h, nil
}

// ServeHTTP answers one BOSH request: POST with a <body/> (§5), OPTIONS for
// CORS preflight. Every answer is a <body/>; errors are terminate bodies
// (§17), with HTTP 400/403/404 instead for legacy clients (§17.1). A GET or
// HEAD without a query, a person opening the URL in a browser, gets a
// short HTML page about the endpoint (HTTP 200); any other method, and a
// GET with a query (XEP-0252 script syntax), get HTTP 405 with a
// bad-request terminate body.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.stats.inflight.Add(1)
	parked := false
	defer func() {
		if !parked {
			h.stats.inflight.Add(-1)
		}
	}()
	// A request of a live session may be held for up to 'wait' (§8): what
	// stays on its goroutine's stack meanwhile is only this frame, serve's
	// and the session's, not admit's, and the pooled request state is back
	// in the pool, so that an idle session costs little. Under Serve, the
	// request is parked instead: no goroutine waits.
	if s, req := h.admit(w, r); s != nil {
		parked = h.serve(w, r, s, req)
	}
}

// admit reads and decodes a request and answers it, except a request of a
// live session, which it returns for serve with the pooled request state
// already put back.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (*bsession, *session.Request) {
	if !h.cors(w, r) {
		h.fail(w, r, nil, newError(PolicyViolation, errOrigin))
		return nil, nil
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		h.preflight(w)
		return nil, nil
	case http.MethodGet, http.MethodHead:
		if r.URL.RawQuery == "" {
			h.page(w, r) // a person who opened the URL in a browser
			return nil, nil
		}
		fallthrough
	default:
		// Script Syntax (GET with the <body/> as the query; in XEP-0124
		// until v1.7, now XEP-0252) is not served.
		w.Header().Set("Allow", "GET, HEAD, POST, OPTIONS")
		h.write(w, r.Header.Get("Accept-Encoding"), "", http.StatusMethodNotAllowed, terminateBody(BadRequest, nil))
		return nil, nil
	}
	h.stats.requests.Add(1)
	st := h.states.Get().(*reqState)
	defer h.states.Put(st)
	data, err := h.readBody(r, st)
	if err != nil {
		h.fail(w, r, nil, err)
		return nil, nil
	}
	b := &st.b
	if err := decodeBody(data, h.limits, &st.doc, b); err != nil {
		h.refuse(w, r, b, err)
		return nil, nil
	}
	if b.rid == 0 {
		h.refuse(w, r, b, newError(BadRequest, errors.New("bosh: no rid")))
		return nil, nil
	}
	if err := h.checkPayloads(b.payloads); err != nil {
		h.refuse(w, r, b, err)
		return nil, nil
	}
	if len(b.sid) == 0 {
		h.create(w, r, b)
		return nil, nil
	}
	s, ok := h.reg.Get(string(b.sid))
	if !ok {
		// §7.1, §17.2: unknown sid; no session, so no legacy status.
		code := ItemNotFound
		if h.shutting.Load() {
			code = SystemShutdown
		}
		h.fail(w, r, nil, code)
		return nil, nil
	}
	if s.secure && !h.Secure(r) {
		// §19.1: a secure session's request over a plain connection: close
		// the connection, leave the session alone.
		panic(http.ErrAbortHandler)
	}
	// The request copies what it keeps out of st.
	return s, h.request(b, s.Params().MultiStream)
}

// refuse answers a request that cannot be processed. When it names a live
// session, that session ends with the same condition: a terminate body ends
// the session (§17.2), and a legacy client treats 400/403/404 as its end
// (§17.1). A request over a plain connection for a secure session only
// loses its connection (§19.1).
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, b *body, err error) {
	if b.doc != nil && len(b.sid) > 0 {
		if s, ok := h.reg.Get(string(b.sid)); ok {
			if s.secure && !h.Secure(r) {
				panic(http.ErrAbortHandler)
			}
			s.End(ConditionOf(err), nil)
			h.fail(w, r, &s.info, err)
			return
		}
	}
	h.fail(w, r, h.infoFor(b), err)
}

// serve handles a request of an existing session: it waits for the
// session's reply and writes it, or parks the request (see Serve) and
// reports true.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, s *bsession, req *session.Request) bool {
	h.stats.held.Add(1)
	p, reply := s.Submit(r.Context(), req)
	if p.Held() {
		if h.park(w, r, s, p) {
			return true // served by Serve: parked (§8)
		}
		reply = p.Wait(r.Context())
	}
	h.stats.held.Add(-1)
	if reply != nil { // nil: the client went away
		h.reply(w, r.Header.Get("Accept-Encoding"), &s.info, reply)
	}
	return false
}

// reply writes a session's reply; accept is the request's Accept-Encoding.
func (h *Handler) reply(w http.ResponseWriter, accept string, inf *info, reply *session.Reply) {
	status := http.StatusOK
	if reply.Terminal() && inf.legacy && reply.Stream == "" {
		status = LegacyStatus(reply.Condition)
	}
	h.write(w, accept, inf.content, status, reply.Body)
}

// request turns a decoded body into a session request.
func (h *Handler) request(b *body, multi bool) *session.Request {
	req := &session.Request{
		RID:       b.rid,
		Key:       string(b.key),
		NewKey:    string(b.newkey),
		Stream:    string(b.stream),
		AddStream: multi && len(b.to) > 0 && !b.restart,
		Notify:    b.foreign || len(b.to) > 0,
	}
	req.Terminate = string(b.typ) == "terminate"
	if b.ack > 0 {
		req.Ack = uint64(b.ack)
	}
	if b.pause > 0 && !h.cfg.NoPause {
		req.Pause = time.Duration(b.pause) * time.Second
	}
	if len(b.payloads) > 0 {
		req.Payloads = copyPayloads(b.payloads)
	}
	if req.Notify {
		req.Attrs = b.attrs()
	}
	return req
}

// copyPayloads copies payloads out of the pooled request buffer, into one
// allocation.
func copyPayloads(ps [][]byte) [][]byte {
	n := 0
	for _, p := range ps {
		n += len(p)
	}
	all := make([]byte, 0, n)
	out := make([][]byte, len(ps))
	for i, p := range ps {
		all = append(all, p...)
		out[i] = all[len(all)-len(p) : len(all) : len(all)]
	}
	return out
}

// Shutdown ends every session with system-shutdown (§17.2), answers every
// held request, and refuses new sessions. Streams that are HalfClosers are
// closed in two phases first: their own side, then, once the other side
// has closed too or ShutdownGrace has passed, and what it sent meanwhile
// has gone to the clients, the sessions. It returns when no request is in
// progress and, when the Upstream has a Shutdown(context.Context) error
// method (xmppstream's upstreams do), once that has returned: the
// upstream's own goroutines are done. It returns ctx's error if ctx ends
// first. Call it before http.Server.Shutdown, which would otherwise wait
// for every held request's 'wait'. It is idempotent.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.shutting.Store(true)
	h.closeSend(ctx)
	for _, s := range h.reg.All() {
		s.End(SystemShutdown, nil)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for h.stats.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	if up, ok := h.up.(interface{ Shutdown(context.Context) error }); ok {
		return up.Shutdown(ctx)
	}
	return nil
}

// ended is called by a session when it ends.
func (h *Handler) ended(ss *session.Session, cond Condition) {
	s, ok := h.reg.Get(ss.SID())
	if !ok || s.Session != ss {
		return // not registered: cannot happen, sessions are registered at birth
	}
	h.reg.Remove(s)
	h.perAddr.remove(s.addr)
	h.stats.sessions.Add(-1)
	h.stats.ended(cond)
	sum := s.Summary()
	h.cfg.Logger.Info("bosh: session ended",
		"session", sidHash(s.SID()), "reason", reasonOf(cond), "duration", sum.Duration,
		"requests", sum.Requests, "payloads_in", sum.PayloadsIn, "payloads_out", sum.PayloadsOut)
}

// sidHash names a session in logs without its sid, which would let a
// reader of the logs take the session over: the first 12 hex digits of
// its SHA-256.
func sidHash(sid string) string {
	sum := sha256.Sum256([]byte(sid))
	return hex.EncodeToString(sum[:6])
}

func reasonOf(cond Condition) string {
	if cond == "" {
		return "terminate"
	}
	return string(cond)
}

// gapTimeout is the session's GapTimeout: none with StrictWindow.
func gapTimeout(cfg Config) time.Duration {
	if cfg.StrictWindow {
		return 0
	}
	return cfg.GapTimeout
}
