package session

import (
	"sync/atomic"
	"time"

	"github.com/httpbind/httpbind/internal/histogram"
)

// Metrics are the counters the sessions of one handler share. The zero
// value is ready; Config.Metrics nil counts nothing. Its fields are safe
// for concurrent use.
type Metrics struct {
	// Replayed counts retransmissions answered with a kept reply (§14.3).
	Replayed atomic.Uint64
	// Attached counts retransmissions that waited for the reply of a
	// request still buffered, being forwarded or held (§14.3).
	Attached atomic.Uint64
	// Late counts given-up rids (Config.GapTimeout) that arrived after
	// all and were processed late.
	Late atomic.Uint64
	// HeldFor is how long requests waited in the session, from arrival
	// to reply (§8).
	HeldFor histogram.Histogram
	// Delivery is the time from the upstream's Deliver to the reply that
	// carries the payload: made, and written at once by the request's
	// goroutine.
	Delivery histogram.Histogram
}

// Load is what a session holds at one moment.
type Load struct {
	Held     int  // requests held (§8)
	Buffered int  // requests waiting above a rid gap (§14.2)
	Queued   int  // payloads queued for the client
	Paused   bool // a pause is in force (§10)
}

// Load returns what the session holds now.
func (s *Session) Load() Load {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := Load{Held: len(s.held), Paused: s.pause > 0}
	for rid := range s.pending {
		if rid > s.last+1 {
			l.Buffered++
		}
	}
	for i := range s.queue {
		if s.queue[i].payload != nil {
			l.Queued++
		}
	}
	return l
}

// Summary is a session's life in figures.
type Summary struct {
	Duration    time.Duration // from creation to now, or to its end
	Requests    int           // requests taken into processing, retransmissions not counted
	PayloadsIn  int           // payloads forwarded upstream
	PayloadsOut int           // payloads sent to the client
}

// Summary returns the session's figures so far.
func (s *Session) Summary() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := s.endedAt
	if end.IsZero() {
		end = s.clk.Now()
	}
	return Summary{Duration: end.Sub(s.created), Requests: s.nRequests, PayloadsIn: s.nIn, PayloadsOut: s.nOut}
}
