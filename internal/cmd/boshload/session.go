package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/faulttest"
)

// session is one BOSH session of the load, and with -relogin the sessions
// that follow it for the same account. login fills the second group alone
// (before the session starts, or while it is ended and none of its
// requests is in flight); afterwards every field below mu is guarded by
// it, and the session's requests run in goroutines of their own.
type session struct {
	l       *load
	idx     int // session number; the partner is idx^1
	acct    int // account number
	partner *session
	t       *transport // l.t, or over HTTP/2 the session's own (from l.h2)
	// life counts the session's ends and relogins: even while a
	// session is live (0 for the first, 2 after the first relogin, …),
	// odd from the moment the server ended one until the next is live.
	life atomic.Int32
	// at is the owner node of the session while it is live (node), for
	// the partner to read without the session's lock.
	at atomic.Pointer[string]

	// Set by login, then read-only until a relogin. jid is written under
	// mu, since the partner reads it (prepareMessages).
	sid      string
	jid      string
	requests int        // the server's 'requests' (XEP-0124 §7.2)
	pending  []*element // login only: received elements not yet taken
	rep      reply      // login, then guarded by mu

	mu       sync.Mutex
	node     string             // the owner node of the session, its sid's prefix (bosh.SIDPrefixOf)
	ctx      context.Context    // the session's requests; canceled when it ends
	cancel   context.CancelFunc // cancels ctx
	live     bool               // the steady state began
	talking  bool               // the message phase began for the session
	wire     []lives            // by seq: lives of the session and its partner when the message went on the wire
	rid      uint64             // next rid to send
	next     uint64             // next rid to process: responses are handled in rid order
	inflight int                // requests sent whose response has not arrived
	arrived  []arrival          // responses that arrived before an earlier one
	head     []byte             // start of a message to the partner
	outq     []stamp            // messages waiting for a request
	sent     int                // messages queued so far
	ending   bool               // the run is over: terminate, send nothing else
	termRID  uint64             // rid of the terminate request, 0 before it is sent
	ended    bool               // the terminate was answered, the session failed, or the server ended it (until a relogin)
	err      error              // why the session failed, nil if it did not
	timer    *time.Timer        // paced mode
	due      time.Duration      // paced mode: when the next message is due, since the start
	recv     receiveStats       // what arrived from the partner
}

// lives are a session's and its partner's life counters (session.life)
// and owner nodes when one of its messages went on the wire.
type lives struct {
	own, partner int32
	from, to     *string
}

// arrival is a response that has arrived, waiting for its turn.
type arrival struct {
	rid  uint64
	resp *buffer
	err  error
}

// start begins the steady state after login: one request held at all times.
func (s *session) start() {
	s.mu.Lock()
	s.startLocked()
	s.mu.Unlock()
}

// startLocked begins the steady state of a session that has just logged in.
func (s *session) startLocked() {
	s.live = true
	s.node, _ = bosh.SIDPrefixOf(s.sid)
	node := s.node
	s.at.Store(&node)
	s.l.loggedIn(s.node)
	s.ctx, s.cancel = context.WithCancel(s.l.ctx)
	s.next = s.rid
	s.pumpLocked()
}

// pumpLocked sends what the state asks for (XEP-0124 §8, §11): queued
// messages in one request while fewer than 'requests' are in flight, an
// empty request when none is (so that one is always held), and once
// ending, a terminate request, even beyond 'requests' (§13).
func (s *session) pumpLocked() {
	switch {
	case s.ended:
	case s.ending:
		if s.termRID == 0 {
			s.termRID = s.rid
			b := getBuf()
			b.b = appendOpen(b.b, s.rid, s.sid, " type='terminate'")
			b.b = append(b.b, "<presence type='unavailable' xmlns='jabber:client'/>"...)
			b.b = append(b.b, closeBody...)
			s.launchLocked(b, false)
		}
	case len(s.outq) > 0 && s.inflight < s.requests:
		b := getBuf()
		b.b = appendOpen(b.b, s.rid, s.sid, "")
		lv := lives{own: s.life.Load(), partner: s.partner.life.Load(), from: s.at.Load(), to: s.partner.at.Load()}
		for _, m := range s.outq {
			b.b = appendMessage(b.b, s.head, m.from, m.seq, m.nanos)
			s.wire[m.seq] = lv
		}
		s.outq = s.outq[:0]
		b.b = append(b.b, closeBody...)
		s.launchLocked(b, true)
	case s.inflight == 0:
		b := getBuf()
		b.b = append(appendOpen(b.b, s.rid, s.sid, ""), closeBody...)
		s.launchLocked(b, true)
	}
}

// launchLocked sends body with the next rid in a goroutine of its own;
// with -cut, its connection may be cut when cut is set.
func (s *session) launchLocked(body *buffer, cut bool) {
	rid := s.rid
	s.rid++
	s.inflight++
	s.l.wg.Add(1)
	go s.do(s.ctx, rid, body, cut)
}

