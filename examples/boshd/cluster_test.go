package main

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/proxytest"
)

func TestParseFlagsCluster(t *testing.T) {
	runFlagCases(t, []flagCase{
		{name: "a node id becomes the sid prefix", args: []string{"-node-id", "n2"},
			check: func(t *testing.T, o *options) { assert.Equal(t, "n2", o.handlerConfig().SIDPrefix) }},
		{name: "a node alone: no node id, no drain by default", args: nil,
			check: func(t *testing.T, o *options) {
				assert.Empty(t, o.handlerConfig().SIDPrefix)
				assert.Zero(t, o.cluster.drainTimeout)
				assert.False(t, o.cluster.clustered())
			}},
		{name: "a node alone drains when asked", args: []string{"-drain-timeout", "30s"},
			check: func(t *testing.T, o *options) { assert.Equal(t, 30*time.Second, o.cluster.drainTimeout) }},
		{name: "a node among several drains 5 minutes by default", args: []string{"-node-id", "n1", "-peers", "n1=http://a:1"},
			check: func(t *testing.T, o *options) { assert.Equal(t, bosh.DefaultDrainTimeout, o.cluster.drainTimeout) }},
		{name: "static peers", args: []string{"-node-id", "n1", "-peers", "n1=http://10.0.0.1:5280,n2=http://10.0.0.2:5280"},
			check: func(t *testing.T, o *options) {
				assert.True(t, o.cluster.clustered())
				m, err := o.cluster.membership()
				require.NoError(t, err)
				assert.Equal(t, "n1", m.Self())
			}},
		{name: "DNS peers", args: []string{"-node-id", "boshd-0", "-peers-dns", "http://{id}.boshd-peers:5280"},
			check: func(t *testing.T, o *options) { assert.True(t, o.cluster.clustered()) }},
		{name: "a node id bosh.Config refuses is named by its flag", args: []string{"-node-id", "N 2"},
			error: `-node-id "N 2": want 1 to 16 characters a-z, 0-9 and -`},
		{name: "peers without a node id", args: []string{"-peers", "n1=http://a:1"}, error: "need -node-id"},
		{name: "this node not among the peers", args: []string{"-node-id", "n3", "-peers", "n1=http://a:1"}, error: "-peers: cluster: this node"},
		{name: "a bad peer", args: []string{"-node-id", "n1", "-peers", "n1=ftp://a:1"}, error: "-peers: cluster: peer"},
		{name: "both memberships", args: []string{"-node-id", "n1", "-peers", "n1=http://a:1", "-peers-dns", "http://{id}:1"}, error: "give one"},
		{name: "gossip", args: []string{"-node-id", "n1", "-gossip", "10.0.0.1:7946", "-join", "10.0.0.2:7946, 10.0.0.3:7946"},
			check: func(t *testing.T, o *options) {
				assert.True(t, o.cluster.clustered())
				assert.Equal(t, []string{"10.0.0.2:7946", "10.0.0.3:7946"}, o.cluster.join)
				assert.Equal(t, bosh.DefaultDrainTimeout, o.cluster.drainTimeout)
			}},
		{name: "gossip and peers", args: []string{"-node-id", "n1", "-gossip", "10.0.0.1:7946", "-peers", "n1=http://a:1"}, error: "give one"},
		{name: "gossip without a node id", args: []string{"-gossip", "10.0.0.1:7946"}, error: "need -node-id"},
		{name: "join without gossip", args: []string{"-node-id", "n1", "-join", "10.0.0.2:7946"}, error: "-join needs -gossip"},
		{name: "a bad gossip address", args: []string{"-node-id", "n1", "-gossip", "10.0.0.1"}, error: "-gossip"},
		{name: "a DNS template without {id}", args: []string{"-node-id", "n1", "-peers-dns", "http://peers:1"}, error: "-peers-dns"},
		{name: "a negative drain timeout", args: []string{"-drain-timeout", "-1s"}, error: "-drain-timeout"},
	})
}

func postBody(t *testing.T, url, body string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

const ns = "http://jabber.org/protocol/httpbind"

// assertForwarded creates a session on n1 and terminates it through n2,
// which forwards the request to n1, the owner named in the sid.
func assertForwarded(t *testing.T, n1, n2 *boshd) {
	t.Helper()
	_, created := postBody(t, n1.url, "<body rid='1000' to='localhost' wait='5' hold='1' ver='1.11' xmlns='"+ns+"'/>")
	m := regexp.MustCompile(`sid='(n1\.[^']+)'`).FindStringSubmatch(created)
	require.NotNil(t, m, created)
	status, got := postBody(t, n2.url, "<body rid='1001' sid='"+m[1]+"' type='terminate' xmlns='"+ns+"'/>")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, got, "type='terminate'")
	assert.NotContains(t, got, "item-not-found", "served by n1")
}

