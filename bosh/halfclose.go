package bosh

import (
	"context"
	"sync"
	"time"
)

// ShutdownGrace bounds the first phase of Shutdown's two-phase close of
// HalfCloser streams: the wait for the other ends to close their side, and
// for what they sent meanwhile to reach the clients.
const ShutdownGrace = 2 * time.Second

// closeSend runs the first phase of the two-phase close: CloseSend on
// every HalfCloser stream at once, then a wait, within ShutdownGrace, until
// none of their sessions has payloads queued for its client.
func (h *Handler) closeSend(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, ShutdownGrace)
	defer cancel()
	var sessions []*bsession
	var wg sync.WaitGroup
	for _, s := range h.reg.All() {
		for _, st := range s.Streams() {
			if hc, ok := st.(HalfCloser); ok {
				wg.Go(func() { hc.CloseSend(ctx) })
				sessions = append(sessions, s)
			}
		}
	}
	wg.Wait() // CloseSend returns when ctx ends
	if len(sessions) == 0 || ctx.Err() != nil {
		return
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for queued(sessions) {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// queued reports whether a live session among ss has payloads queued for
// its client that a held request can take now.
func queued(ss []*bsession) bool {
	for _, s := range ss {
		if l := s.Load(); l.Queued > 0 && !s.Ended() {
			return true
		}
	}
	return false
}
