package bosh

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/httpbind/httpbind/internal/ids"
	"github.com/httpbind/httpbind/session"
)

// Version is the XEP-0124 version the handler implements.
const Version = "1.11"

const contentDefault = "text/xml; charset=utf-8" // §7.1

// infoFor returns the response settings for a request whose session is not
// known yet: a creation request's 'content' and legacy status (§7.1,
// §17.1), or those of the session named by 'sid'. It returns nil (HTTP 200,
// the default Content-Type) when b is not a BOSH <body/> at all: nothing
// then says whether the client is a legacy one.
func (h *Handler) infoFor(b *body) *info {
	if b.doc == nil {
		return nil
	}
	if len(b.sid) > 0 {
		if s, ok := h.reg.Get(string(b.sid)); ok {
			return &s.info
		}
		return nil
	}
	inf := &info{legacy: len(b.ver) == 0, content: contentDefault}
	if c, err := checkContent(b.content); err == nil && c != "" {
		inf.content = c
	}
	return inf
}

// checkContent validates a 'content' attribute as a media type (§7.1).
func checkContent(v []byte) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	s := string(v)
	// mime.ParseMediaType also accepts a bare token such as "html" (a
	// Content-Disposition); a media type has a slash.
	if mt, _, err := mime.ParseMediaType(s); err != nil || !strings.Contains(mt, "/") || strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("bosh: content %q is not a media type", s)
	}
	return s, nil
}

// negotiate computes the session's parameters from the creation request
// (§7.1, §7.2, §12).
func (h *Handler) negotiate(b *body) (session.Params, string, error) {
	c := &h.cfg
	ver, err := negotiateVersion(b.ver)
	if err != nil {
		return session.Params{}, "", err
	}
	p := session.Params{
		Wait:        c.MaxWait,
		Hold:        1,
		Inactivity:  c.Inactivity,
		ReportAfter: c.ReportAfter,
		MultiStream: c.MultipleStreams,
		MaxQueue:    c.MaxQueue,
		ClientAcks:  b.ack == 1,
	}
	if b.wait >= 0 {
		p.Wait = min(time.Duration(b.wait)*time.Second, c.MaxWait)
	}
	if b.hold >= 0 {
		p.Hold = int(min(b.hold, int64(c.MaxHold)))
	}
	if p.Wait == 0 {
		p.Hold = 0 // §12: a polling session holds nothing
	}
	p.Requests = p.Hold + 1 // §7.2 RECOMMENDED
	if !c.NoPolling {
		p.Polling = c.Polling
	}
	if p.Polls() {
		// §12: longer for polling sessions; §22: still an unsignedShort.
		p.Inactivity = min(p.Inactivity+2*p.Polling, maxUnsignedShort)
	}
	if !c.NoPause {
		p.MaxPause = c.MaxPause
	}
	return p, ver, nil
}

// negotiateVersion returns the lower of the client's 'ver' and ours,
// comparing major and minor numbers as integers (§7.2).
func negotiateVersion(v []byte) (string, error) {
	if len(v) == 0 {
		return Version, nil
	}
	maj, minor, ok := strings.Cut(string(v), ".")
	a, err1 := strconv.ParseUint(maj, 10, 16)
	b, err2 := strconv.ParseUint(minor, 10, 16)
	if !ok || err1 != nil || err2 != nil {
		return "", newError(BadRequest, fmt.Errorf("bosh: ver %q is not major.minor", v))
	}
	if a < 1 || (a == 1 && b < 11) {
		return strconv.FormatUint(a, 10) + "." + strconv.FormatUint(b, 10), nil
	}
	return Version, nil
}