// maxAttempts bounds the attempts at one request: the first and the
// resends after network errors. -cut cuts one request at most five times
// in a row, so every cut request gets through within it.
const maxAttempts = 8

// maxBusy bounds the resends of one request answered with HTTP 502, 503
// or 504: at a Retry-After of 1 s, about a minute, a session's usual
// inactivity (XEP-0124 §7.1).
const maxBusy = 60

// post sends body and, after a network error, sends the identical bytes
// (the same rid) again on another connection, as XEP-0124 §14.3 allows:
// the connection manager answers a rid it has answered from its buffer,
// and one it has not yet answered as a new request. A resend may fail
// again; after maxAttempts attempts the error is returned. With cut set,
// -cut may cut each attempt. A request answered with HTTP 503 (a node of
// a cluster that cannot reach the session's owner for now, a server
// over its limits) or 502 or 504 (a proxy that lost the request) is sent
// again as it is after its Retry-After (1 s without one), up to maxBusy
// times.
func (s *session) post(ctx context.Context, body []byte, cut bool) (*buffer, error) {
	for attempt, busy := 1, 0; ; attempt++ {
		resp, err := s.t.post(ctx, body, cut)
		var ne *netError
		var he *httpError
		if errors.As(err, &he) && busy < maxBusy && ctx.Err() == nil &&
			(he.status == http.StatusServiceUnavailable || he.status == http.StatusBadGateway || he.status == http.StatusGatewayTimeout) {
			busy++
			attempt--
			s.l.resentBusy.Add(1)
			wait := he.retryAfter
			if wait <= 0 {
				wait = time.Second
			}
			if !sleepUntil(ctx, time.Now().Add(min(wait, maxRetryAfter))) {
				return nil, err
			}
			continue
		}
		if err == nil || !errors.As(err, &ne) || ctx.Err() != nil {
			return resp, err
		}
		if attempt == maxAttempts {
			s.l.gaveUp.Add(1)
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // without the URL, as failures are counted by kind
			}
			return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		s.l.resent.Add(1)
		if !errors.Is(err, faulttest.ErrCut) {
			// A failure of the network or the server, not a cut:
			// a short pause, growing, before the resend.
			s.l.resentAfter.Add(1)
			if !sleepUntil(ctx, time.Now().Add(time.Duration(attempt)*50*time.Millisecond)) {
				return nil, err
			}
		}
	}
}

// do posts one request in ctx, its session's, and hands its response over
// in rid order.
func (s *session) do(ctx context.Context, rid uint64, body *buffer, cut bool) {
	defer s.l.wg.Done()
	resp, err := s.post(ctx, body.b, cut)
	putBuf(body)
	now := s.l.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	s.arrived = append(s.arrived, arrival{rid: rid, resp: resp, err: err})
	for {
		i := slices.IndexFunc(s.arrived, func(a arrival) bool { return a.rid == s.next })
		if i < 0 {
			break
		}
		a := s.arrived[i]
		s.arrived = slices.Delete(s.arrived, i, i+1)
		s.next++
		s.handleLocked(a, now)
		putBuf(a.resp)
	}
	s.pumpLocked()
}

// handleLocked processes one response in its rid order.
func (s *session) handleLocked(a arrival, now int64) {
	if s.ended {
		return
	}
	err := a.err
	if err == nil {
		err = s.rep.parse(a.resp.b)
	}
	if a.rid == s.termRID && s.termRID != 0 {
		s.endLocked(nil)
		return
	}
	if err != nil {
		if s.ending {
			err = nil // the held request, answered or cut because of the terminate
		}
		s.endLocked(err)
		return
	}
	for i, c := range s.rep.doc.Children {
		if string(c.Local) == "message" {
			s.receiveLocked(s.rep.child(i), now, a.resp.fwd)
		}
	}
}

// endLocked marks the session over, failed when err is not nil; a
// terminate body or an HTTP error status is counted as the server's end
// of the session. With -relogin, a session the server ended with a
// terminate body (XEP-0124 §17.2) logs in again, unless the run is
// ending.
func (s *session) endLocked(err error) {
	s.ended = true
	s.cancel()
	s.stopTimerLocked()
	if err == nil || s.err != nil {
		s.l.ended()
		return
	}
	var term *terminated
	var he *httpError
	switch {
	case errors.As(err, &term):
		s.l.endedByServer(s.node, term.condition)
	case errors.As(err, &he):
		s.l.endedByServer(s.node, he.Error())
	}
	s.life.Add(1) // gone
	if term != nil && s.l.o.relogin && !s.ending {
		s.l.relogin(term.condition)
		s.l.wg.Add(1)
		go s.relogin()
		return
	}
	s.err = err
	s.l.fail("session", err)
	s.l.ended()
}

