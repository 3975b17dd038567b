package session

import (
	"context"
	"sync"
	"time"

	"github.com/httpbind/httpbind/internal/clock"
)

// maxAttached bounds the connections that wait at once for one rid: the
// request and its live retransmissions (§14.3). A client resends a request
// only after it gave up the earlier connection, so two is the most a
// well-behaved client has at once; past the bound the session ends with
// policy-violation (§14.3: a CM MAY limit repeats of one rid).
const maxAttached = 5

// maxUnacked bounds the replies kept for retransmission (cacheLocked):
// when the client acknowledges responses, §14.3 asks for every reply it
// has not acknowledged. A client may go on with its other request while it
// resends one whose response was lost or late, acknowledging nothing newer
// meanwhile, so the bound is generous (with 32, a client chatting fast lost
// its session to item-not-found; internal/faulttest). It only stops a
// client that never acknowledges from growing the buffer without end; the
// replies hold nothing but what was sent to that client.
const maxUnacked = 1024

// Session is one BOSH session. Its methods are safe for concurrent use.
type Session struct {
	// Set in New, then read-only.
	sid   string
	p     Params
	cfg   Config
	clk   clock.Clock
	open  Opener
	start uint64 // the creation request's rid

	send sync.Mutex // serialises forwarding, so payloads go upstream in rid order

	mu sync.Mutex // guards everything below
	// rid window (§14.2)
	last       uint64             // highest rid taken into processing; all lower rids were too
	pending    map[uint64]*waiter // requests above a gap, by rid
	forwarding *waiter            // the request being forwarded upstream, if any (set by drain)
	skipped    uint64             // rids given up since the last request taken (GapTimeout); the key chain skips them too
	givenUp    []uint64           // given-up rids that have not arrived, oldest first, at most maxGivenUp (gap.go)
	held       []*waiter          // processed requests awaiting a reply, in rid order
	// replies kept for retransmission, in rid order (§14.3)
	cache     []keptReply
	answered  uint64 // highest rid answered
	clientAck uint64 // highest rid the client acknowledged (§9.2)
	// outbound
	queue []item // payloads for the client, oldest first
	attrs []Attr // attributes for the next reply that carries data
	// streams (§16); streams[0] is the first stream
	streams []stream
	closed  []string // streams the client closed, whose payloads are ignored (§16.4)
	// timing
	timer        clock.Timer
	lastReply    time.Time     // when the last response was made (§10)
	lastArrival  time.Time     // when the last new request was processed (§11)
	lastWasEmpty bool          // the last new request had no payloads (§12)
	lastGaveData bool          // the last reply carried payloads (§12)
	pause        time.Duration // inactivity in force after a pause (§10)
	key          string        // expected hex SHA-1 of the next key (§15); empty without keys
	// figures (Summary)
	created, endedAt time.Time
	nRequests        int
	nIn, nOut        int
	// ending
	final    *Reply // terminal reply waiting for a request to carry it
	ended    bool
	cond     Condition // the wire condition that ended the session
	unsent   [][]byte  // payloads undelivered when the session ended with no stream to hand them to
	finished bool      // Config.Ended was called
}

type stream struct {
	name string
	st   Stream
}

// item is one entry of the outbound queue: a payload, or the end of a stream
// in a multi-stream session (§16.6).
type item struct {
	at       int64 // when the upstream delivered it, Unix ns
	stream   string
	payload  []byte
	attrs    []Attr
	end      bool
	cond     Condition
	children [][]byte
}

// waiter is one rid's request inside the session, from its arrival to its
// reply. It is in exactly one state at a time: buffered above a gap
// (pending), being forwarded (forwarding), held, or answered (reply set,
// and kept in cache for a retransmission). A retransmission of its rid
// while it is not yet answered attaches to it (§14.3): every connection
// waiting on the waiter gets the same reply.
type waiter struct {
	req      *Request
	done     chan struct{} // closed when reply is set
	reply    *Reply
	arrived  time.Time
	deadline time.Time // when a held request is answered at the latest
	// live counts the connections waiting for this reply whose client has
	// not gone away: the first request and its attached retransmissions.
	// At zero the waiter is gone and never takes payloads.
	live int
	// ready, when set, is called once reply is set (Pending.Park).
	ready func()
}

