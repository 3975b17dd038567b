package serve_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/serve"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// When the context ends, a logged-in client's session ends with
// system-shutdown (XEP-0124 §17.2) and Run returns nil.
func TestRunShutsSessionsDownFirst(t *testing.T) {
	back, err := xmpptest.NewServer(xmpptest.Config{}) // only for its handler and core
	require.NoError(t, err)
	defer back.Close()
	back.Core.AddUser("juliet", "secret")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/http-bind", back.Handler)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.Run(ctx, "test", &http.Server{Handler: mux}, ln, back.Handler, slog.New(slog.DiscardHandler))
	}()

	c := boshtest.NewClient("http://"+ln.Addr().String()+"/http-bind", boshtest.ClientConfig{})
	defer c.Close()
	tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer tcancel()
	require.NoError(t, c.Connect(tctx, "localhost"))
	_, err = c.Login(tctx, "juliet", "secret", "")
	require.NoError(t, err)
	for i := 0; i < 1000 && back.Handler.Stats().Held == 0; i++ {
		time.Sleep(time.Millisecond) // a bounded poll: the client's empty request is held (XEP-0124 §8)
	}
	require.Equal(t, int64(1), back.Handler.Stats().Held)

	cancel()
	_, err = c.Receive(tctx)
	var te *boshtest.TerminateError
	require.True(t, errors.As(err, &te), "%v", err)
	assert.Equal(t, bosh.SystemShutdown, te.Condition)
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-tctx.Done():
		t.Fatal("Run did not return")
	}
}
