package bosh

// Ready reports whether the handler accepts new sessions, for a readiness
// probe (a load balancer's or an orchestrator's health check): nil when it
// does; SystemShutdown once Shutdown has been called, which is also what a
// creation request then gets (XEP-0124 §17.2); ErrDraining once Drain has
// been called; an *OverloadError
// (errors.Is(err, ErrOverloaded)) while Config.MaxSessions sessions are
// open, when a creation request gets HTTP 503.
//
// Requests of existing sessions are served either way. Ready is safe for
// concurrent use, takes no lock, never blocks and does not reach the
// Upstream: a host whose upstream is a remote server checks that one on
// its own (xmppstream.TCPUpstream.Probe).
func (h *Handler) Ready() error {
	if h.shutting.Load() {
		return SystemShutdown
	}
	if h.draining.Load() {
		return ErrDraining
	}
	if h.stats.sessions.Load() >= int64(h.cfg.MaxSessions) {
		return &OverloadError{RetryAfter: retryFull, Err: errFull}
	}
	return nil
}
