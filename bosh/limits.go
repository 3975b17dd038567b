package bosh

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

var (
	errRate        = errors.New("bosh: session creation rate exceeded")
	errPerAddress  = errors.New("bosh: too many sessions from one address")
	errFull        = errors.New("bosh: too many sessions")
	errPayloadSize = errors.New("bosh: payload too large")
)

// retryFull is the Retry-After given when MaxSessions or
// MaxSessionsPerAddress is reached: nothing tells when a session will end,
// and a client that comes back sooner only adds load.
const retryFull = 5 * time.Second

// creationLimiter bounds the rate of session creation (Config.
// SessionsPerSecond, Config.SessionBurst) with golang.org/x/time/rate,
// given the handler's clock.
type creationLimiter struct{ lim *rate.Limiter }

func newCreationLimiter(perSecond float64, burst int) creationLimiter {
	return creationLimiter{rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// take takes a token at now, or returns an *OverloadError saying when the
// next one comes.
func (c creationLimiter) take(now time.Time) error {
	r := c.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	r.CancelAt(now) // the token goes back: this creation does not happen
	return &OverloadError{RetryAfter: d, Err: errRate}
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
