package session

// Deliver queues payloads and attributes from the upstream of the named
// stream ("" in a single-stream session) for the client, and answers the
// oldest held request with them at once (§8). It never blocks on the
// network. It reports false when the session has ended and the payloads
// cannot reach the client; the upstream keeps them (for example as offline
// messages).
func (s *Session) Deliver(stream string, payloads [][]byte, attrs []Attr) bool {
	s.mu.Lock()
	if s.ended || s.final != nil {
		s.mu.Unlock()
		return false
	}
	t := s.clk.Now()
	now := t.UnixNano()
	if len(attrs) > 0 {
		s.queue = append(s.queue, item{at: now, stream: stream, attrs: attrs})
	}
	for _, p := range payloads {
		s.queue = append(s.queue, item{at: now, stream: stream, payload: p})
	}
	if s.p.MaxQueue > 0 && len(s.queue) > s.p.MaxQueue {
		e := s.endLocked(PolicyViolation, nil)
		s.mu.Unlock()
		s.closeStreams(e, PolicyViolation)
		s.finish(PolicyViolation)
		return true // the payloads are handed back through Closing.Undelivered
	}
	s.releaseLocked()
	s.rearmAtLocked(t)
	s.mu.Unlock()
	return true
}

// EndStream is called by the upstream when the named stream ended on its
// side, with the terminal condition (empty for a normal close) and the
// children of the terminate body (§17.2, e.g. XEP-0206's <stream:error/>).
// In a multi-stream session with other streams open only that stream closes
// (§16.6); otherwise the session ends, and its terminal reply carries what
// was still queued followed by children, on the oldest held request or on
// the next request to come.
func (s *Session) EndStream(stream string, cond Condition, children [][]byte) {
	s.mu.Lock()
	if s.ended || s.final != nil {
		s.mu.Unlock()
		return
	}
	if s.p.MultiStream && len(s.streams) > 1 {
		s.dropStreamLocked(stream)
		s.queue = append(s.queue, item{stream: stream, end: true, cond: cond, children: children})
		s.releaseLocked()
		s.rearmLocked()
		s.mu.Unlock()
		return
	}
	final := &Reply{Type: TypeTerminate, Condition: cond}
	for _, it := range s.queue {
		if it.payload != nil {
			if final.delivered == 0 {
				final.delivered = it.at
			}
			final.Payloads = append(final.Payloads, it.payload)
		}
		final.Attrs = append(final.Attrs, it.attrs...)
	}
	final.Payloads = append(final.Payloads, children...)
	s.queue = nil
	s.streams = nil // it ended itself: nothing to close
	var first *waiter
	for _, h := range s.held {
		if !h.gone() {
			first = h
			break
		}
	}
	if first == nil {
		// Keep the reply for the next request; inactivity still applies.
		final.Body = s.cfg.Encode(final)
		s.final = final
		s.rearmLocked()
		s.mu.Unlock()
		return
	}
	final.RID = first.req.RID
	s.finishReplyLocked(final, first, false)
	s.held = removeWaiter(s.held, first)
	s.endLocked(cond, nil)
	s.mu.Unlock()
	s.finish(cond)
}

func removeWaiter(ws []*waiter, w *waiter) []*waiter {
	for i, x := range ws {
		if x == w {
			return append(ws[:i:i], ws[i+1:]...)
		}
	}
	return ws
}
