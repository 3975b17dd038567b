package cluster_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
)

// echo is an upstream that sends every payload back to the client.
var echo = bosh.UpstreamFunc(func(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
	return echoStream{sink}, nil
})

type echoStream struct{ sink bosh.Sink }

func (e echoStream) Send(ctx context.Context, req *bosh.Request) error {
	if !req.Terminate && len(req.Payloads) > 0 {
		e.sink.Deliver(req.Payloads...)
	}
	return nil
}

func (echoStream) Close(bosh.Closing) {}

// node is one node of a test cluster: a bosh.Handler behind its
// cluster.Handler, served with h2c on 127.0.0.1.
type node struct {
	id   string
	h    *bosh.Handler
	c    *cluster.Handler
	srv  *httptest.Server
	url  *url.URL
	down atomic.Bool // killed: the test's load balancer skips it
}

// testCluster is nodes behind a round-robin load balancer without
// stickiness, as an httputil.ReverseProxy.
type testCluster struct {
	nodes []*node
	lb    *httptest.Server
	next  atomic.Uint64
	// URL is the BOSH endpoint at the load balancer.
	URL string
}

// newCluster starts n nodes, ids n0, n1, …, each trusting 127.0.0.1 as a
// proxy (the other nodes and the load balancer), and the load balancer.
func newCluster(t *testing.T, n int, cfg cluster.Config, bcfg bosh.Config) *testCluster {
	t.Helper()
	tc := &testCluster{}
	urls := map[string]string{}
	for i := range n {
		srv := httptest.NewUnstartedServer(nil)
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		nd := &node{id: "n" + string(rune('0'+i)), srv: srv}
		nd.url = &url.URL{Scheme: "http", Host: srv.Listener.Addr().String()}
		urls[nd.id] = nd.url.String()
		tc.nodes = append(tc.nodes, nd)
	}
	for _, nd := range tc.nodes {
		bc := bcfg
		bc.SIDPrefix, bc.TrustedProxies = nd.id, []string{"127.0.0.1"}
		bc.SessionsPerSecond, bc.SessionBurst = 1e6, 1<<20
		bc.Logger = quiet
		h, err := bosh.NewHandler(echo, bc)
		require.NoError(t, err)
		m, err := cluster.NewStatic(nd.id, urls)
		require.NoError(t, err)
		cc := cfg
		cc.Membership, cc.Logger = m, quiet
		c, err := cluster.New(h, cc)
		require.NoError(t, err)
		nd.h, nd.c = h, c
		mux := http.NewServeMux()
		mux.Handle("/http-bind", c)
		nd.srv.Config.Handler = mux
		nd.srv.Start()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	lb := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(tc.pick().url)
			pr.SetXForwarded()
		},
		ErrorHandler: lbFailed,
		ErrorLog:     log.New(io.Discard, "", 0),
	}
	tc.lb = httptest.NewServer(lb)
	tc.URL = tc.lb.URL + "/http-bind"
	t.Cleanup(func() {
		tc.lb.Close()
		for _, nd := range tc.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			nd.h.Shutdown(ctx)
			cancel()
			nd.srv.Close()
		}
		tr.CloseIdleConnections()
	})
	return tc
}

// quiet discards logs.
var quiet = slog.New(slog.DiscardHandler)

// lbFailed is the load balancer's answer when a node fails a request in
// flight (a node killed while it held the request): HTTP 503 with
// Retry-After, so that the client sends the same rid again (XEP-0124
// §14.3), as HAProxy's 'retry-on' and 'option redispatch' would resend it
// to another node.
func lbFailed(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
}

// pick returns the next node that is not down, round-robin, as a load
// balancer whose health check saw the killed node go.
func (tc *testCluster) pick() *node {
	for range len(tc.nodes) {
		nd := tc.nodes[tc.next.Add(1)%uint64(len(tc.nodes))]
		if !nd.down.Load() {
			return nd
		}
	}
	return tc.nodes[0]
}

// kill stops a node as kill -9 would: its listener and connections close,
// its sessions are lost.
func (tc *testCluster) kill(nd *node) {
	nd.down.Store(true)
	nd.srv.Listener.Close()
	nd.srv.CloseClientConnections()
}

// owner returns the node that owns sid.
func (tc *testCluster) owner(t *testing.T, sid string) *node {
	id, ok := bosh.SIDPrefixOf(sid)
	require.True(t, ok, sid)
	for _, nd := range tc.nodes {
		if nd.id == id {
			return nd
		}
	}
	t.Fatalf("no node %q", id)
	return nil
}