// create handles a session creation request (§7.1) and writes the session
// creation response (§7.2).
func (h *Handler) create(w http.ResponseWriter, r *http.Request, b *body) {
	began := h.cfg.clock.Now()
	inf := h.infoFor(b)
	inf.secure = h.Secure(r)
	fail := func(err error) { h.fail(w, r, inf, err) }
	if h.shutting.Load() {
		fail(SystemShutdown)
		return
	}
	if h.draining.Load() {
		fail(&OverloadError{RetryAfter: retryDraining, Err: ErrDraining})
		return
	}
	if _, err := checkContent(b.content); err != nil {
		fail(newError(BadRequest, err))
		return
	}
	if len(b.to) == 0 {
		fail(newError(ImproperAddressing, errors.New("bosh: no 'to'"))) // §7.1
		return
	}
	route, err := h.route(b.route)
	if err != nil {
		fail(err)
		return
	}
	p, ver, err := h.negotiate(b)
	if err != nil {
		fail(err)
		return
	}
	if err := h.rate.take(h.cfg.clock.Now()); err != nil {
		fail(err)
		return
	}
	remote, ip := h.clientAddr(r)
	if n := h.stats.sessions.Add(1); n > int64(h.cfg.MaxSessions) {
		h.stats.sessions.Add(-1)
		fail(&OverloadError{RetryAfter: retryFull, Err: errFull})
		return
	}
	if inf.addr = addrKey(ip); !h.perAddr.add(inf.addr) {
		h.stats.sessions.Add(-1)
		fail(&OverloadError{RetryAfter: retryFull, Err: errPerAddress})
		return
	}
	s := h.newSession(b.rid, p, string(b.newkey), inf)
	name := ""
	if p.MultiStream {
		name = ids.New()
	}
	open := &OpenRequest{
		To: string(b.to), From: string(b.from), Lang: string(b.lang), Version: ver,
		Route: route, Attrs: b.attrs(), Stream: name, SID: s.SID(),
		RemoteAddr: remote, Secure: inf.secure,
	}
	if len(b.payloads) > 0 {
		open.Payloads = copyPayloads(b.payloads)
	}
	st, err := h.up.Open(r.Context(), open, &sink{s: s.Session, name: name})
	if err != nil {
		s.End(ConditionOf(err), nil)
		h.cfg.Logger.Debug("bosh: upstream refused session", "err", err)
		fail(err)
		return
	}
	reply := s.Start(name, st, h.creationAttrs(s.Session, ver))
	status := http.StatusOK
	if reply.Terminal() && inf.legacy {
		status = LegacyStatus(reply.Condition)
	}
	h.write(w, r.Header.Get("Accept-Encoding"), inf.content, status, reply.Body)
	h.stats.created.Add(1)
	h.stats.creation.Observe(h.cfg.clock.Now().Sub(began))
}

// newSession registers a session under a fresh sid (§7.2: unique and
// unpredictable), after Config.SIDPrefix and its dot.
func (h *Handler) newSession(rid uint64, p session.Params, key string, inf *info) *bsession {
	for {
		s := &bsession{info: *inf}
		open := func(ctx context.Context, r *session.Request, name string) (session.Stream, error) {
			return h.openStream(ctx, s.Session, r, name)
		}
		s.Session = session.New(h.sidPrefix+ids.New(), rid, p, key, open, h.scfg)
		if h.reg.Add(s) {
			return s
		}
	}
}

// creationAttrs are the attributes of the session creation response (§7.2).
func (h *Handler) creationAttrs(s *session.Session, ver string) []Attr {
	p := s.Params()
	secs := func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
	a := []Attr{
		{Name: "sid", Value: s.SID()},
		{Name: "wait", Value: secs(p.Wait)},
		{Name: "requests", Value: strconv.Itoa(p.Requests)},
		{Name: "hold", Value: strconv.Itoa(p.Hold)},
		{Name: "inactivity", Value: secs(p.Inactivity)},
		{Name: "ver", Value: ver},
		{Name: "accept", Value: "gzip,deflate"},
	}
	if p.Polling > 0 {
		a = append(a, Attr{Name: "polling", Value: secs(p.Polling)})
	}
	if p.MaxPause > 0 {
		a = append(a, Attr{Name: "maxpause", Value: secs(p.MaxPause)})
	}
	if h.advert != "" {
		a = append(a, Attr{Name: "charsets", Value: h.advert})
	}
	return a
}

// route checks a 'route' attribute against Config.Routes (§7.1).
func (h *Handler) route(v []byte) (*Route, error) {
	if len(v) == 0 || len(h.routes) == 0 {
		return nil, nil
	}
	rt, err := parseRoute(string(v))
	if err != nil || !h.routes[*rt] {
		return nil, newError(HostUnknown, fmt.Errorf("bosh: route %q not allowed", v))
	}
	return rt, nil
}

// openStream opens a further stream of a multi-stream session (§16.3).
func (h *Handler) openStream(ctx context.Context, s *session.Session, r *session.Request, name string) (session.Stream, error) {
	open := &OpenRequest{Stream: name, Attrs: r.Attrs, Payloads: r.Payloads}
	open.To, _ = r.Attr("", "to")
	open.Lang, _ = r.Attr(nsXML, "lang")
	if open.To == "" {
		return nil, newError(ImproperAddressing, errors.New("bosh: no 'to' on add-stream"))
	}
	open.SID = s.SID()
	st, err := h.up.Open(ctx, open, &sink{s: s, name: name})
	if err != nil {
		return nil, err
	}
	return st, nil
}