// newWaiter returns the waiter of a request that has just arrived.
func (s *Session) newWaiter(r *Request) *waiter {
	return &waiter{req: r, done: make(chan struct{}), arrived: s.clk.Now(), live: 1}
}

// gone reports whether every client connection waiting for w went away.
func (w *waiter) gone() bool { return w.live == 0 }

// New returns a session created by a request with the given rid, expecting
// the key sequence to continue from key (§15.2: the creation request's
// 'newkey'; empty without keys). The caller adds the first stream with
// Start.
func New(sid string, rid uint64, p Params, key string, open Opener, cfg Config) *Session {
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Real
	}
	now := clk.Now()
	return &Session{
		sid: sid, p: p, cfg: cfg, clk: clk, open: open, start: rid,
		last: rid, answered: rid, clientAck: rid,
		pending:   make(map[uint64]*waiter),
		lastReply: now, lastArrival: now, created: now,
		key: lowerHex(key),
	}
}

// SID returns the session id.
func (s *Session) SID() string { return s.sid }

// Params returns the negotiated parameters.
func (s *Session) Params() Params { return s.p }

// Start attaches the first stream (named name in a multi-stream session)
// and returns the session creation response: the creation attributes given,
// followed by what the upstream queued while it opened, with ack set to the
// creation rid (§9.1). If the upstream already ended the session, Start
// returns its terminal reply instead.
func (s *Session) Start(name string, st Stream, creation []Attr) *Reply {
	s.mu.Lock()
	if s.ended && s.final == nil {
		// The session ended while the upstream opened (for example its
		// queue overflowed): close the stream it opened, handing back what
		// was queued.
		r := s.terminalLocked(s.start, s.cond, nil)
		c := Closing{Err: closingErr(s.cond), Undelivered: s.unsent}
		s.unsent = nil
		s.mu.Unlock()
		st.Close(c)
		return r
	}
	s.streams = append(s.streams, stream{name: name, st: st})
	if s.final != nil {
		r := s.takeFinalLocked(s.start)
		s.mu.Unlock()
		s.finish(r.Condition)
		return r
	}
	r := &Reply{RID: s.start, Ack: s.start, Stream: name} // §16.2: the first stream's name
	r.Attrs = append(r.Attrs, creation...)
	s.fillLocked(r, "")
	s.finishReplyLocked(r, nil, false)
	s.rearmLocked()
	s.mu.Unlock()
	return r
}

// Handle processes one request and returns its reply once there is one. It
// returns nil when ctx ends first (the client went away); the request then
// keeps its place, is never given payloads, and its empty reply is kept for
// a retransmission.
//
// A retransmission of a rid (§14.3) is answered by the state its request
// is in: buffered, being forwarded or held, the retransmission waits for
// the same reply as the request (and revives it if its client had gone);
// answered, it gets the cached reply; no longer cached, item-not-found if
// its client is still connected (see notBuffered).
func (s *Session) Handle(ctx context.Context, r *Request) *Reply {
	p, reply := s.Submit(ctx, r)
	if p.Held() {
		return p.Wait(ctx)
	}
	return reply
}

// Submit is Handle without the wait: it processes r and returns its reply
// when r is answered at once, or else a Pending for the reply, which the
// caller waits for (Pending.Wait) or parks (Pending.Park). ctx is the
// client's connection, as for Handle, until Submit returns; a parked
// request learns that its client went away through Pending.Abandon.
func (s *Session) Submit(ctx context.Context, r *Request) (Pending, *Reply) {
	w, reply, fin := s.admit(ctx, r)
	if fin != nil {
		fin()
	}
	switch reply {
	case notBuffered:
		return Pending{}, s.notBuffered(ctx, r.RID)
	case late:
		return Pending{}, s.late(ctx, r)
	}
	if w == nil {
		return Pending{}, reply // nil: a retransmission whose client is already gone
	}
	own := w.req == r
	if own {
		s.drain(ctx) // a new request; a retransmission has nothing to drain
	}
	return Pending{s: s, w: w, own: own}, nil
}

