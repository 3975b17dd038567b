package session

import (
	"context"
	"time"

	"github.com/httpbind/httpbind/internal/ids"
)

// placeLocked applies the rules for a processed request: polling and
// overactivity (§11, §12), pause (§10), report (§9.2), then hold/wait (§8).
func (s *Session) placeLocked(w *waiter) func() {
	if fin := s.endedLocked(w); fin != nil {
		return fin
	}
	r := w.req
	now := s.clk.Now()
	// A request that carries something for the upstream (XEP-0206's
	// restart) is not an empty poll, though it has no payloads.
	empty := len(r.Payloads) == 0 && !r.Notify
	if empty && r.Pause == 0 && s.tooFrequentLocked(now) {
		return s.failWaiterLocked(w, PolicyViolation)
	}
	s.lastArrival, s.lastWasEmpty = now, empty
	if r.Pause > 0 && s.p.MaxPause > 0 {
		if r.Pause > s.p.MaxPause {
			return s.failWaiterLocked(w, PolicyViolation)
		}
		// §10: answer every held request and the pause request itself at
		// once, without payloads; inactivity is the pause until the next
		// request. Its reply is kept for a retransmission like any other
		// (§14.3).
		s.answerAllLocked(false)
		s.pause = r.Pause
		s.finishReplyLocked(&Reply{RID: r.RID}, w, true)
		s.rearmLocked()
		return nil
	}
	if rep := s.reportLocked(r, now); rep != nil {
		s.answerAllLocked(true)
		s.finishReplyLocked(rep, w, true) // kept for a retransmission (§14.3)
		s.rearmLocked()
		return nil
	}
	w.deadline = now.Add(s.p.Wait)
	s.held = append(s.held, w)
	s.releaseLocked()
	s.rearmLocked()
	return nil
}

// tooFrequentLocked applies the rules on requests that come too often: in a
// polling session, two empty requests less than 'polling' apart when the
// first got no payloads (§12); otherwise an empty request less than
// 'polling' after the last one that makes 'requests' unanswered requests
// (§11). Requests whose client connection is gone are not counted, so a
// client that reloads its page is not punished.
func (s *Session) tooFrequentLocked(now time.Time) bool {
	if s.p.Polling == 0 || now.Sub(s.lastArrival) >= s.p.Polling {
		return false
	}
	if s.p.Polls() {
		return s.lastWasEmpty && !s.lastGaveData
	}
	return s.liveHeldLocked()+1 >= s.p.Requests
}

// reportLocked returns the report for a client that acknowledged less than
// was answered long enough ago (§9.2), or nil.
func (s *Session) reportLocked(r *Request, now time.Time) *Reply {
	if !s.p.ClientAcks || r.Ack == 0 || r.Ack >= s.answered {
		return nil
	}
	for _, c := range s.cache {
		if c.RID == r.Ack+1 {
			age := now.Sub(c.sent)
			if age < s.p.ReportAfter {
				return nil
			}
			return &Reply{RID: r.RID, Report: c.RID, Time: min(age, 65535*time.Millisecond)}
		}
	}
	return nil
}

// releaseLocked answers held requests as the hold rules say: the oldest one
// takes queued data at once (§8, Ex. 6), and no more than 'hold' stay held
// (§8: the oldest is answered when a newer one arrives). A polling session
// holds nothing (§12). A request whose client is gone never takes payloads.
func (s *Session) releaseLocked() {
	limit := s.p.Hold
	if s.p.Polls() {
		limit = 0
	}
	for len(s.held) > 0 {
		h := s.held[0]
		data := s.hasDataLocked()
		switch {
		case data && !h.gone():
			s.answerFirstLocked(true)
		case data && s.liveHeldLocked() > 0, len(s.held) > limit:
			s.answerFirstLocked(false)
		default:
			return
		}
	}
}

// answerFirstLocked answers the oldest held request.
func (s *Session) answerFirstLocked(data bool) {
	h := s.held[0]
	s.held = s.held[1:]
	r := &Reply{RID: h.req.RID}
	if data && !h.gone() {
		s.fillLocked(r, "")
	}
	s.finishReplyLocked(r, h, true)
}

