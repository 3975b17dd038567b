package interop

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
)

// TestX22ProsodyKilledEndsEverySession: three BOSH sessions logged in to
// Prosody through the TCP upstream, each with a request held; when
// Prosody dies every one of them is answered with remote-connection-failed
// (XEP-0206 §6, XEP-0124 §17.2), nothing hangs, the handler counts no
// session and no goroutine is left behind. The context's deadline is a
// hang guard, not a speed claim.
func TestX22ProsodyKilledEndsEverySession(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	e := newEnv(t)
	const n = 3
	clients := make([]*boshtest.Client, n)
	for i := range clients {
		c := boshtest.NewClient(e.url, boshtest.ClientConfig{})
		defer c.Close()
		require.NoError(t, c.Connect(ctx, domain))
		_, err := c.Login(ctx, "alice", alicePass, "web"+strconv.Itoa(i))
		require.NoError(t, err, "logs:\n%s", e.logs)
		clients[i] = c
	}
	require.EqualValues(t, n, e.handler.Stats().Sessions)

	e.prosody.Kill()
	errs := make(chan error, n)
	for _, c := range clients {
		go func() {
			var err error
			for range 20 { // skip presence and the like; bounded
				if _, err = c.Receive(ctx); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range n {
		err := <-errs // each goroutine ends by the ctx deadline at the latest
		require.ErrorIs(t, err, bosh.RemoteConnectionFailed, "logs:\n%s", e.logs)
	}
	assert.NoError(t, ctx.Err(), "every held request was answered before the hang guard")
	// The handler counts an end just after the terminate body went out.
	assert.Eventually(t, func() bool { return e.handler.Stats().Sessions == 0 }, 5*time.Second, 5*time.Millisecond,
		"every session ended at the handler")
}