// Two boshd nodes with -peers: a request of n1's session sent to n2 is
// forwarded to n1 and served there.
func TestRunTwoNodes(t *testing.T) {
	a1, a2 := proxytest.FreeAddr(t), proxytest.FreeAddr(t)
	peers := "n1=http://" + a1 + ",n2=http://" + a2
	common := []string{"-peers", peers, "-trusted-proxies", "127.0.0.1", "-log-level", "error", "-max-wait", "100s"} // a forward outlasts any wait
	n1 := start(t, append([]string{"-node-id", "n1", "-listen", a1}, common...)...)
	n2 := start(t, append([]string{"-node-id", "n2", "-listen", a2}, common...)...)

	assertForwarded(t, n1, n2)
	status, got := postBody(t, n2.url, "<body rid='1' sid='n7.AAAA' xmlns='"+ns+"'/>")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, got, "item-not-found", "no node n7 (XEP-0124 §17.2)")
}

// Two boshd nodes that find each other by gossip (-gossip, -join): a
// request of n1's session sent to n2 is forwarded to n1.
func TestRunGossip(t *testing.T) {
	g1 := proxytest.FreeAddr(t)
	common := []string{"-trusted-proxies", "127.0.0.1", "-log-level", "error"}
	n1 := start(t, append([]string{"-node-id", "n1", "-gossip", g1}, common...)...)
	n2 := start(t, append([]string{"-node-id", "n2", "-gossip", proxytest.FreeAddr(t), "-join", g1}, common...)...)

	assertForwarded(t, n1, n2)
}

// Gossip needs an address the other nodes reach: -listen's, or -gossip's.
func TestAdvertisedURL(t *testing.T) {
	for _, tc := range []struct {
		listen, gossip, want, err string
	}{
		{"10.0.0.1:5280", "0.0.0.0:7946", "http://10.0.0.1:5280", ""},
		{"0.0.0.0:5280", "10.0.0.1:7946", "http://10.0.0.1:5280", ""},
		{"[::]:5280", "[2001:db8::1]:7946", "http://[2001:db8::1]:5280", ""},
		{"0.0.0.0:5280", "0.0.0.0:7946", "", "must name an IP address"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.listen)
		require.NoError(t, err)
		got, err := advertisedURL(addr, tc.gossip)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

// POST /drain from loopback: readiness goes off, a session goes on until
// it ends, then run returns.
func TestDrainEndpoint(t *testing.T) {
	ctx := testContext(t)
	d := start(t, "-drain-timeout", "1m")
	c := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "localhost"))
	_, err := c.Login(ctx, "alice", d.accounts["alice"], "r")
	require.NoError(t, err)

	status, msg := postBody(t, d.base+"/drain", "")
	require.Equal(t, http.StatusAccepted, status, msg)
	res, err := http.Get(d.base + "/readyz")
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Contains(t, string(b), "draining")

	require.NoError(t, c.Send(ctx, []byte("<presence xmlns='jabber:client'/>")), "the session goes on")
	require.NoError(t, c.Terminate(ctx))
	select {
	case err := <-d.errc:
		assert.NoError(t, err)
		d.errc <- err
	case <-ctx.Done():
		t.Fatal("run did not return after the last session ended")
	}
}

// The README's Kubernetes manifests: YAML that parses, a headless Service
// that publishes pods that are not ready (a draining pod keeps its DNS
// name), and boshd arguments that parseFlags takes, with the node id a
// pod name.
func TestReadmeKubernetes(t *testing.T) {
	dec := yaml.NewDecoder(strings.NewReader(readmeConfig(t, "kubernetes")))
	var svc struct {
		Kind string
		Spec struct {
			ClusterIP                string `yaml:"clusterIP"`
			PublishNotReadyAddresses bool   `yaml:"publishNotReadyAddresses"`
		}
	}
	require.NoError(t, dec.Decode(&svc))
	assert.Equal(t, "Service", svc.Kind)
	assert.Equal(t, "None", svc.Spec.ClusterIP)
	assert.True(t, svc.Spec.PublishNotReadyAddresses)
	var sts struct {
		Kind string
		Spec struct {
			ServiceName string `yaml:"serviceName"`
			Template    struct {
				Spec struct {
					TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
					Containers                    []struct{ Args []string }
				}
			}
		}
	}
	require.NoError(t, dec.Decode(&sts))
	assert.Equal(t, "StatefulSet", sts.Kind)
	assert.Equal(t, "boshd-peers", sts.Spec.ServiceName)
	spec := sts.Spec.Template.Spec
	require.Len(t, spec.Containers, 1)
	args := strings.Split(strings.ReplaceAll(strings.Join(spec.Containers[0].Args, "\x00"), "$(POD_NAME)", "boshd-1"), "\x00")
	o, err := parseConfig(args, nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "boshd-1", o.handlerConfig().SIDPrefix)
	assert.Greater(t, time.Duration(spec.TerminationGracePeriodSeconds)*time.Second, o.cluster.drainTimeout)
}
