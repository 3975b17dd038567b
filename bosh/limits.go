package bosh

import (
	"errors"
	"net/netip"
	"sync"
	"time"
)

var (
	errRate        = errors.New("bosh: session creation rate exceeded")
	errPerAddress  = errors.New("bosh: too many sessions from one address")
	errPayloadSize = errors.New("bosh: payload too large")
)

// bucket is a token bucket: rate tokens a second, up to burst (Config.
// SessionsPerSecond, Config.SessionBurst). The zero time means full.
type bucket struct {
	rate  float64
	burst float64

	mu     sync.Mutex // guards below
	tokens float64
	last   time.Time
}

// take removes one token at now and reports whether there was one.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.last.IsZero():
		b.tokens, b.last = b.burst, now
	case now.After(b.last):
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// perAddress counts open sessions by addrKey (Config.MaxSessionsPerAddress).
type perAddress struct {
	max int

	mu sync.Mutex           // guards n
	n  map[netip.Prefix]int // open sessions; no zero entries
}

// add counts a new session for k and reports whether it is within the
// limit; when it is not, nothing is counted.
func (p *perAddress) add(k netip.Prefix) bool {
	if !k.IsValid() {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[k] >= p.max {
		return false
	}
	if p.n == nil {
		p.n = make(map[netip.Prefix]int)
	}
	p.n[k]++
	return true
}

// remove uncounts a session of k.
func (p *perAddress) remove(k netip.Prefix) {
	if !k.IsValid() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[k] <= 1 {
		delete(p.n, k)
	} else {
		p.n[k]--
	}
}

// len returns how many addresses have sessions open.
func (p *perAddress) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.n)
}

// checkPayloads refuses a request with a payload above MaxPayloadSize.
func (h *Handler) checkPayloads(ps [][]byte) error {
	for _, p := range ps {
		if len(p) > h.cfg.MaxPayloadSize {
			return newError(PolicyViolation, errPayloadSize)
		}
	}
	return nil
}
