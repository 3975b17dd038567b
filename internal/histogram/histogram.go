// Package histogram is a fixed-bucket histogram of durations that records
// without allocating or locking, for the latency figures the bosh and
// session packages keep (time a request was held, delivery latency,
// session creation time). A metrics exporter reads a Snapshot.
//
// Layer: internal; imports only the standard library.
package histogram

import (
	"sync/atomic"
	"time"
)

// Bounds are the buckets' upper bounds: 100µs to about 105s, doubling.
var Bounds = func() []time.Duration {
	b := make([]time.Duration, 21)
	for i := range b {
		b[i] = 100 * time.Microsecond << i
	}
	return b
}()

// Histogram counts observations by bucket. The zero value is ready; it is
// safe for concurrent use and must not be copied after first use.
type Histogram struct {
	counts [22]atomic.Uint64 // by bucket of Bounds; the last is +Inf
	sum    atomic.Int64      // nanoseconds
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	i := 0
	for i < len(Bounds) && d > Bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot is a histogram's counts at one moment.
type Snapshot struct {
	// Counts are the observations at or below each of Bounds, cumulative
	// (as Prometheus wants them); Count is all of them.
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// Snapshot returns the counts so far.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Counts: make([]uint64, len(Bounds)), Sum: time.Duration(h.sum.Load())}
	for i := range h.counts {
		s.Count += h.counts[i].Load()
		if i < len(Bounds) {
			s.Counts[i] = s.Count
		}
	}
	return s
}