// relogin logs the session's account in again once the ended session's
// requests have returned (endLocked canceled them), and carries on: the
// message sequence goes on where it was, so that the partner finds every
// message lost with the old session (XEP-0124 §17.2: the client may log
// in again after a terminal condition).
func (s *session) relogin() {
	defer s.l.wg.Done()
	for {
		s.mu.Lock()
		n := s.inflight
		s.mu.Unlock()
		if n == 0 || !sleepUntil(s.l.ctx, time.Now().Add(10*time.Millisecond)) {
			break
		}
	}
	s.mu.Lock()
	s.sid, s.jid, s.pending = "", "", nil
	s.mu.Unlock()
	err := s.login(s.l.ctx)
	s.mu.Lock()
	if err != nil {
		s.err = err
		s.l.fail("relogin", err)
		s.l.ended()
		s.mu.Unlock()
		return
	}
	s.life.Add(1) // live again
	s.ended, s.arrived = false, s.arrived[:0]
	s.startLocked()
	s.resumeLocked()
	jid := s.jid
	s.mu.Unlock()
	s.partner.setHead(jid) // the server may have bound another resource
}

// resumeLocked restarts the message phase of a session that logged in
// again during it: in closed mode its window of messages (those lost
// with the old session would otherwise stall the pair), in paced mode its
// timer.
func (s *session) resumeLocked() {
	o := s.l.o
	if !s.talking || s.ending || s.sent >= o.messages {
		return
	}
	if o.mode == modeClosed {
		now := s.l.now()
		for range min(o.window, o.messages-s.sent) {
			s.queueLocked(now)
		}
		s.pumpLocked()
		return
	}
	s.due = time.Duration(s.l.now()) + o.interval
	s.l.wg.Add(1)
	s.timer = time.AfterFunc(o.interval, s.tick)
}

// receiveLocked accounts for one message element. A message of type
// 'error' is the server returning one of the session's own messages
// (RFC 6120 §8.3): counted as bounced, never as delivered.
func (s *session) receiveLocked(el []byte, now int64, fwd bool) {
	if tag := startTag(el); bytes.Contains(tag, []byte(" type='error'")) || bytes.Contains(tag, []byte(` type="error"`)) {
		s.recv.bounced++
		return
	}
	st, ok := parseStamp(el)
	switch {
	case ok && st.from == s.idx:
		// One of the session's own messages, handed back as if it
		// had arrived (a server answering a request with its own
		// payloads).
		s.recv.echoed++
		return
	case !ok || st.from != s.partner.idx:
		s.recv.foreign++
		return
	}
	switch s.recv.add(st.seq, now-st.nanos, fwd) {
	case addNew:
		s.l.delivered(now)
		if s.l.o.mode == modeClosed && s.sent < s.l.o.messages && !s.ending {
			s.queueLocked(now)
		}
	case addInvalid:
		s.recv.foreign++
	}
}

// queueLocked queues the session's next message, stamped now.
func (s *session) queueLocked(now int64) {
	s.outq = append(s.outq, stamp{from: s.idx, seq: s.sent, nanos: now})
	s.sent++
}

// prepareMessages makes the start of the messages to the partner.
func (s *session) prepareMessages() {
	s.partner.mu.Lock()
	jid := s.partner.jid
	s.partner.mu.Unlock()
	s.mu.Lock()
	s.head = messageHead(jid)
	s.mu.Unlock()
}

// setHead makes the start of the messages to the partner again, once the
// message phase began, after the partner logged in as jid.
func (s *session) setHead(jid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head != nil {
		s.head = messageHead(jid)
	}
}

// startMessages begins the message phase: in closed mode, the first
// -window messages; in paced mode, a timer that first fires at phase
// (since the start) and then every -interval.
func (s *session) startMessages(phase time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.ending {
		return
	}
	o := s.l.o
	s.talking = true
	if o.mode == modeClosed {
		now := s.l.now()
		for s.sent < min(o.window, o.messages) {
			s.queueLocked(now)
		}
		s.pumpLocked()
		return
	}
	if o.messages == 0 {
		return
	}
	s.due = phase
	s.l.wg.Add(1)
	s.timer = time.AfterFunc(phase-time.Duration(s.l.now()), s.tick)
}

// tick sends one paced message and arms the timer for the next.
func (s *session) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer == nil {
		return // stopped while firing; stopTimerLocked has accounted for it
	}
	if !s.ended && !s.ending {
		s.queueLocked(s.l.now())
		s.pumpLocked()
	}
	if s.ended || s.ending || s.sent >= s.l.o.messages {
		s.timer = nil
		s.l.wg.Done()
		return
	}
	s.due += s.l.o.interval
	s.timer.Reset(s.due - time.Duration(s.l.now()))
}

// stopTimerLocked stops the paced timer, if armed.
func (s *session) stopTimerLocked() {
	if s.timer == nil {
		return
	}
	s.timer.Stop()
	s.timer = nil
	s.l.wg.Done()
}

// terminate ends the session with a terminate request (XEP-0124 §13).
func (s *session) terminate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopTimerLocked()
	s.ending = true
	s.outq = s.outq[:0]
	s.pumpLocked()
}

// started reports whether the session logged in and began its steady state.
func (s *session) started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// finished reports whether the session sent and received every message.
func (s *session) finished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err == nil && s.sent == s.l.o.messages && s.recv.count == s.l.o.messages
}
