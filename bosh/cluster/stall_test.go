package cluster_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
	"github.com/httpbind/httpbind/internal/proxytest"
)

// A connection to another node that a partition left stalled (what this
// node sends still arrives, nothing comes back, as when the owner's
// outgoing packets are lost) is found by PingTimeout's ping and closed:
// the forward on it gets HTTP 503 with Retry-After instead of waiting out
// ResponseTimeout, and the client's resend of the same rid, over a new
// connection once the owner can be reached, gets the answer the owner
// kept (XEP-0124 §14.3), once.
func TestForwardOverStalledConnection(t *testing.T) {
	ownerH, err := bosh.NewHandler(echo, bosh.Config{SIDPrefix: "n1", Logger: quiet})
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	relay := proxytest.Count(t, srv.Listener.Addr().String())
	urls := map[string]string{"n0": "http://127.0.0.1:1", "n1": "http://" + relay.Addr}
	node := func(id string, h *bosh.Handler) *cluster.Handler {
		m, err := cluster.NewStatic(id, urls)
		require.NoError(t, err)
		c, err := cluster.New(h, cluster.Config{Membership: m, ResponseTimeout: 10 * time.Minute, Logger: quiet})
		require.NoError(t, err)
		return c
	}
	srv.Config.Handler = node("n1", ownerH)
	srv.Start()
	t.Cleanup(srv.Close)
	frontH, err := bosh.NewHandler(echo, bosh.Config{SIDPrefix: "n0", Logger: quiet})
	require.NoError(t, err)
	front := node("n0", frontH)

	sid := create(t, srv.Config.Handler, "1000", false)
	rec := post(front, body(sid, "1001", msgA), false)
	require.Contains(t, rec.Body.String(), msgA, "forwarded over a connection that works")

	relay.Stall(true)
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- post(front, body(sid, "1002", msgB), false) }()
	select {
	case rec = <-done:
	case <-time.After(30 * time.Second): // a bound on the test, not a timing rule
		t.Fatal("the forward over the stalled connection still waits: the connection was not found dead")
	}
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))

	relay.Stall(false)
	rec = post(front, body(sid, "1002", msgB), false)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), msgB, "the owner's kept answer (§14.3)")
	rec = post(front, body(sid, "1003", msgA), false)
	assert.Contains(t, rec.Body.String(), msgA)
	assert.NotContains(t, rec.Body.String(), msgB, "not delivered twice")
	assert.Equal(t, int64(1), ownerH.Stats().Sessions, "the session lives on")
}
