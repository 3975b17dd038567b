package xmppstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmlscan"
)

// stanzaLimits bound the parse of one payload. The bosh handler has
// already applied its own, stricter, limits to the whole body. Character
// data directly inside the root is allowed, as in <auth>base64</auth>;
// stanzas refuse it (Doc.RootText).
var stanzaLimits = xmlscan.Limits{MaxDepth: 1024, MaxAttrs: 1024}

// stream is the XMPP stream of one BOSH session (or of one stream of a
// multi-stream session). Its bosh.Stream methods are called as package
// bosh documents; its client is used by the Core from any goroutine.
type stream struct {
	// Set in newStream, then read-only.
	srv    *Server
	sink   bosh.Sink
	domain string // the prepared 'to' of the session
	secure bool   // the session came over TLS
	id     string // the stream id, sent as 'authid' (XEP-0206 §4)
	client *client

	// Owned by Send, which is never called concurrently for a stream.
	authed    bool      // SASL succeeded (RFC 6120 §6.4.6)
	restarted bool      // the stream was restarted after SASL (XEP-0206 §5)
	sessioned bool      // the RFC 3921 session is established
	nonSASL   bool      // authenticated by XEP-0078: stanzas wait for the session too
	user      JID       // the authenticated bare JID
	exch      *exchange // the SASL exchange in progress, or nil
	failures  int       // failed SASL attempts
	mech      string    // the offered mechanism of the last <auth/>, for Server.Stats
	iqFails   int       // failed XEP-0078 attempts
	// doc is the parser's storage, from xmlscan.GetDoc during Send only,
	// so that an idle session does not keep it.
	doc *xmlscan.Doc

	mu sync.Mutex
	// Guarded by mu.
	ended       bool     // the stream ended, or is ending: Send does nothing more
	bound       bool     // Core.Bind succeeded and Core.Unbind is still owed
	jid         JID      // what Client.JID returns
	busy        int      // Send and Client.Deliver calls in progress
	pending     bool     // Core.Unbind waits for the calls in progress to return
	undelivered [][]byte // what Closing gave, for that Core.Unbind
}

func newStream(srv *Server, sink bosh.Sink, domain string, secure bool, id string) *stream {
	s := &stream{srv: srv, sink: sink, domain: domain, secure: secure, id: id}
	s.client = &client{s: s}
	return s
}

// restartRequested reports whether a request is a stream restart: it
// carries {urn:xmpp:xbosh}restart, an xs:boolean, set to true (XEP-0206
// §5). The attribute is matched by namespace, never
// by prefix, and an un-namespaced 'restart' is not it.
func restartRequested(req *bosh.Request) bool {
	v, ok := req.Attr(bosh.NSXBOSH, "restart")
	v = strings.TrimSpace(v) // xs:boolean collapses white space
	return ok && (v == "true" || v == "1")
}

// Send handles one client request: a stream restart, or SASL, bind,
// session and stanzas in order (XEP-0206 §5). Every failure the client
// must see is sent through the sink; Send itself never returns an error.
func (s *stream) Send(ctx context.Context, req *bosh.Request) error {
	if !s.enter() {
		return nil
	}
	defer s.release(true)
	if restartRequested(req) {
		// stanzas in a restart request are ignored.
		if len(req.Payloads) > 0 {
			s.srv.log.Debug("xmppstream: ignoring payloads of a restart request", "count", len(req.Payloads))
		}
		s.restart()
		return nil
	}
	if len(req.Payloads) == 0 {
		return nil
	}
	s.doc = xmlscan.GetDoc()
	defer func() { xmlscan.PutDoc(s.doc); s.doc = nil }()
	for _, p := range req.Payloads {
		if !s.handle(ctx, p) || s.isEnded() {
			break
		}
	}
	return nil
}

// restart answers a stream restart (XEP-0206 §5): it drops any SASL
// exchange in progress and sends the features of the new stream with the
// stream prefix declared on the body.
//
// A restart request before SASL success is no restart (RFC 6120 §4.3.1):
// it drops the exchange all the same, and is answered as an empty
// request: no features, which the client got
// with the session creation response (TCPUpstream's streams do the same).
// node-xmpp-client sends one right after that response, and its SASL
// <auth/> on a second connection; given the features again, it took them
// in whichever order the two answers came back, and when they came after
// SASL success it went online without binding a resource, and its next
// stanza ended the stream (not-authorized).
func (s *stream) restart() {
	s.exch = nil
	if !s.authed {
		s.srv.log.Debug("xmppstream: restart before SASL success answered with nothing", "domain", s.domain)
		return
	}
	if s.authed {
		s.restarted = true
	}
	s.sink.SetAttrs(streamPrefix)
	s.sink.Deliver(s.features())
}

// handle processes one top-level element from the client, parsed here
// once into s.doc for everything that follows. It reports false when the
// stream has ended.
func (s *stream) handle(ctx context.Context, raw []byte) bool {
	if err := xmlscan.Parse(raw, stanzaLimits, s.doc); err != nil {
		// Package bosh has checked the body; be defensive anyway.
		s.fail(ctx, "not-well-formed", fmt.Errorf("xmppstream: payload is not well-formed: %w", err))
		return false
	}
	space, local := string(s.doc.Space), string(s.doc.Local)
	switch {
	case space == nsSASL:
		return s.sasl(ctx, raw, local)
	case space == nsStream && local == "error":
		// Clients do not send stream errors over BOSH (XEP-0206 §6); the
		// session's end arrives as a terminate request.
		s.srv.log.Debug("xmppstream: ignoring a stream error from the client")
		return true
	case isStanzaName(local) && stanzaSpace(space):
		if s.doc.RootText {
			s.fail(ctx, "invalid-xml", errors.New("xmppstream: character data directly inside a stanza"))
			return false
		}
		return s.stanza(ctx, raw)
	}
	s.fail(ctx, "unsupported-stanza-type", errors.New("xmppstream: unsupported element {"+space+"}"+local))
	return false
}