// answerAllLocked answers every held request, the oldest first; with data,
// the first live one takes what is queued.
func (s *Session) answerAllLocked(data bool) {
	for len(s.held) > 0 {
		s.answerFirstLocked(data && s.hasDataLocked())
	}
}

// hasDataLocked reports whether payloads, or the end of a stream, wait for
// the client. Attributes alone do not: they ride on the next body that
// carries payloads (bosh.Sink.SetAttrs), so that a declaration such as
// xmlns:stream arrives with the elements that use it (XEP-0206 §2).
func (s *Session) hasDataLocked() bool {
	for i := range s.queue {
		if s.queue[i].payload != nil || s.queue[i].end {
			return true
		}
	}
	return false
}

// fillLocked moves the next run of queued items of one stream into r: the
// payloads and attributes, or the end of a stream (§16.4, §16.6). With only
// set, it takes only items of that stream.
func (s *Session) fillLocked(r *Reply, only string) {
	if len(s.queue) == 0 || (only != "" && s.queue[0].stream != only) {
		return
	}
	first := s.queue[0]
	if first.end {
		r.Type, r.Condition, r.Stream = TypeTerminate, first.cond, first.stream
		r.Payloads = first.children
		s.queue = s.queue[1:]
		return
	}
	n := 0
	for _, it := range s.queue {
		if it.end || it.stream != first.stream {
			break
		}
		if it.payload != nil {
			if r.delivered == 0 {
				r.delivered = it.at
			}
			r.Payloads = append(r.Payloads, it.payload)
		}
		r.Attrs = append(r.Attrs, it.attrs...)
		n++
	}
	clear(s.queue[:n])
	s.queue = s.queue[n:]
	if s.p.MultiStream {
		r.Stream = first.stream
	}
}

// terminate ends the session, or one stream, at the client's request (§13,
// §16.5). The request's payloads were already forwarded.
func (s *Session) terminate(w *waiter, targets []stream) {
	s.mu.Lock()
	if fin := s.endedLocked(w); fin != nil {
		s.mu.Unlock()
		fin()
		return
	}
	if s.p.MultiStream && w.req.Stream != "" && len(s.streams) > 1 {
		st := targets[0]
		s.dropStreamLocked(st.name)
		s.answerAllLocked(false)
		s.finishReplyLocked(&Reply{RID: w.req.RID, Type: TypeTerminate, Stream: st.name}, w, false)
		s.rearmLocked()
		s.mu.Unlock()
		st.st.Close(Closing{})
		return
	}
	// §13: the oldest open connection acknowledges the termination; every
	// other one gets an empty body.
	all := append(s.held, w)
	s.held = nil
	acked := false
	for _, h := range all {
		r := &Reply{RID: h.req.RID}
		if !acked && (!h.gone() || h == w) {
			r.Type, acked = TypeTerminate, true
		}
		s.finishReplyLocked(r, h, false)
	}
	e := s.endLocked("", nil)
	s.mu.Unlock()
	s.closeStreams(e, "")
	s.finish("")
}

// addStream opens another stream for the client (§16.3) and answers with its
// name.
func (s *Session) addStream(ctx context.Context, w *waiter) {
	name := ids.New()
	st, err := s.open(ctx, w.req, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if fin := s.endedLocked(w); fin != nil {
		if st != nil {
			defer st.Close(Closing{Err: ItemNotFound})
		}
		defer fin()
		return
	}
	s.answerAllLocked(false)
	r := &Reply{RID: w.req.RID, Stream: name}
	if err != nil {
		// §16.6: a fatal error naming a stream closes only that stream.
		r.Type = TypeTerminate
		r.Condition, r.Payloads = ConditionOf(err), ChildrenOf(err)
	} else {
		s.streams = append(s.streams, stream{name: name, st: st})
		s.fillLocked(r, name)
	}
	s.finishReplyLocked(r, w, err == nil)
	s.rearmLocked()
}

// dropStreamLocked forgets a stream, remembering its name so that late
// payloads for it are ignored (§16.4).
func (s *Session) dropStreamLocked(name string) {
	for i, st := range s.streams {
		if st.name == name {
			s.streams = append(s.streams[:i:i], s.streams[i+1:]...)
			break
		}
	}
	s.closed = append(s.closed, name)
	if len(s.closed) > 8 {
		s.closed = s.closed[1:]
	}
}
