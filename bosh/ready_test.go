package bosh

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadyAtMaxSessions(t *testing.T) {
	x := newTester(t, Config{MaxSessions: 2})
	require.NoError(t, x.h.Ready(), "a new handler accepts sessions")
	s1 := x.create(1000, "")
	assert.NoError(t, x.h.Ready(), "one of two sessions")
	s2 := x.create(2000, "")
	err := x.h.Ready()
	require.ErrorIs(t, err, ErrOverloaded, "at MaxSessions, creations get HTTP 503")
	var over *OverloadError
	require.True(t, errors.As(err, &over))
	assert.Positive(t, over.RetryAfter)
	assert.True(t, s1.send(1, "type='terminate'", "").IsTerm(""), "terminate (XEP-0124 §13)")
	assert.NoError(t, x.h.Ready(), "a session ended: room again")
	assert.True(t, s2.send(1, "type='terminate'", "").IsTerm(""))
}

// TestReadyOffDuringShutdown: readiness is off from the moment Shutdown
// starts, while it still waits for a request in progress, and after it.
func TestReadyOffDuringShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.gate = make(chan struct{})
		s := x.create(1000, "")
		// A request being forwarded upstream: Send waits on the gate, so
		// Shutdown waits for it.
		sending := s.post(1, "", "<message xmlns='jabber:client'/>")
		synctest.Wait()
		require.NoError(t, x.h.Ready())

		done := make(chan error, 1)
		go func() { done <- x.h.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Shutdown returned with a request in progress")
		default:
		}
		assert.ErrorIs(t, x.h.Ready(), SystemShutdown, "during Shutdown")
		close(x.up.gate)
		sending.wait()
		require.NoError(t, <-done)
		assert.ErrorIs(t, x.h.Ready(), SystemShutdown, "after Shutdown")
	})
}
