package session

import (
	"context"
	"slices"
	"time"
)

// A rid gap (§14.2): requests above last+1 wait in pending until the
// missing rids arrive. A client can lose a request it had numbered but
// never sent: Strophe.js caches the next rid for its 'keepalive' session
// restore when it builds a request, so a page reloaded before that request
// left the browser continues one rid further on. Config.GapTimeout bounds
// the wait: then the session gives the missing rids up and goes on with
// the requests it has, still in rid order.
//
// A given-up rid can also be a request the network only delayed: a load
// balancer that could not connect to the node redispatched it to another
// node, whose forward sat in a stalled connection, while the next request
// reached the node directly. When it arrives after all, it is processed
// late (late): its payloads go upstream after those of the requests that
// overtook it, and it is answered at once with an empty body, kept for a
// retransmission like any reply (§14.3). Losing its stanzas and ending the
// session would cost more than their order. Only a request the session
// cannot check or place out of order gets item-not-found as a rid without
// a reply to resend (§14.3): with keys (§15: its key was skipped), or a
// terminate, pause, restart or stream request.

// gapDeadlineLocked returns when the current gap is given up, or the zero
// time when there is none (or no GapTimeout).
func (s *Session) gapDeadlineLocked() time.Time {
	if s.cfg.GapTimeout <= 0 || len(s.pending) == 0 || s.pending[s.last+1] != nil {
		return time.Time{}
	}
	var first time.Time
	for _, w := range s.pending {
		if first.IsZero() || w.arrived.Before(first) {
			first = w.arrived
		}
	}
	return first.Add(s.cfg.GapTimeout)
}

// skipGapLocked gives up the missing rids below the lowest pending one when
// the gap has lasted GapTimeout. It reports whether it did; the caller then
// drains without the lock.
func (s *Session) skipGapLocked(now time.Time) bool {
	d := s.gapDeadlineLocked()
	if d.IsZero() || now.Before(d) {
		return false
	}
	s.giveUpGapLocked(s.lowestPendingLocked())
	return true
}

// skipGapForLocked gives up the missing rids at once when rid, above the
// window, arrives while requests wait above a gap, and giving them up puts
// rid inside the window. A client has at most 'requests' requests
// outstanding, so one that sends rid counts every rid up to rid-requests as
// done: a missing one among them was never sent (or was abandoned) and will
// not come. This is how Strophe.js and converse.js continue after a reload
// that lost a numbered request: two requests at once, one rid past the
// lost one. §14.2 would end the session; like Prosody, this goes on (see
// the README's conformance notes). It reports whether it gave the gap up.
func (s *Session) skipGapForLocked(rid uint64) bool {
	if len(s.pending) == 0 || s.cfg.GapTimeout <= 0 {
		return false
	}
	low := s.lowestPendingLocked()
	if rid > low-1+uint64(s.p.Requests) {
		return false
	}
	s.giveUpGapLocked(low)
	return true
}

// maxGivenUp bounds the given-up rids a session remembers for a late
// arrival: a gap is smaller than 'requests', and a delayed request arrives
// within seconds or not at all.
const maxGivenUp = 16

// giveUpGapLocked counts the missing rids below low, the lowest pending
// one, as done, and remembers them in case they come late.
func (s *Session) giveUpGapLocked(low uint64) {
	for rid := s.last + 1; rid < low; rid++ {
		s.givenUp = append(s.givenUp, rid)
	}
	if n := len(s.givenUp) - maxGivenUp; n > 0 {
		s.givenUp = slices.Delete(s.givenUp, 0, n)
	}
	s.skipped += low - 1 - s.last
	s.last = low - 1
}

// late is what admit returns for a given-up rid that Submit processes
// late.
var late = &Reply{}

// takeLateLocked reports whether r is a given-up rid that arrived after all
// and can be processed late, and forgets the rid if so: a copy that comes
// after it finds its reply in the cache.
func (s *Session) takeLateLocked(r *Request) bool {
	i := slices.Index(s.givenUp, r.RID)
	if i < 0 || s.key != "" || r.Terminate || r.AddStream || r.Notify || r.Pause != 0 {
		return false
	}
	s.givenUp = slices.Delete(s.givenUp, i, i+1)
	return true
}

// late processes r, a given-up rid that arrived after all: its payloads go
// to its streams now, in the order of forwarding (send), and it is
// answered at once with an empty body, kept for a retransmission. It
// changes neither the rid window nor the client's acknowledgements: the
// requests after it were taken without it.
func (s *Session) late(ctx context.Context, r *Request) *Reply {
	if m := s.cfg.Metrics; m != nil {
		m.Late.Add(1)
	}
	w := s.newWaiter(r)
	s.send.Lock()
	defer s.send.Unlock()
	s.mu.Lock()
	fin := s.endedLocked(w)
	var targets []stream
	if fin == nil {
		s.nIn += len(r.Payloads)
		targets, fin = s.targetsLocked(w)
	}
	if fin == nil {
		// Until it is answered, a copy of its rid waits for the same
		// reply (§14.3), as for drain's.
		s.forwarding = w
	}
	s.mu.Unlock()
	if fin != nil {
		fin()
		return w.reply
	}
	s.sendTo(ctx, r, targets)
	s.mu.Lock()
	s.forwarding = nil
	if fin = s.endedLocked(w); fin == nil {
		s.finishReplyLocked(&Reply{RID: r.RID}, w, true)
	}
	s.mu.Unlock()
	if fin != nil {
		fin()
	}
	return w.reply
}

// lowestPendingLocked returns the lowest rid waiting above the gap.
func (s *Session) lowestPendingLocked() uint64 {
	low := uint64(0)
	for rid := range s.pending {
		if low == 0 || rid < low {
			low = rid
		}
	}
	return low
}

// skipKeys hashes key n times: the key of the request n rids later in the
// key sequence (§15), whose own keys were never seen.
func skipKeys(key string, n uint64) string {
	for range n {
		key = sha1Hex(key)
	}
	return key
}
