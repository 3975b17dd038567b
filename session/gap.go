package session

import "time"

// A rid gap (§14.2): requests above last+1 wait in pending until the
// missing rids arrive. A client can lose a request it had numbered but
// never sent: Strophe.js caches the next rid for its 'keepalive' session
// restore when it builds a request, so a page reloaded before that request
// left the browser continues one rid further on. Config.GapTimeout bounds
// the wait: then the session gives the missing rids up and goes on with
// the requests it has, still in rid order. A given-up rid that arrives
// later finds no response to resend and gets item-not-found (§14.3).

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

// giveUpGapLocked counts the missing rids below low, the lowest pending
// one, as done.
func (s *Session) giveUpGapLocked(low uint64) {
	s.skipped += low - 1 - s.last
	s.last = low - 1
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
