package main

import "slices"

// receiveStats counts the messages a session received from its partner.
type receiveStats struct {
	n       int      // messages expected, seq 0 .. n-1
	seen    []uint64 // bit seq is set once message seq arrived
	count   int      // distinct messages received
	dups    int      // messages received again
	ooo     int      // messages received after one with a higher seq
	foreign int      // messages that were not the partner's (misrouted or unreadable)
	bounced int      // the session's own messages returned as errors (type='error')
	echoed  int      // the session's own messages handed back as they were sent
	maxSeq  int      // highest seq received, -1 before the first
	lat     []int64  // delivery latency of each distinct message, ns
}

func newReceiveStats(n int) receiveStats {
	return receiveStats{n: n, seen: make([]uint64, (n+63)/64), maxSeq: -1}
}

// Outcomes of receiveStats.add.
const (
	addNew = iota
	addDup
	addInvalid
)

// add records message seq, delivered with latency lat.
func (r *receiveStats) add(seq int, lat int64) int {
	if seq < 0 || seq >= r.n {
		return addInvalid
	}
	w, bit := seq/64, uint64(1)<<(seq%64)
	if r.seen[w]&bit != 0 {
		r.dups++
		return addDup
	}
	r.seen[w] |= bit
	r.count++
	if seq < r.maxSeq {
		r.ooo++
	}
	r.maxSeq = max(r.maxSeq, seq)
	if r.lat == nil {
		r.lat = make([]int64, 0, r.n)
	}
	r.lat = append(r.lat, lat)
	return addNew
}

// latencies merges and sorts the sessions' latency samples.
func latencies(ss []*session) []int64 {
	var all []int64
	for _, s := range ss {
		s.mu.Lock()
		all = append(all, s.recv.lat...)
		s.mu.Unlock()
	}
	slices.Sort(all)
	return all
}
