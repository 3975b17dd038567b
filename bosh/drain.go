package bosh

import (
	"context"
	"errors"
	"time"
)

// ErrDraining is what Ready reports while the handler drains (Drain), and
// the cause of the HTTP 503 a creation request then gets.
var ErrDraining = errors.New("bosh: draining")

// DefaultDrainTimeout is a host's usual bound on Drain: how long the
// sessions a node still owns may go on before Shutdown ends them.
const DefaultDrainTimeout = 5 * time.Minute

// retryDraining is the Retry-After of a creation request refused while
// draining: a load balancer that saw readiness go off sends the resent
// request to another node.
const retryDraining = time.Second

// drainPoll is how often Drain looks whether every session has ended.
const drainPoll = 50 * time.Millisecond

// Drain turns readiness off (Ready reports ErrDraining) so that a load
// balancer sends no new sessions, and refuses the creation requests that
// still arrive with HTTP 503 and Retry-After (OverloadError), which
// clients resend, to another node. The sessions the handler has go on as
// before. Drain returns nil once they have all ended, or ctx's error when
// ctx ends first; the host then calls Shutdown, which ends the rest with
// system-shutdown (§17.2). Drain is safe to call more than once and
// concurrently; draining cannot be undone.
func (h *Handler) Drain(ctx context.Context) error {
	h.draining.Store(true)
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for h.stats.sessions.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Draining reports whether Drain has been called.
func (h *Handler) Draining() bool { return h.draining.Load() }