// A Pending is a request that Submit did not answer at once: it is
// buffered, being forwarded or held (§8). The zero Pending is none.
type Pending struct {
	s   *Session
	w   *waiter
	own bool // the request that placed w, not a retransmission attached to it
}

// Held reports whether p stands for a request waiting for its reply.
func (p Pending) Held() bool { return p.w != nil }

// Wait returns the reply once there is one, or nil when ctx ends first
// (the client went away; see Handle).
func (p Pending) Wait(ctx context.Context) *Reply {
	select {
	case <-p.w.done:
		return p.w.reply
	case <-ctx.Done():
		p.s.mu.Lock()
		defer p.s.mu.Unlock()
		if p.w.reply != nil {
			return p.w.reply
		}
		p.w.live--
		return nil
	}
}

// CanPark reports whether Park may be used: for the request that Submit
// placed, not for a retransmission waiting for the same reply (§14.3),
// which uses Wait.
func (p Pending) CanPark() bool { return p.own }

// Park arranges for ready to be called once the reply is there, instead of
// a goroutine waiting for it: ready runs with the session locked, so it
// must only hand the work on (start a goroutine, say) and never block;
// the reply is then Reply's. Park returns false, and ready is never
// called, when the reply is already there; the caller then uses Reply.
// It panics unless CanPark.
func (p Pending) Park(ready func()) bool {
	if !p.own {
		panic("session: Park of a retransmission")
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if p.w.reply != nil {
		return false
	}
	p.w.ready = ready
	return true
}

// Reply returns the reply, or nil while there is none.
func (p Pending) Reply() *Reply {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.w.reply
}

// Abandon tells a parked request (Park) that its client went away, as the
// end of Wait's ctx does: unless the reply is already there, the request keeps
// its place, is never given payloads, and its empty reply is kept for a
// retransmission; ready is not called.
func (p Pending) Abandon() {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.w.ready = nil
	if p.w.reply == nil {
		p.w.live--
	}
}

// admit places a request in the window, or answers it at once. It returns a
// function to run without the lock when the request ended the session.
func (s *Session) admit(ctx context.Context, r *Request) (*waiter, *Reply, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final != nil {
		r := s.takeFinalLocked(r.RID)
		return nil, r, func() { s.finish(r.Condition) }
	}
	if s.ended {
		// §17.2: the session is over; a request that comes after it ended
		// with system-shutdown learns that, as one for an unknown sid does
		// while the handler shuts down.
		cond := ItemNotFound
		if s.cond == SystemShutdown {
			cond = SystemShutdown
		}
		return nil, s.terminalLocked(r.RID, cond, nil), nil
	}
	switch {
	case r.RID <= s.last:
		return s.repeatLocked(ctx, r)
	case s.pending[r.RID] != nil:
		return s.attachLocked(ctx, s.pending[r.RID], r)
	case r.RID > s.last+uint64(s.p.Requests) && !s.skipGapForLocked(r.RID):
		// §14.2: a rid above the window ends the session.
		return s.failLocked(r.RID, ItemNotFound)
	}
	w := s.newWaiter(r)
	s.pending[r.RID] = w
	if r.RID > s.last+1 && !r.Terminate && r.Pause == 0 && s.liveHeldLocked()+len(s.pending) > s.p.Requests {
		// §11: more simultaneous requests than allowed, none answered.
		return s.failLocked(r.RID, PolicyViolation)
	}
	if r.RID > s.last+1 {
		s.rearmLocked() // the gap's deadline (GapTimeout)
	}
	return w, nil, nil
}

// failLocked ends the session with cond and returns the terminal reply for
// rid.
func (s *Session) failLocked(rid uint64, cond Condition) (*waiter, *Reply, func()) {
	closers := s.endLocked(cond, nil)
	r := &Reply{RID: rid, Type: TypeTerminate, Condition: cond}
	s.finishReplyLocked(r, nil, false)
	return nil, r, func() { s.closeStreams(closers, cond); s.finish(cond) }
}

// drain processes every request that is next in rid order, forwarding its
// payloads upstream without the session lock (§8, §14.2).
func (s *Session) drain(ctx context.Context) {
	s.send.Lock()
	defer s.send.Unlock()
	for {
		s.mu.Lock()
		s.forwarding = nil // the last one is placed (held or answered)
		w := s.pending[s.last+1]
		if w == nil || s.ended {
			s.mu.Unlock()
			return
		}
		delete(s.pending, s.last+1)
		targets, fin := s.takeLocked(w)
		if fin == nil {
			// Until it is placed, a retransmission of its rid finds it
			// here (§14.3).
			s.forwarding = w
		}
		s.mu.Unlock()
		if fin != nil {
			fin()
			return
		}
		s.forward(ctx, w, targets)
	}
}

// takeLocked takes the next request into processing: key check (§15), rid
// advance, client acks (§9.2), stream addressing (§16.4). It returns the
// streams to forward to.
func (s *Session) takeLocked(w *waiter) ([]stream, func()) {
	r := w.req
	if s.key != "" && (r.Key == "" || !keyEqual(s.key, sha1Hex(skipKeys(r.Key, s.skipped)))) {
		_, reply, fin := s.failLocked(r.RID, ItemNotFound)
		s.replyLocked(w, reply)
		return nil, fin
	}
	if s.key != "" {
		s.key = lowerHex(r.Key)
		if r.NewKey != "" {
			s.key = lowerHex(r.NewKey)
		}
	}
	s.last, s.skipped = r.RID, 0
	s.nRequests++
	s.nIn += len(r.Payloads)
	s.ackLocked(r)
	if s.pause != 0 {
		s.pause = 0 // §10: normal inactivity again after a pause
	}
	return s.targetsLocked(w)
}

// targetsLocked returns the streams w's request addresses (§16.4), or ends
// the session when it names an unknown one.
func (s *Session) targetsLocked(w *waiter) ([]stream, func()) {
	r := w.req
	if r.Stream == "" || r.AddStream {
		return s.streams, nil
	}
	for _, st := range s.streams {
		if st.name == r.Stream {
			return []stream{st}, nil
		}
	}
	for _, name := range s.closed {
		if name == r.Stream {
			r.Payloads = nil // §16.4: payloads for a just-closed stream MAY be ignored
			return nil, nil
		}
	}
	if len(r.Payloads) == 0 && !r.Terminate {
		return nil, nil // §16.4: 'stream' on an empty body is ignored
	}
	_, reply, fin := s.failLocked(r.RID, ItemNotFound) // §16.4: unknown stream
	s.replyLocked(w, reply)
	return nil, fin
}

// forward sends w upstream, opens or closes streams as it asks, and places
// it (§8, §13, §16).
func (s *Session) forward(ctx context.Context, w *waiter, targets []stream) {
	r := w.req
	if r.AddStream {
		s.addStream(ctx, w)
		return
	}
	s.sendTo(ctx, r, targets)
	if r.Terminate {
		s.terminate(w, targets)
		return
	}
	s.mu.Lock()
	fin := s.placeLocked(w)
	s.mu.Unlock()
	if fin != nil {
		fin()
	}
}

// sendTo sends r's payloads to its target streams, unless it has nothing
// for them; a stream that fails ends.
func (s *Session) sendTo(ctx context.Context, r *Request, targets []stream) {
	if len(r.Payloads) == 0 && !r.Notify && !r.Terminate {
		return
	}
	for _, t := range targets {
		if err := t.st.Send(context.WithoutCancel(ctx), &r.Payload); err != nil {
			s.EndStream(t.name, ConditionOf(err), ChildrenOf(err))
		}
	}
}
