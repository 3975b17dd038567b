package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
)

func TestParsePeers(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		want       map[string]string
		err        string
	}{
		{"two nodes", "n1=http://10.0.0.1:5280, n2=http://10.0.0.2:5280",
			map[string]string{"n1": "http://10.0.0.1:5280", "n2": "http://10.0.0.2:5280"}, ""},
		{"https and blanks", " a-1=https://a.example ,,", map[string]string{"a-1": "https://a.example"}, ""},
		{"empty", " , ", nil, "no peers"},
		{"no id", "http://10.0.0.1:5280", nil, "want id=http://host:port"},
		{"a bad id", "N1=http://10.0.0.1:5280", nil, "want id=http://host:port"},
		{"not http", "n1=tcp://10.0.0.1:5280", nil, "want id=http://host:port"},
		{"no host", "n1=http://", nil, "want id=http://host:port"},
		{"twice", "n1=http://a,n1=http://b", nil, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cluster.ParsePeers(tc.list)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// FuzzParsePeers: no panic; every node of a list that parses makes a
// valid Static membership.
func FuzzParsePeers(f *testing.F) {
	for _, s := range []string{"n1=http://10.0.0.1:5280,n2=http://[::1]:5280", "", "=", "a=b=c", "n1=https://x/y?z", "n1=http://a,,n2=http://b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		peers, err := cluster.ParsePeers(list)
		if err != nil {
			return
		}
		for id := range peers {
			require.True(t, bosh.ValidNodeID(id))
			m, err := cluster.NewStatic(id, peers)
			require.NoError(t, err)
			n, ok := m.Lookup(id)
			require.True(t, ok)
			require.Equal(t, id, n.ID)
		}
	})
}

func TestStatic(t *testing.T) {
	m, err := cluster.NewStatic("n1", map[string]string{"n1": "http://a:1", "n2": "http://b:2", "n3": "http://c:3"})
	require.NoError(t, err)
	assert.Equal(t, "n1", m.Self())
	n, ok := m.Lookup("n2")
	require.True(t, ok)
	assert.Equal(t, "http://b:2", n.URL.String())
	assert.Equal(t, cluster.Ready, n.State)
	_, ok = m.Lookup("n9")
	assert.False(t, ok)
	var picked []string
	for range 4 {
		n, ok := m.Pick()
		require.True(t, ok)
		picked = append(picked, n.ID)
	}
	assert.Equal(t, []string{"n2", "n3", "n2", "n3"}, picked, "the other nodes in turn")

	_, err = cluster.NewStatic("n4", map[string]string{"n1": "http://a:1"})
	assert.ErrorContains(t, err, "not among the nodes")
	alone, err := cluster.NewStatic("n1", map[string]string{"n1": "http://a:1"})
	require.NoError(t, err)
	_, ok = alone.Pick()
	assert.False(t, ok, "no other node")
}

func TestDNS(t *testing.T) {
	m, err := cluster.NewDNS("boshd-0", "http://{id}.boshd-peers:5280")
	require.NoError(t, err)
	n, ok := m.Lookup("boshd-2")
	require.True(t, ok)
	assert.Equal(t, "http://boshd-2.boshd-peers:5280", n.URL.String())
	_, ok = m.Lookup("Not.An.Id")
	assert.False(t, ok)
	_, ok = m.Pick()
	assert.False(t, ok)
	for _, bad := range []string{"http://boshd-peers:5280", "tcp://{id}:5280", "http://x/{id}"} {
		_, err := cluster.NewDNS("boshd-0", bad)
		assert.Error(t, err, bad)
	}
}

// New refuses a bosh.Handler whose sids would not name this node, and a
// ResponseTimeout a held request can outlast (XEP-0124 §8).
func TestNewErrors(t *testing.T) {
	m, err := cluster.NewStatic("n1", map[string]string{"n1": "http://a:1"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		bcfg bosh.Config
		cfg  cluster.Config
		err  string
	}{
		{"no SIDPrefix", bosh.Config{}, cluster.Config{Membership: m}, `SIDPrefix "" is not this node's id "n1"`},
		{"another node's prefix", bosh.Config{SIDPrefix: "n2"}, cluster.Config{Membership: m}, `SIDPrefix "n2"`},
		{"a timeout below MaxWait", bosh.Config{SIDPrefix: "n1"}, cluster.Config{Membership: m, ResponseTimeout: 10 * time.Second}, "want more than bosh.Config.MaxWait (45s)"},
		{"no membership", bosh.Config{SIDPrefix: "n1"}, cluster.Config{}, "nil bosh.Handler or Membership"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := bosh.NewHandler(echo, tc.bcfg)
			require.NoError(t, err)
			_, err = cluster.New(h, tc.cfg)
			assert.ErrorContains(t, err, tc.err)
		})
	}
}
