package gossip_test

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh/cluster"
	"github.com/httpbind/httpbind/bosh/cluster/gossip"
)

// eventually polls cond every 10ms, at most 2000 times (20s): gossip
// spreads over real UDP and TCP on loopback, and finding a node dead takes
// memberlist's probes and suspicion timeout (seconds with its local
// configuration).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gossip: %s did not happen within 20s", what)
}

type testNode struct {
	g        *gossip.Gossip
	draining atomic.Bool
	sessions atomic.Int64
}

// start runs count gossip nodes n0… on 127.0.0.1, each joining the first.
func start(t *testing.T, count int) []*testNode {
	t.Helper()
	var nodes []*testNode
	for i := range count {
		tn := &testNode{}
		cfg := gossip.Config{
			NodeID: fmt.Sprintf("n%d", i), URL: fmt.Sprintf("http://127.0.0.1:%d", 5280+i),
			Bind: "127.0.0.1:0", Local: true, Logger: slog.New(slog.DiscardHandler),
			Draining: tn.draining.Load, Sessions: tn.sessions.Load,
		}
		if i > 0 {
			cfg.Join = []string{nodes[0].g.Addr()}
		}
		g, err := gossip.New(cfg)
		require.NoError(t, err)
		tn.g = g
		t.Cleanup(func() { g.Close() })
		nodes = append(nodes, tn)
	}
	return nodes
}

func state(g *gossip.Gossip, id string) cluster.State {
	n, ok := g.Lookup(id)
	if !ok {
		return -1
	}
	return n.State
}

// Nodes learn each other's URL; a draining node is told as Draining and
// never picked for a new session; the one with fewer sessions is; a node
// that leaves is Left, one that stops without a word Suspect.
func TestGossip(t *testing.T) {
	nodes := start(t, 3)
	for _, n := range nodes {
		eventually(t, "every node seen", func() bool {
			for _, id := range []string{"n0", "n1", "n2"} {
				if state(n.g, id) != cluster.Ready {
					return false
				}
			}
			return true
		})
	}
	n2, _ := nodes[0].g.Lookup("n2")
	assert.Equal(t, "http://127.0.0.1:5282", n2.URL.String())
	_, ok := nodes[0].g.Lookup("n9")
	assert.False(t, ok, "an unknown node id")
	assert.Equal(t, "n0", nodes[0].g.Self())

	nodes[1].draining.Store(true)
	nodes[2].sessions.Store(7)
	require.NoError(t, nodes[1].g.Update(time.Second))
	require.NoError(t, nodes[2].g.Update(time.Second))
	eventually(t, "n1 draining", func() bool { return state(nodes[0].g, "n1") == cluster.Draining })
	for range 4 {
		p, ok := nodes[0].g.Pick()
		require.True(t, ok)
		assert.Equal(t, "n2", p.ID, "the only ready peer")
	}
	nodes[1].draining.Store(false)
	require.NoError(t, nodes[1].g.Update(time.Second))
	eventually(t, "n1 ready with no sessions picked", func() bool {
		p, _ := nodes[0].g.Pick()
		return p.ID == "n1"
	})

	require.NoError(t, nodes[1].g.Leave(time.Second))
	eventually(t, "n1 left", func() bool { return state(nodes[0].g, "n1") == cluster.Left })
	require.NoError(t, nodes[2].g.Close())
	eventually(t, "n2 suspect", func() bool { return state(nodes[0].g, "n2") == cluster.Suspect })
	_, ok = nodes[0].g.Pick()
	assert.False(t, ok, "no ready peer")
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []gossip.Config{
		{NodeID: "N1", URL: "http://a:1", Bind: "127.0.0.1:0"},
		{NodeID: "n1", URL: "a:1", Bind: "127.0.0.1:0"},
		{NodeID: "n1", URL: "http://a:1", Bind: "nonsense"},
	} {
		_, err := gossip.New(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}
