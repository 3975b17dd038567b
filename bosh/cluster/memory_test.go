package cluster_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
)

const ns = "http://jabber.org/protocol/httpbind"

// memNet carries forwarded requests between in-process nodes without a
// network, so that tests can run in a testing/synctest bubble: each node's
// cluster.Handler serves what the transport delivers to its URL.
type memNet struct {
	mu    sync.Mutex
	nodes map[string]http.Handler // by host
	// hold, when set, is called with each forwarded request after the
	// owner answered it and before the answer goes back.
	hold  func(r *http.Request)
	trips atomic.Int32
	// secure records each upstream stream's OpenRequest.Secure.
	secure []bool
}

// memNode is one in-process node.
type memNode struct {
	h *bosh.Handler
	c *cluster.Handler
}

// newMemNet starts nodes n0…n(count-1) at http://nX.test, trusting the
// forwarding nodes' address 192.0.2.10.
func newMemNet(t *testing.T, count int, cfg cluster.Config) (*memNet, []*memNode) {
	t.Helper()
	mn := &memNet{nodes: map[string]http.Handler{}}
	urls := map[string]string{}
	for i := range count {
		id := "n" + string(rune('0'+i))
		urls[id] = "http://" + id + ".test"
	}
	var nodes []*memNode
	up := bosh.UpstreamFunc(func(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
		mn.mu.Lock()
		mn.secure = append(mn.secure, req.Secure)
		mn.mu.Unlock()
		return echoStream{sink}, nil
	})
	for id := range count {
		id := "n" + string(rune('0'+id))
		h, err := bosh.NewHandler(up, bosh.Config{SIDPrefix: id, TrustedProxies: []string{"192.0.2.10"}, MaxWait: 2 * time.Second, Logger: quiet})
		require.NoError(t, err)
		m, err := cluster.NewStatic(id, urls)
		require.NoError(t, err)
		cc := cfg
		cc.Membership, cc.Transport, cc.Logger = m, mn, quiet
		c, err := cluster.New(h, cc)
		require.NoError(t, err)
		mn.nodes[id+".test"] = c
		nodes = append(nodes, &memNode{h: h, c: c})
		t.Cleanup(func() { h.Shutdown(context.Background()) })
	}
	return mn, nodes
}

// RoundTrip serves r with the handler of its host, as from 192.0.2.10.
func (mn *memNet) RoundTrip(r *http.Request) (*http.Response, error) {
	mn.trips.Add(1)
	h := mn.nodes[r.URL.Host]
	if h == nil {
		return nil, &net404{}
	}
	in := r.Clone(r.Context())
	in.RemoteAddr, in.RequestURI = "192.0.2.10:40000", r.URL.RequestURI()
	rec := httptest.NewRecorder()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(rec, in)
	}()
	if p := <-done; p != nil {
		return nil, errors.New("memnet: stream reset") // http.ErrAbortHandler
	}
	if mn.hold != nil {
		mn.hold(r)
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// net404 is what dialing an unknown host gives.
type net404 struct{}

func (*net404) Error() string { return "memnet: no such host" }

// post sends a body to a node's cluster handler and returns the answer.
func post(h http.Handler, body string, secure bool, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(body))
	if secure {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

var sidRE = regexp.MustCompile(`sid='([^']+)'`)

// create makes a session through h and returns its sid.
func create(t *testing.T, h http.Handler, rid string, secure bool) string {
	t.Helper()
	rec := post(h, "<body rid='"+rid+"' to='example.com' wait='60' hold='1' ver='1.11' xmlns='"+ns+"'/>", secure)
	m := sidRE.FindStringSubmatch(rec.Body.String())
	require.NotNil(t, m, "%d %s", rec.Code, rec.Body.String())
	return m[1]
}

// body is a request of session sid with rid and payload.
func body(sid, rid, payload string) string {
	return "<body rid='" + rid + "' sid='" + sid + "' xmlns='" + ns + "'>" + payload + "</body>"
}
