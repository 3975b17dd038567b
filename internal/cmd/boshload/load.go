package main

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// load is the run's shared state. Fields set in newLoad are read-only
// afterwards; counters are atomic; errs is guarded by mu.
type load struct {
	o        *options
	t        *transport      // the HTTP/1.1 transport the sessions share
	h2       []*transport    // over HTTP/2: the sessions' own, one per -sessions-per-conn
	start    time.Time       // stamps are nanoseconds since start (monotonic)
	ctx      context.Context // the hard bound: every request of a started session
	wg       sync.WaitGroup  // request goroutines and paced timers
	sessions []*session

	createRetries atomic.Int64 // creations refused with policy-violation, then sent again
	create503     atomic.Int64 // creations refused with HTTP 503, then sent again after Retry-After
	resent        atomic.Int64 // requests sent again after a network error (§14.3)
	resentAfter   atomic.Int64 // of those, after an error that was not one of -cut's cuts
	gaveUp        atomic.Int64 // requests given up after maxAttempts network errors
	resentBusy    atomic.Int64 // requests sent again after HTTP 502, 503 or 504
	nDelivered    atomic.Int64
	lastDelivery  atomic.Int64 // ns since start
	expected      atomic.Int64 // messages the active pairs exchange
	allIn         chan struct{}
	open          atomic.Int64 // started sessions not ended, plus one until the run lets go
	allEnded      chan struct{}

	mu       sync.Mutex
	errs     map[string]int          // failures by kind, at most maxKinds kinds
	endedBy  map[string]int          // sessions the server ended, by terminal condition or HTTP status
	relogins map[string]int          // -relogin: logins again, by the condition that ended the session
	nodes    map[string]*nodeFigures // by owner node (the sid's prefix; "" without one), at most maxKinds
}

// maxKinds bounds the distinct failure kinds kept.
const maxKinds = 20

func newLoad(ctx context.Context, o *options, start time.Time) *load {
	l := &load{
		o: o, t: newTransport(o, sharedDial(o)), start: start, ctx: ctx,
		allIn: make(chan struct{}), allEnded: make(chan struct{}), errs: map[string]int{},
		endedBy: map[string]int{}, relogins: map[string]int{}, nodes: map[string]*nodeFigures{},
	}
	if o.cut > 0 {
		l.t.withCuts(o.cut, o.cutSeed)
	}
	l.open.Store(1)
	l.sessions = make([]*session, o.sessions)
	for i := range l.sessions {
		// Over HTTP/1.1 every session uses the shared l.t, whose
		// connections any session may reuse. Over HTTP/2 a session has
		// a transport of its own, from source address i mod -sources, so
		// that it has one connection, as a browser has one per origin;
		// with -sessions-per-conn N, sessions i with the same i/N share one.
		t := l.t
		if o.perSession() {
			if i%o.perConn == 0 {
				l.h2 = append(l.h2, newTransport(o, dialer(o, i/o.perConn).DialContext))
			}
			t = l.h2[len(l.h2)-1]
		}
		l.sessions[i] = &session{l: l, idx: i, acct: o.first + i, t: t, recv: newReceiveStats(o.messages), wire: make([]lives, o.messages)}
	}
	for i, s := range l.sessions {
		s.partner = l.sessions[i^1]
	}
	return l
}

// now returns the time since the start in nanoseconds.
func (l *load) now() int64 { return int64(time.Since(l.start)) }

// delivered counts one message delivered at now.
func (l *load) delivered(now int64) {
	if l.nDelivered.Add(1) == l.expected.Load() {
		close(l.allIn) // Add returns each count once: this runs once
	}
	for {
		last := l.lastDelivery.Load()
		if now <= last || l.lastDelivery.CompareAndSwap(last, now) {
			return
		}
	}
}

// ended counts one session (or the run's own hold) ended.
func (l *load) ended() {
	if l.open.Add(-1) == 0 {
		close(l.allEnded)
	}
}

// fail counts a failure by kind: the stage and the error without URLs,
// never a password (no error carries one).
func (l *load) fail(stage string, err error) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	kind := stage + ": " + err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		kind += " (timed out)"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.errs[kind]; ok || len(l.errs) < maxKinds {
		l.errs[kind]++
	} else {
		l.errs["other"]++
	}
}