// isStanzaName reports whether local names an XML stanza (RFC 6120 §8).
func isStanzaName(local string) bool {
	return local == "message" || local == "presence" || local == "iq"
}

// stanzaSpace reports whether a stanza's namespace is acceptable: none,
// httpbind's inherited from the <body/>, or jabber:client (XEP-0206 §2
// note).
func stanzaSpace(space string) bool {
	return space == "" || space == bosh.NS || space == nsClient
}

// ready reports whether stanzas may flow: SASL, restart, bind and, when
// required, session are done (XEP-0206 §5, RFC 6120 §7.1, RFC 3921 §3).
// After non-SASL authentication (XEP-0078), which establishes the session
// itself, the session is always required.
func (s *stream) ready() bool {
	return s.authed && s.restarted && s.isBound() && (s.sessioned || (!s.srv.requireSession && !s.nonSASL))
}

// fail ends the stream with a stream error (RFC 6120 §4.9), which the
// client sees as remote-stream-error (XEP-0206 §6). It is
// called from Send, whose end unbinds a bound client: no Close follows an
// End.
func (s *stream) fail(ctx context.Context, cond string, cause error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.endLocked(nil) // busy: the unbinding is left to release
	s.mu.Unlock()
	s.srv.log.Debug("xmppstream: stream error", "condition", cond, "domain", s.domain, "err", cause)
	s.sink.SetAttrs(streamPrefix)
	s.sink.End(streamErrorBody(cond, cause))
}

// Close ends the stream when the session ends (bosh.Stream): a bound
// client is unbound with the payloads that never reached it.
func (s *stream) Close(c bosh.Closing) {
	s.mu.Lock()
	now := s.endLocked(c.Undelivered)
	s.mu.Unlock()
	if now {
		s.srv.core.Unbind(s.client, c.Undelivered)
	}
}

// endLocked marks the stream ended. Core.Unbind is called exactly once for
// every client that Core.Bind accepted, whatever ends its stream, and
// never while another call for the client is in progress: endLocked
// reports whether the caller is to call it now, or leaves it to release.
func (s *stream) endLocked(undelivered [][]byte) (unbindNow bool) {
	s.ended = true
	s.srv.live.remove(s)
	if s.busy > 0 {
		s.pending, s.undelivered = true, undelivered
		return false
	}
	now := s.bound
	s.bound = false
	return now
}

// enter starts a Send; it reports false when the stream has ended.
func (s *stream) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.busy++
	return true
}

// release ends a Send (inSend) or a Client.Deliver, and makes the
// Core.Unbind left for it. Inside Client.Deliver the Core must not be
// called back (it may hold its own locks), so the Unbind then runs on a
// goroutine of its own, which ends with it.
func (s *stream) release(inSend bool) {
	s.mu.Lock()
	s.busy--
	run := s.busy == 0 && s.pending && s.bound
	var undelivered [][]byte
	if s.busy == 0 && s.pending {
		undelivered = s.undelivered
		s.pending, s.undelivered, s.bound = false, nil, false
	}
	s.mu.Unlock()
	switch {
	case !run:
	case inSend:
		s.srv.core.Unbind(s.client, undelivered)
	default:
		s.srv.unbindLater(s.client, undelivered)
	}
}

// bindDone records a successful Core.Bind. It reports false when the
// stream ended meanwhile (kicked or closed); the client is then unbound
// at the end of Send.
func (s *stream) bindDone(full JID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bound, s.jid = true, full
	if s.ended {
		s.pending = true
		return false
	}
	return true
}

func (s *stream) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

func (s *stream) isBound() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound
}

// client is the Client the Core sees for a stream. Its methods are safe
// for concurrent use and never call the Core.
type client struct {
	s *stream
}

// JID returns the client's full JID once bound; the bare JID while
// Core.Bind runs; the zero JID before authentication.
func (c *client) JID() JID {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.jid
}

// Deliver queues a stanza for the client (Client).
func (c *client) Deliver(stanza []byte) bool {
	s := c.s
	s.mu.Lock()
	s.busy++
	s.mu.Unlock()
	defer s.release(false)
	return s.sink.Deliver(stanza)
}

// Kick ends the client's stream with a stream error (RFC 6120 §4.9.3),
// remote-stream-error to the client (XEP-0206 §6). The client is then
// unbound like any other that goes (Core.Unbind), but never from inside
// Kick: from a goroutine of its own, or at the end of the Send in
// progress, so that a core may kick while holding its own locks.
func (c *client) Kick(condition StreamCondition) {
	s := c.s
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	now := s.endLocked(nil)
	s.mu.Unlock()
	s.srv.log.Debug("xmppstream: client kicked", "condition", condition)
	s.sink.SetAttrs(streamPrefix)
	s.sink.End(streamErrorBody(string(condition), errors.New("xmppstream: kicked by the core")))
	if now {
		s.srv.unbindLater(s.client, nil)
	}
}
