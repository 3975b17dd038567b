package xmppstream

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShutdownWaitsForUnbind: a Core.Unbind that the Server runs on a
// goroutine of its own (after Kick) is waited for by Server.Shutdown, and
// so by bosh.Handler.Shutdown, which calls it: whoever starts a goroutine
// waits for it.
func TestShutdownWaitsForUnbind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, ServerConfig{})
		h.ready()
		gate := make(chan struct{})
		h.core.mu.Lock()
		h.core.unbindGate = gate
		h.core.mu.Unlock()
		h.core.client(0).Kick("conflict") // Unbind runs on its own goroutine, and waits
		synctest.Wait()
		require.Empty(t, h.core.unbinds())

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		assert.ErrorIs(t, h.srv.Shutdown(ctx), context.DeadlineExceeded, "Unbind has not returned")

		done := make(chan error, 1)
		go func() { done <- h.h.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Handler.Shutdown returned before Unbind")
		default:
		}
		close(gate)
		require.NoError(t, <-done)
		assert.Len(t, h.core.unbinds(), 1)
	})
}
