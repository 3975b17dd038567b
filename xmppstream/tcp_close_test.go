package xmppstream_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
)

// bosh.Handler.Shutdown closes a TCP stream in two phases (RFC 6120 §4.4):
// </stream:stream> first, then what the server still sends before its own
// </stream:stream> reaches the client, and only then does the session end
// with system-shutdown (XEP-0124 §17.2). A server that does not answer
// holds the shutdown up for bosh.ShutdownGrace at most.
func TestTCPTwoPhaseClose(t *testing.T) {
	const farewell = "<message xmlns='jabber:client' from='echo@example.com' to='juliet@example.com/balcony'><body>bye</body></message>"
	for _, tc := range []struct {
		name string
		opts fakeOpts
		want []string // what the client receives before the end
	}{
		{"the server's last message is delivered", fakeOpts{farewell: farewell}, []string{farewell}},
		{"a silent server", fakeOpts{silent: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeak(t)
			f := newFakeServer(t, tc.opts)
			h, err := bosh.NewHandler(newUpstream(t, tcpConfig(f, nil)), bosh.Config{Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			ts := httptest.NewServer(h)
			defer ts.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := boshtest.NewClient(ts.URL, boshtest.ClientConfig{Wait: 5 * time.Second})
			defer c.Close()
			require.NoError(t, c.Connect(ctx, fDomain))
			_, err = c.Login(ctx, fUser, fPass, "balcony")
			require.NoError(t, err)

			start := time.Now()
			require.NoError(t, h.Shutdown(ctx))
			assert.Less(t, time.Since(start), bosh.ShutdownGrace+time.Second)
			f.waitEvent("closed")
			var got []string
			for range 10 {
				el, err := c.Receive(ctx)
				if err != nil {
					assert.ErrorIs(t, err, bosh.SystemShutdown)
					break
				}
				got = append(got, string(el))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
