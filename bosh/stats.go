package bosh

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/httpbind/httpbind/internal/histogram"
	"github.com/httpbind/httpbind/session"
)

// Stats is a snapshot of a handler's counters. Counters (uint64) count
// since the handler was made; gauges (int, int64) are values now. A
// metrics exporter turns them into its own form (package bosh/boshprom for
// Prometheus).
type Stats struct {
	Sessions int64 // sessions open now
	Held     int64 // requests inside a session now (held or being answered)
	Parked   int64 // of Held, those parked by Serve without a goroutine
	// Addresses is how many client addresses have sessions open now (the
	// keys of Config.MaxSessionsPerAddress).
	Addresses int
	// States counts the open sessions by what they hold now: "held" (a
	// request is held, §8), "paused" (§10) or "idle" (no request held:
	// between two requests, or its client is gone).
	States map[string]int
	// Buffered is how many requests wait above a rid gap now (§14.2);
	// Queued how many payloads wait for their clients.
	Buffered, Queued int

	Requests uint64 // POST requests served
	// BytesIn and BytesOut are the request and response bodies as they
	// travelled, compressed or not; BytesInDecoded and BytesOutPlain the
	// same bodies uncompressed.
	BytesIn, BytesInDecoded, BytesOut, BytesOutPlain uint64
	// Created counts the sessions created.
	Created uint64
	// Overloaded counts requests answered with HTTP 503 because the server
	// was busy (*OverloadError), and Refused the same by limit:
	// "rate" (Config.SessionsPerSecond), "sessions" (Config.MaxSessions),
	// "address" (Config.MaxSessionsPerAddress).
	Overloaded uint64
	Refused    map[string]uint64
	// Replayed counts retransmissions answered with the reply kept for
	// them, Attached those that waited for the reply of a request still
	// in the session (§14.3).
	Replayed, Attached uint64
	// Late counts requests for a rid the session had given up
	// (Config.GapTimeout) that arrived after all and were processed late.
	Late uint64
	// Ended counts the sessions that ended, by reason: "terminate" for a
	// client's terminate request (§13), "inactivity" (§10), or the
	// terminal condition (§17.2).
	Ended map[string]uint64
	// HeldFor is how long requests waited in their session for a reply
	// (§8); Delivery the time from the upstream's Sink.Deliver to the
	// response carrying the payload, made and written at once; Creation the time to answer
	// a session creation request, the upstream's Open included (§7).
	HeldFor, Delivery, Creation Histogram
}

// Histogram is a distribution of durations: Counts[i] observations took
// at most Bounds[i] (cumulative), Count took any time, and Sum is their
// total.
type Histogram struct {
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

func histogramOf(h *histogram.Histogram) Histogram {
	s := h.Snapshot()
	return Histogram{Bounds: histogram.Bounds, Counts: s.Counts, Count: s.Count, Sum: s.Sum}
}

type counters struct {
	sessions, held, inflight atomic.Int64
	parked                   atomic.Int64
	requests, created        atomic.Uint64
	in, inDecoded            atomic.Uint64
	out, outPlain            atomic.Uint64
	overloaded               atomic.Uint64
	refusedRate, refusedMax  atomic.Uint64
	refusedAddress           atomic.Uint64
	session                  session.Metrics
	creation                 histogram.Histogram
	mu                       sync.Mutex
	byReason                 map[string]uint64 // guarded by mu
}

func (c *counters) ended(cond Condition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byReason == nil {
		c.byReason = make(map[string]uint64)
	}
	c.byReason[reasonOf(cond)]++
}

// refused counts a creation refused by a limit.
func (c *counters) refused(err error) {
	switch err {
	case errRate:
		c.refusedRate.Add(1)
	case errFull:
		c.refusedMax.Add(1)
	case errPerAddress:
		c.refusedAddress.Add(1)
	}
}

// Stats returns a snapshot of the handler's counters. It visits every
// open session for the gauges of what they hold.
func (h *Handler) Stats() Stats {
	c := &h.stats
	s := Stats{
		Sessions:       c.sessions.Load(),
		Held:           c.held.Load(),
		Parked:         c.parked.Load(),
		Addresses:      h.perAddr.len(),
		States:         map[string]int{"held": 0, "idle": 0, "paused": 0},
		Requests:       c.requests.Load(),
		BytesIn:        c.in.Load(),
		BytesInDecoded: c.inDecoded.Load(),
		BytesOut:       c.out.Load(),
		BytesOutPlain:  c.outPlain.Load(),
		Created:        c.created.Load(),
		Overloaded:     c.overloaded.Load(),
		Refused: map[string]uint64{
			"rate": c.refusedRate.Load(), "sessions": c.refusedMax.Load(), "address": c.refusedAddress.Load(),
		},
		Replayed: c.session.Replayed.Load(),
		Attached: c.session.Attached.Load(),
		Late:     c.session.Late.Load(),
		Ended:    make(map[string]uint64),
		HeldFor:  histogramOf(&c.session.HeldFor),
		Delivery: histogramOf(&c.session.Delivery),
		Creation: histogramOf(&c.creation),
	}
	for _, ss := range h.reg.All() {
		l := ss.Load()
		switch {
		case l.Paused:
			s.States["paused"]++
		case l.Held > 0:
			s.States["held"]++
		default:
			s.States["idle"]++
		}
		s.Buffered += l.Buffered
		s.Queued += l.Queued
	}
	c.mu.Lock()
	for k, v := range c.byReason {
		s.Ended[k] = v
	}
	c.mu.Unlock()
	return s
}
