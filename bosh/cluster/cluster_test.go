package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/bosh/cluster"
)

// message is the n-th test stanza of session i.
func message(i, n int) []byte {
	return fmt.Appendf(nil, "<message xmlns='jabber:client' id='s%d-m%d'><body>%d</body></message>", i, n, n)
}

// exchange sends count stanzas in c one by one and checks that each comes
// back, in order, once.
func exchange(ctx context.Context, c *boshtest.Client, i, count int) error {
	for n := range count {
		if err := c.Send(ctx, message(i, n)); err != nil {
			return fmt.Errorf("send %d: %w", n, err)
		}
		got, err := c.Receive(ctx)
		if err != nil {
			return fmt.Errorf("receive %d: %w", n, err)
		}
		if want := message(i, n); string(got) != string(want) {
			return fmt.Errorf("receive %d: got %s, want %s (lost, duplicated or out of order)", n, got, want)
		}
	}
	return nil
}

// connect opens count sessions through the load balancer.
func connect(t *testing.T, ctx context.Context, url string, count int) []*boshtest.Client {
	t.Helper()
	clients := make([]*boshtest.Client, count)
	for i := range clients {
		clients[i] = boshtest.NewClient(url, boshtest.ClientConfig{Wait: 5 * time.Second})
		t.Cleanup(func() { clients[i].Close() })
		require.NoError(t, clients[i].Connect(ctx, "example.com"), "session %d", i)
	}
	return clients
}

// parallel runs f for every client at once and returns their errors.
func parallel(clients []*boshtest.Client, f func(i int, c *boshtest.Client) error) []error {
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { errs[i] = f(i, c) })
	}
	wg.Wait()
	return errs
}

// Round-robin without stickiness: every request of 100 sessions goes to
// any of three nodes, and each node forwards what is not its own to the
// owner. No session ends, no stanza is lost, duplicated or reordered
// (XEP-0124 §14.2).
func TestRoundRobin(t *testing.T) {
	const sessions, payloads = 100, 50
	tc := newCluster(t, 3, cluster.Config{}, bosh.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	clients := connect(t, ctx, tc.URL, sessions)
	owners := map[string]int{}
	for _, c := range clients {
		owners[tc.owner(t, c.SID()).id]++
	}
	assert.Len(t, owners, 3, "sessions on every node: %v", owners)

	errs := parallel(clients, func(i int, c *boshtest.Client) error { return exchange(ctx, c, i, payloads) })
	for i, err := range errs {
		assert.NoError(t, err, "session %d", i)
	}
	var fwd, failed uint64
	for _, nd := range tc.nodes {
		s := nd.c.Stats()
		fwd, failed = fwd+s.Forwarded, failed+s.Failed
	}
	assert.Zero(t, failed, "no forward failed")
	assert.NotZero(t, fwd)
	t.Logf("%d sessions × %d payloads over %d nodes (%v sessions by node): %d requests forwarded", sessions, payloads, len(tc.nodes), owners, fwd)
}

// Killing one node ends exactly its sessions, with item-not-found on
// their next request (XEP-0124 §17.2); the other sessions see no error.
func TestKillOneNode(t *testing.T) {
	tc := newCluster(t, 3, cluster.Config{}, bosh.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	clients := connect(t, ctx, tc.URL, 30)
	errs := parallel(clients, func(i int, c *boshtest.Client) error { return exchange(ctx, c, i, 3) })
	for i, err := range errs {
		require.NoError(t, err, "session %d", i)
	}

	dead := tc.nodes[1]
	tc.kill(dead)
	errs = parallel(clients, func(i int, c *boshtest.Client) error { return exchange(ctx, c, i+1000, 5) })
	lost := 0
	for i, err := range errs {
		if tc.owner(t, clients[i].SID()) == dead {
			lost++
			assert.ErrorIs(t, err, bosh.ItemNotFound, "session %d of the killed node", i)
			continue
		}
		assert.NoError(t, err, "session %d of a live node", i)
	}
	assert.NotZero(t, lost, "the killed node had sessions")
}

// While a node drains, creations that still reach it go to a ready node,
// none fails; its own sessions go on until they end, untouched, and Drain
// returns once they have.
func TestDrain(t *testing.T) {
	tc := newCluster(t, 3, cluster.Config{}, bosh.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	clients := connect(t, ctx, tc.URL, 12)
	draining := tc.nodes[0]
	drained := make(chan error, 1)
	go func() { drained <- draining.h.Drain(ctx) }()
	require.Eventually(t, draining.h.Draining, 5*time.Second, time.Millisecond)
	require.ErrorIs(t, draining.h.Ready(), bosh.ErrDraining, "readiness off")

	more := connect(t, ctx, tc.URL, 30) // a third reach the draining node
	for i, c := range more {
		assert.NotEqual(t, draining, tc.owner(t, c.SID()), "session %d created on the draining node", i)
	}
	errs := parallel(append(clients, more...), func(i int, c *boshtest.Client) error {
		if err := exchange(ctx, c, i, 5); err != nil {
			return err
		}
		return c.Terminate(ctx)
	})
	for i, err := range errs {
		assert.NoError(t, err, "session %d", i)
	}
	select {
	case err := <-drained:
		assert.NoError(t, err, "every session ended before the deadline")
	case <-ctx.Done():
		t.Fatal("Drain did not return")
	}
	assert.Zero(t, draining.h.Stats().Sessions)
}

// A session still open at the drain deadline ends with system-shutdown
// when the host then calls Shutdown (XEP-0124 §17.2).
func TestDrainDeadline(t *testing.T) {
	tc := newCluster(t, 1, cluster.Config{}, bosh.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := connect(t, ctx, tc.URL, 1)[0]
	dctx, dcancel := context.WithCancel(ctx)
	dcancel() // the deadline has passed
	nd := tc.nodes[0]
	require.ErrorIs(t, nd.h.Drain(dctx), context.Canceled)
	require.NoError(t, nd.h.Shutdown(ctx))
	_, err := c.Receive(ctx)
	var te *boshtest.TerminateError
	require.True(t, errors.As(err, &te), "%v", err)
	assert.Equal(t, bosh.SystemShutdown, te.Condition)
}