// endedByServer counts a session of node ended by the server with why:
// its terminal condition (XEP-0124 §17.2) or its HTTP status (§17.1).
// Conditions come from the server: at most maxKinds distinct ones are kept.
func (l *load) endedByServer(node, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	count(l.endedBy, why)
	n := l.nodeLocked(node)
	if n.Ended == nil {
		n.Ended = map[string]int{}
		n.FirstEnded = time.Now()
	}
	count(n.Ended, why)
}

// relogin counts a session that logs in again after the server ended it
// with condition.
func (l *load) relogin(condition string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	count(l.relogins, condition)
}

// loggedIn counts a session of node that logged in.
func (l *load) loggedIn(node string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nodeLocked(node).Logins++
}

// nodeLocked returns the figures of node, made on first use; past
// maxKinds nodes (they come from the server), those of "other".
func (l *load) nodeLocked(node string) *nodeFigures {
	if _, ok := l.nodes[node]; !ok && len(l.nodes) >= maxKinds {
		node = "other"
	}
	n := l.nodes[node]
	if n == nil {
		n = &nodeFigures{}
		l.nodes[node] = n
	}
	return n
}

// count adds one to m[k], or to m["other"] once m holds maxKinds keys.
func count(m map[string]int, k string) {
	if _, ok := m[k]; !ok && len(m) >= maxKinds {
		k = "other"
	}
	m[k]++
}

// loginAll logs every session in, -login-concurrency at a time, session
// i starting no earlier than i/-login-rate seconds after the phase began;
// each session starts holding a request as soon as it is logged in. It
// returns when every login ended or ctx did.
func (l *load) loginAll(ctx context.Context) (ok int, last time.Time) {
	var (
		next   atomic.Int64
		mu     sync.Mutex
		wg     sync.WaitGroup
		t0     = time.Now()
		lastOK time.Time
	)
	for range min(l.o.loginConc, len(l.sessions)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(l.sessions) || ctx.Err() != nil {
					return
				}
				if r := l.o.loginRate; r > 0 && !sleepUntil(ctx, t0.Add(time.Duration(float64(i)/r*float64(time.Second)))) {
					return
				}
				s := l.sessions[i]
				if err := s.login(ctx); err != nil {
					l.fail("login", err)
					continue
				}
				l.open.Add(1)
				s.start()
				mu.Lock()
				ok++
				lastOK = time.Now()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok, lastOK
}

// sleepUntil waits until t or until ctx ends, reporting whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// active returns the sessions whose partner is logged in too.
func (l *load) active() []*session {
	var out []*session
	for i := 0; i < len(l.sessions); i += 2 {
		a, b := l.sessions[i], l.sessions[i+1]
		if a.started() && b.started() {
			out = append(out, a, b)
		}
	}
	return out
}

// afterStart is called after each session's startMessages; tests use it
// to let messages flow before the next session starts.
var afterStart = func(*session) {}

// messages runs the message phase on the active sessions until every
// message arrived, nothing arrived for -drain after the last one was
// due, or ctx ends. It returns the phase's start (ns since the start).
func (l *load) messages(ctx context.Context, act []*session) int64 {
	o := l.o
	l.expected.Store(int64(len(act) * o.messages))
	begin := l.now()
	if len(act) == 0 || o.messages == 0 {
		return begin
	}
	var span time.Duration // paced: when the last message is due
	if o.mode == modePaced {
		span = time.Duration(o.messages) * o.interval
	}
	// Every session knows how to address its partner before any starts:
	// in closed mode a session answers the first message that arrives,
	// which can be before its own turn in the loop below.
	for _, s := range act {
		s.prepareMessages()
	}
	for i, s := range act {
		// Paced sessions start evenly spread over one interval.
		s.startMessages(time.Duration(begin) + o.interval*time.Duration(i)/time.Duration(len(act)))
		afterStart(s)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-l.allIn:
			return begin
		case <-ctx.Done():
			return begin
		case <-tick.C:
			quiet := max(l.lastDelivery.Load(), begin+int64(span))
			if l.now()-quiet > int64(o.drain) {
				return begin
			}
		}
	}
}

// terminateAll ends every started session and waits, until the hard
// bound at most, for the terminate responses.
func (l *load) terminateAll() {
	for _, s := range l.sessions {
		if s.started() {
			s.terminate()
		}
	}
	l.ended()
	select {
	case <-l.allEnded:
	case <-l.ctx.Done():
	}
}
