package session

import (
	"context"
	"time"
)

// Retransmissions (XEP-0124 §14.3): a client whose connection broke sends
// the same request again, byte for byte, on a new connection. The request
// it repeats is in exactly one state, and that state answers the copy.

// repeatLocked handles a rid at or below the window (§14.3): one being
// forwarded or held takes the retransmission as another connection for its
// reply; an answered one replays its cached reply; any other is no longer
// buffered.
func (s *Session) repeatLocked(ctx context.Context, r *Request) (*waiter, *Reply, func()) {
	if f := s.forwarding; f != nil && f.req.RID == r.RID {
		return s.attachLocked(ctx, f, r)
	}
	for _, h := range s.held {
		if h.req.RID == r.RID {
			return s.attachLocked(ctx, h, r)
		}
	}
	if s.takeLateLocked(r) {
		return nil, late, nil
	}
	s.trimCacheLocked(s.clk.Now())
	for i := range s.cache {
		if c := &s.cache[i]; c.RID == r.RID {
			if !keyEqual(c.key, r.Key) {
				return s.failLocked(r.RID, ItemNotFound) // §15.4
			}
			if m := s.cfg.Metrics; m != nil {
				m.Replayed.Add(1)
			}
			return nil, c.reply(), nil
		}
	}
	// §14.3: the response is no longer buffered; Handle answers
	// item-not-found if the client is still there.
	return nil, notBuffered, nil
}

// attachLocked makes the retransmission r of w's rid wait for w's reply
// (§14.3). The reply goes to every connection waiting for it, so nothing is
// lost whichever of them the client still reads: the one it gave up may
// still be open, and the one it resent on may already be closed (an
// original delayed in the network arrives after its retransmission). This
// departs from §14.3's SHOULD, which answers the older connection at once
// with a recoverable error (§17.3): clients in use (Strophe.js, StanzaJS)
// take that error for the request's answer, and its real reply is then
// lost if the newer connection is already gone. A retransmission whose
// client is already gone attaches nothing and gets no reply.
func (s *Session) attachLocked(ctx context.Context, w *waiter, r *Request) (*waiter, *Reply, func()) {
	if !keyEqual(w.req.Key, r.Key) {
		return s.failLocked(r.RID, ItemNotFound) // §15.4: as sent first
	}
	if ctx.Err() != nil {
		return nil, nil, nil
	}
	if w.live >= maxAttached {
		return s.failLocked(r.RID, PolicyViolation) // §14.3: too many repeats
	}
	w.live++
	if m := s.cfg.Metrics; m != nil {
		m.Attached.Add(1)
	}
	if w.live == 1 && s.indexHeldLocked(w) >= 0 {
		// A held request whose client had gone is live again: payloads
		// that arrived meanwhile are its now (§8).
		s.releaseLocked()
		s.rearmLocked()
	}
	return w, nil, nil
}

// notBuffered is what admit returns for a rid at or below the window whose
// reply is no longer kept.
var notBuffered = &Reply{}

// staleGrace is how long a request for a rid whose reply is no longer kept
// waits to see whether its client is still connected.
const staleGrace = 250 * time.Millisecond

// notBuffered answers a request for a rid whose reply is no longer kept
// (§14.3): item-not-found, which ends the session, if its client is still
// connected after staleGrace. A copy of a request that the network
// delivered late, on a connection its client gave up and closed (the
// client resent the request and got its reply meanwhile), is not the
// client asking: its connection is found closed within that time (the
// server's HTTP stack sees the closed connection as soon as it has read
// the request), and it gets nothing and changes nothing.
func (s *Session) notBuffered(ctx context.Context, rid uint64) *Reply {
	wait := make(chan struct{})
	t := s.clk.AfterFunc(staleGrace, func() { close(wait) })
	select {
	case <-wait:
	case <-ctx.Done():
		t.Stop()
		return nil
	}
	s.mu.Lock()
	if s.ended {
		defer s.mu.Unlock()
		return s.terminalLocked(rid, ItemNotFound, nil)
	}
	_, reply, fin := s.failLocked(rid, ItemNotFound)
	s.mu.Unlock()
	fin()
	return reply
}
