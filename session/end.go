package session

import (
	"context"
	"time"
)

// ending is what is left to do, without the lock, when a session ends.
type ending struct {
	streams     []stream
	undelivered [][]byte
}

// endLocked marks the session ended: every held or buffered request gets a
// terminal reply with cond (§17.2), the timer stops, and the streams to
// close are returned.
func (s *Session) endLocked(cond Condition, children [][]byte) ending {
	if s.ended {
		return ending{}
	}
	s.ended, s.endedAt = true, s.clk.Now()
	wire := cond
	if wire == Inactive || wire == "" {
		wire = ItemNotFound
	}
	s.cond = wire
	for _, h := range s.held {
		s.replyLocked(h, s.terminalLocked(h.req.RID, wire, children))
	}
	for _, w := range s.pending {
		s.replyLocked(w, s.terminalLocked(w.req.RID, wire, children))
	}
	s.held, s.pending = nil, nil
	e := ending{streams: s.streams}
	for _, it := range s.queue {
		if it.payload != nil {
			e.undelivered = append(e.undelivered, it.payload)
		}
	}
	if len(e.streams) == 0 {
		s.unsent = e.undelivered // for the stream Start may still attach
	}
	s.streams, s.queue, s.cache = nil, nil, nil
	if s.timer != nil {
		s.timer.Stop()
	}
	return e
}

func (s *Session) terminalLocked(rid uint64, cond Condition, children [][]byte) *Reply {
	r := &Reply{RID: rid, Type: TypeTerminate, Condition: cond, Payloads: children}
	r.Body = s.cfg.Encode(r)
	return r
}

// failWaiterLocked ends the session with cond, answering w with it, and
// returns what to run without the lock.
func (s *Session) failWaiterLocked(w *waiter, cond Condition) func() {
	_, r, fin := s.failLocked(w.req.RID, cond)
	s.replyLocked(w, r)
	return fin
}

// takeFinalLocked hands out the terminal reply the upstream left (§17.2).
func (s *Session) takeFinalLocked(rid uint64) *Reply {
	r := s.final
	s.final = nil
	s.ended, s.endedAt = true, s.clk.Now()
	if s.timer != nil {
		s.timer.Stop()
	}
	r.RID = rid // the body is the same for any rid: it names none
	return r
}

// endedLocked answers w when the session ended while w was being
// forwarded: with the upstream's terminal reply, or with the condition that
// ended it. It returns nil when the session goes on.
func (s *Session) endedLocked(w *waiter) func() {
	if s.final != nil {
		r := s.takeFinalLocked(w.req.RID)
		s.replyLocked(w, r)
		return func() { s.finish(r.Condition) }
	}
	if s.ended {
		s.replyLocked(w, s.terminalLocked(w.req.RID, s.cond, nil))
		return func() {}
	}
	return nil
}

// closeStreams closes the streams of an ended session.
func (s *Session) closeStreams(e ending, cond Condition) {
	for _, st := range e.streams {
		st.st.Close(Closing{Err: closingErr(cond), Undelivered: e.undelivered})
	}
}

// finish reports the end of the session, once.
func (s *Session) finish(cond Condition) {
	s.mu.Lock()
	done := s.finished
	s.finished = true
	s.mu.Unlock()
	if !done && s.cfg.Ended != nil {
		s.cfg.Ended(s, cond)
	}
}

// End ends the session from outside (for example system-shutdown, §17.2):
// held requests are answered with a terminate body carrying cond and
// children, and the streams are closed.
func (s *Session) End(cond Condition, children [][]byte) {
	s.mu.Lock()
	e := s.endLocked(cond, children)
	s.final = nil
	s.mu.Unlock()
	s.closeStreams(e, cond)
	s.finish(cond)
}

// Streams returns the session's open streams (§16), the first first; none
// once it has ended.
func (s *Session) Streams() []Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stream, len(s.streams))
	for i, st := range s.streams {
		out[i] = st.st
	}
	return out
}

// Ended reports whether the session has ended.
func (s *Session) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended || s.final != nil
}

// Held returns how many requests are held.
func (s *Session) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// rearmLocked points the session's one timer at its next deadline: the
// earliest 'wait' of a held request (§8), or, with nothing held, the end of
// the inactivity period (§10).
func (s *Session) rearmLocked() { s.rearmAtLocked(s.clk.Now()) }

// rearmAtLocked is rearmLocked with the time now already read.
func (s *Session) rearmAtLocked(now time.Time) {
	if s.ended {
		return
	}
	var next time.Time
	for _, h := range s.held {
		if next.IsZero() || h.deadline.Before(next) {
			next = h.deadline
		}
	}
	if len(s.held) == 0 {
		if inact := s.inactivityLocked(); inact > 0 {
			next = s.lastReply.Add(inact)
		}
	}
	if gap := s.gapDeadlineLocked(); !gap.IsZero() && (next.IsZero() || gap.Before(next)) {
		next = gap
	}
	if next.IsZero() {
		if s.timer != nil {
			s.timer.Stop()
		}
		return
	}
	d := max(next.Sub(now), 0)
	if s.timer == nil {
		s.timer = s.clk.AfterFunc(d, s.onTimer)
	} else {
		s.timer.Reset(d)
	}
}

func (s *Session) inactivityLocked() time.Duration {
	if s.pause > 0 {
		return s.pause
	}
	return s.p.Inactivity
}

// onTimer answers held requests whose wait is over with an empty body (§8)
// and ends a session that was inactive too long, without telling the client
// (§10). A timer may fire late or after a reset; it re-checks the state.
func (s *Session) onTimer() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	now := s.clk.Now()
	due := -1
	for i, h := range s.held {
		if !h.deadline.After(now) {
			due = i
		}
	}
	for ; due >= 0; due-- {
		s.answerFirstLocked(true)
	}
	if s.skipGapLocked(now) {
		// Process the requests the given-up gap released. Their request
		// goroutines wait for their replies; this is the timer's
		// goroutine, so forwarding has a context of its own.
		s.mu.Unlock()
		s.drain(context.Background())
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return
		}
	}
	inact := s.inactivityLocked()
	if len(s.held) == 0 && inact > 0 && !now.Before(s.lastReply.Add(inact)) {
		e := s.endLocked(Inactive, nil)
		s.final = nil
		s.mu.Unlock()
		s.closeStreams(e, Inactive)
		s.finish(Inactive)
		return
	}
	s.rearmLocked()
	s.mu.Unlock()
}
