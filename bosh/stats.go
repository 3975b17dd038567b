package bosh

import (
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of a handler's counters.
type Stats struct {
	Sessions int64 // sessions open now
	Held     int64 // requests inside a session now (held or being answered)
	// Addresses is how many client addresses have sessions open now (the
	// keys of Config.MaxSessionsPerAddress).
	Addresses int
	Requests  uint64 // POST requests served since the start
	BytesIn   uint64 // request body bytes read, as sent
	BytesOut  uint64 // response body bytes written, as sent
	// Overloaded counts requests answered with HTTP 503 because the server
	// was busy (*OverloadError): creations over a session limit or rate.
	Overloaded uint64
	// Ended counts the sessions that ended, by reason: "terminate" for a
	// client's terminate request (§13), "inactivity" (§10), or the
	// terminal condition (§17.2).
	Ended map[string]uint64
}

type counters struct {
	sessions, held, inflight atomic.Int64
	requests, in, out        atomic.Uint64
	overloaded               atomic.Uint64
	mu                       sync.Mutex
	byReason                 map[string]uint64 // guarded by mu
}

func (c *counters) ended(cond string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byReason == nil {
		c.byReason = make(map[string]uint64)
	}
	c.byReason[reasonOf(cond)]++
}

// Stats returns a snapshot of the handler's counters.
func (h *Handler) Stats() Stats {
	c := &h.stats
	s := Stats{
		Sessions:   c.sessions.Load(),
		Held:       c.held.Load(),
		Addresses:  h.perAddr.len(),
		Requests:   c.requests.Load(),
		BytesIn:    c.in.Load(),
		BytesOut:   c.out.Load(),
		Overloaded: c.overloaded.Load(),
		Ended:      make(map[string]uint64),
	}
	c.mu.Lock()
	for k, v := range c.byReason {
		s.Ended[k] = v
	}
	c.mu.Unlock()
	return s
}
