package cluster_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
)

const msgA, msgB = "<message xmlns='jabber:client' id='a'/>", "<message xmlns='jabber:client' id='b'/>"

// A forward whose answer does not come within ResponseTimeout gets HTTP
// 503 with Retry-After after exactly that long; the client sends the same
// rid again and gets the answer the owner kept (XEP-0124 §14.3), once; the
// session lives on.
func TestForwardTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn, nodes := newMemNet(t, 2, cluster.Config{ResponseTimeout: 5 * time.Second})
		sid := create(t, nodes[1].c, "1000", false)
		mn.hold = func(r *http.Request) { <-r.Context().Done() } // the answer is late
		start := time.Now()
		rec := post(nodes[0].c, body(sid, "1001", msgA), false)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
		assert.Equal(t, 5*time.Second, time.Since(start))

		mn.hold = nil
		rec = post(nodes[0].c, body(sid, "1001", msgA), false)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Contains(t, rec.Body.String(), msgA, "the kept answer (§14.3)")
		rec = post(nodes[0].c, body(sid, "1002", msgB), false)
		assert.Contains(t, rec.Body.String(), msgB)
		assert.NotContains(t, rec.Body.String(), msgA, "not delivered twice")
		assert.Equal(t, int64(1), nodes[1].h.Stats().Sessions, "the session lives on")
	})
}

// A request that another node forwarded is never forwarded again: with a
// membership that wrongly puts n1 at n0's address, n0 forwards a request
// of n1's session once, to itself, which answers item-not-found (XEP-0124
// §17.2).
func TestLoopGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn, nodes := newMemNet(t, 2, cluster.Config{})
		sid := create(t, nodes[1].c, "1000", false)

		rec := post(nodes[0].c, body(sid, "1001", ""), false, cluster.HopHeader, "n1")
		assert.Contains(t, rec.Body.String(), "item-not-found", "served where it arrived")
		assert.Zero(t, mn.trips.Load())

		mn.nodes["n1.test"] = nodes[0].c // a wrong address for n1
		rec = post(nodes[0].c, body(sid, "1001", ""), false)
		assert.Contains(t, rec.Body.String(), "item-not-found")
		assert.Equal(t, int32(1), mn.trips.Load(), "forwarded once")
	})
}

// A secure session stays secure through a forward: the forwarding node
// says proto=https, which the owner believes from a trusted proxy
// (XEP-0124 §19.1). A creation on a draining node goes to a ready one, and
// the session it makes there is secure.
func TestForwardSecure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn, nodes := newMemNet(t, 2, cluster.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go nodes[0].h.Drain(ctx)
		synctest.Wait()

		sid := create(t, nodes[0].c, "1000", true)
		owner, _ := bosh.SIDPrefixOf(sid)
		assert.Equal(t, "n1", owner, "created on the ready node")
		assert.Equal(t, []bool{true}, mn.secure, "a secure session")

		rec := post(nodes[0].c, body(sid, "1001", msgA), true)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Contains(t, rec.Body.String(), msgA)

		rec = post(nodes[0].c, body(sid, "1002", msgB), false)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "a plain request: the owner closes its stream (§19.1)")
		assert.Equal(t, int64(1), nodes[1].h.Stats().Sessions, "the session is not terminated")
	})
}

// fakeMembership is a Membership whose nodes the test sets.
type fakeMembership map[string]cluster.Node

func (fakeMembership) Self() string { return "n0" }
func (m fakeMembership) Lookup(id string) (cluster.Node, bool) {
	n, ok := m[id]
	return n, ok
}
func (fakeMembership) Pick() (cluster.Node, bool) { return cluster.Node{}, false }

// What a client gets when its session's owner cannot be reached: a node
// known gone means item-not-found (XEP-0124 §17.2); one that may come back
// means HTTP 503 with Retry-After, and the session waits.
func TestForwardErrors(t *testing.T) {
	u := &url.URL{Scheme: "http", Host: "elsewhere.test"}
	m := fakeMembership{
		"left":    {ID: "left", URL: u, State: cluster.Left},
		"suspect": {ID: "suspect", URL: u, State: cluster.Suspect},
		"broken":  {ID: "broken", URL: u, State: cluster.Ready},
	}
	h, err := bosh.NewHandler(echo, bosh.Config{SIDPrefix: "n0", Logger: quiet})
	require.NoError(t, err)
	c, err := cluster.New(h, cluster.Config{Membership: m, Transport: &memNet{}, Logger: quiet})
	require.NoError(t, err)
	for _, tc := range []struct {
		name, sid string
		status    int
		condition string
	}{
		{"an unknown node id", "n7.AAAA", http.StatusOK, "item-not-found"},
		{"a node that left", "left.AAAA", http.StatusOK, "item-not-found"},
		{"a suspect node", "suspect.AAAA", http.StatusServiceUnavailable, ""},
		{"a node the transport fails to reach", "broken.AAAA", http.StatusServiceUnavailable, ""},
		{"no prefix: served here (§7.1 unknown sid)", "AAAA", http.StatusOK, "item-not-found"},
		{"own prefix: served here", "n0.AAAA", http.StatusOK, "item-not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(c, body(tc.sid, "5", ""), false)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.condition != "" {
				assert.Contains(t, rec.Body.String(), "condition='"+tc.condition+"'")
			} else {
				assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			}
		})
	}
	rec := post(c, "<body rid='1' xmlns='"+ns+"'", false)
	assert.Contains(t, rec.Body.String(), "bad-request", "a bad body: bosh's condition")
}

// The owner's response to a forwarded request comes back with HopHeader
// naming the forwarding node; a response the owner gives directly, and a
// forward that failed, carry none.
func TestForwardedResponseMarked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn, nodes := newMemNet(t, 2, cluster.Config{})
		sid := create(t, nodes[1].c, "1000", false)

		rec := post(nodes[0].c, body(sid, "1001", "<message xmlns='jabber:client'/>"), false)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "n0", rec.Header().Get(cluster.HopHeader), "relayed by n0")

		rec = post(nodes[1].c, body(sid, "1002", "<message xmlns='jabber:client'/>"), false)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Empty(t, rec.Header().Get(cluster.HopHeader), "answered by its owner")

		delete(mn.nodes, "n1.test") // n1 gone: the forward fails
		rec = post(nodes[0].c, body(sid, "1003", ""), false)
		assert.Empty(t, rec.Header().Get(cluster.HopHeader), "a failed forward")
	})
}
