package boshtest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
)

// TestServerShutsTheHandlerDown: NewServer serves the handler under test
// at /http-bind, and Close shuts a *bosh.Handler down first, so that a
// held request is answered with system-shutdown (XEP-0124 §17.2) instead
// of being cut.
func TestServerShutsTheHandlerDown(t *testing.T) {
	h, err := bosh.NewHandler(echo{}, bosh.Config{})
	require.NoError(t, err)
	srv := boshtest.NewServer(h)
	require.True(t, strings.HasSuffix(srv.URL, "/http-bind"))
	c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(context.Background(), "example.com"))
	assert.Equal(t, int64(1), h.Stats().Sessions)
	for i := 0; i < 1000 && h.Stats().Held == 0; i++ {
		time.Sleep(time.Millisecond) // a bounded poll: the Client's empty request is held (§8)
	}
	require.Equal(t, int64(1), h.Stats().Held)
	srv.Close()
	srv.Close() // idempotent
	_, err = c.Receive(context.Background())
	assert.ErrorIs(t, err, bosh.SystemShutdown)
	_, err = http.Post(srv.URL, "text/xml", strings.NewReader("<body/>"))
	assert.Error(t, err, "closed")
}
