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
	fwd     int      // distinct messages that came in a response a cluster node forwarded
	lat     []int64  // delivery latency of each distinct message that came directly, ns
	latFwd  []int64  // likewise, of those that came in a forwarded response
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

// add records message seq, delivered with latency lat in a response that
// a cluster node forwarded (fwd) or not.
func (r *receiveStats) add(seq int, lat int64, fwd bool) int {
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
	if fwd {
		r.fwd++
		r.latFwd = append(r.latFwd, lat)
		return addNew
	}
	if r.lat == nil {
		r.lat = make([]int64, 0, r.n)
	}
	r.lat = append(r.lat, lat)
	return addNew
}

// latencies merges and sorts the sessions' latency samples: all of them,
// those of messages that came directly, and those that came in a
// forwarded response.
func latencies(ss []*session) (all, direct, fwd []int64) {
	for _, s := range ss {
		s.mu.Lock()
		direct = append(direct, s.recv.lat...)
		fwd = append(fwd, s.recv.latFwd...)
		s.mu.Unlock()
	}
	all = slices.Concat(direct, fwd)
	for _, l := range [][]int64{all, direct, fwd} {
		slices.Sort(l)
	}
	return all, direct, fwd
}
