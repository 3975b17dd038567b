package faulttest_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/faulttest"
	"github.com/httpbind/httpbind/internal/syncbuf"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// The size of TestLosslessUnderClientCuts. `make test` runs the defaults
// under the race detector; the full run is
//
//	go test ./internal/faulttest -run TestLosslessUnderClientCuts -timeout 60m \
//	    -args -cut.pairs 100 -cut.msgs 50 -cut.seeds 20
var (
	cutPairs   = flag.Int("cut.pairs", 20, "pairs of sessions in each TestLosslessUnderClientCuts run")
	cutPerSide = flag.Int("cut.msgs", 20, "messages each user sends in each TestLosslessUnderClientCuts run")
	cutSeeds   = flag.Int("cut.seeds", 2, "seeds for each cut rate")
	cutRates   = flag.String("cut.rates", "0.1,0.3", "cut rates, comma-separated")
)

// hasSID picks the requests of an existing session: a creation request
// whose response is lost cannot be resent (XEP-0124 §7.1).
func hasSID(body []byte) bool { return bytes.Contains(body, []byte(" sid='")) }

// TestLosslessUnderClientCuts: pairs of XMPP-over-BOSH sessions chat while
// their clients' connections break in every phase of a request (XEP-0124
// §14.3): before the connection manager read it, while it forwarded the
// payloads, while it held the request, and after it answered. A Cutter
// writes the request in full, waits until the server's TCP stack has every
// byte, and closes the connection at a random moment up to 10ms later; the
// client resends the identical request on a new connection, and the resend
// may be cut again, up to five times in a row. Half the runs also go
// through a proxy that delays 10% of the requests (so that a client's
// requests and their copies arrive out of order) and loses 2% of the
// responses after the connection manager answered. Half the runs'
// clients acknowledge responses (§9.2). Every message arrives exactly once, in
// order, and every session ends by its client's terminate.
func TestLosslessUnderClientCuts(t *testing.T) {
	defer noGoroutinesLeft(t)()
	rates := strings.Split(*cutRates, ",")
	for _, rs := range rates {
		rate, err := strconv.ParseFloat(rs, 64)
		require.NoError(t, err, "-cut.rates")
		for seed := range uint64(*cutSeeds) {
			// Seeds 0, 1, 2, 3: direct with acks, proxied without,
			// direct without, proxied with; and so on.
			proxied, acks := seed%2 == 1, seed%4 == 0 || seed%4 == 3
			name := fmt.Sprintf("cut=%v/seed=%d/proxy=%v/acks=%v", rate, seed, proxied, acks)
			t.Run(name, func(t *testing.T) {
				clientCutRun(t, rate, seed, proxied, acks)
			})
		}
	}
}

func clientCutRun(t *testing.T, rate float64, seed uint64, proxied, acks bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // hang guard
	defer cancel()
	srv, err := xmpptest.NewServer(xmpptest.Config{})
	require.NoError(t, err)
	defer srv.Close()
	users := 2 * *cutPairs
	for i := range users {
		require.NoError(t, srv.Core.AddUser("u"+strconv.Itoa(i), "pw"))
	}
	target := srv.URL
	var px *faulttest.Proxy
	if proxied {
		px = faulttest.New(faulttest.Config{
			Target: srv.URL, Cut: 0.02,
			Reorder: 0.10, ReorderMax: 20 * time.Millisecond,
			Seed: seed,
		})
		defer px.Close()
		target = px.URL + "/http-bind"
	}
	base := &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	defer base.CloseIdleConnections()
	cutter := faulttest.NewCutter(faulttest.CutConfig{Cut: rate, Match: hasSID, Seed: seed}, base)
	defer cutter.Close()
	traces := make([]*syncbuf.Buffer, users)
	res := pairRun{
		url: target, domain: "localhost", pairs: *cutPairs, perSide: *cutPerSide,
		password: func(int) string { return "pw" }, transport: cutter, acks: acks,
		traces: traces,
	}.run(ctx)
	logFirstFailure(t, res, traces)
	cs := cutter.Stats()
	t.Logf("%v; client cuts: %d of %d attempts (%d after the answer began); handler: %+v",
		res, cs.Cut, cs.Requests, cs.Answered, srv.Handler.Stats())
	if px != nil {
		t.Logf("proxy: %+v", px.Stats())
	}
	assertLossless(t, res)
	assert.Positive(t, cs.Cut)
	assertSessionsEnded(t, srv.Handler, res, users)
}

// TestLosslessThroughFaults: 100 pairs of XMPP-over-BOSH sessions exchange
// 10,000 chat messages through a proxy that loses 10% of the responses
// (the client's connection is cut after the connection manager answered),
// holds 1% past the client's timeout, and delays 10% of the requests so
// that a client's two requests arrive out of order. The clients behave as
// XEP-0124 §14 asks (resend the same rid after a network failure) and
// acknowledge responses (§9). Every message arrives exactly once, in the
// order sent, and every session ends by its client's terminate.
func TestLosslessThroughFaults(t *testing.T) {
	defer noGoroutinesLeft(t)()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const pairs, perSide = 100, 50
	srv, err := xmpptest.NewServer(xmpptest.Config{})
	require.NoError(t, err)
	defer srv.Close()
	const seed = 20261123
	px := faulttest.New(faulttest.Config{
		Target: srv.URL,
		Cut:    0.10,
		// Above the clients' request timeout (wait 1s + 2s).
		Delay: 0.01, DelayBy: 3500 * time.Millisecond,
		Reorder: 0.10, ReorderMax: 20 * time.Millisecond,
		Seed: seed,
	})
	defer px.Close()
	t.Logf("fault seed %d", seed)
	users := 2 * pairs
	for i := range users {
		require.NoError(t, srv.Core.AddUser("u"+strconv.Itoa(i), "pw"))
	}
	res := pairRun{
		url: px.URL + "/http-bind", domain: "localhost", pairs: pairs, perSide: perSide,
		password: func(int) string { return "pw" }, acks: true,
	}.run(ctx)
	st := px.Stats()
	t.Logf("%v; proxy: %+v; handler: %+v", res, st, srv.Handler.Stats())
	assertLossless(t, res)
	assert.Equal(t, 2*pairs*perSide, res.delivered)
	assert.Positive(t, st.Cut)
	assert.Positive(t, st.Delayed)
	assert.Positive(t, st.Reordered)
	assertSessionsEnded(t, srv.Handler, res, users)
}

// TestReconnectStorm: 1,000 clients create sessions at the same moment,
// as after a restart, against the default limits (a burst of 400, then
// 200 a second). The creations over the rate get HTTP 503 with
// Retry-After, not a terminal condition; the clients send them again
// after the delay, and every one logs in. Under the race detector, whose
// slowness keeps 1,000 creations under 200 a second, 200 clients meet a
// limit of 20 a second with a burst of 40 instead.
func TestReconnectStorm(t *testing.T) {
	defer noGoroutinesLeft(t)()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard
	defer cancel()
	users, cfg := 1000, bosh.Config{}
	if raceDetector {
		users, cfg = 200, bosh.Config{SessionsPerSecond: 20, SessionBurst: 40}
	}
	srv, err := xmpptest.NewServer(xmpptest.Config{Handler: cfg})
	require.NoError(t, err)
	defer srv.Close()
	for i := range users {
		require.NoError(t, srv.Core.AddUser("u"+strconv.Itoa(i), "pw"))
	}
	base := &http.Transport{MaxIdleConnsPerHost: users, IdleConnTimeout: 30 * time.Second}
	defer base.CloseIdleConnections()
	hc := &http.Client{Transport: base}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
	)
	clients := make([]*boshtest.Client, users)
	start := make(chan struct{})
	for i := range users {
		wg.Go(func() {
			c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{HTTPClient: hc, Wait: time.Second})
			clients[i] = c
			<-start
			err := c.Connect(ctx, "localhost")
			if err == nil {
				_, err = c.Login(ctx, "u"+strconv.Itoa(i), "pw", "r")
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, fmt.Errorf("u%d: %w", i, err))
				mu.Unlock()
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	st := srv.Handler.Stats()
	t.Logf("%d logins in %v; %d creations answered 503 and resent; handler: %+v",
		users-len(failures), time.Since(began).Round(time.Millisecond), st.Overloaded, st)
	assert.Empty(t, failures)
	assert.Equal(t, int64(users), st.Sessions, "every client has its session")
	assert.Empty(t, st.Ended, "no session ended")
	// At once, 1,000 creations exceed the burst of bosh.DefaultSessionBurst
	// (how many exactly depends on how fast they come in).
	assert.Positive(t, st.Overloaded, "over the burst, creations were refused with 503")
	assert.Equal(t, st.Overloaded, st.Refused["rate"], "by the rate limit")
	for _, c := range clients {
		wg.Go(func() { c.Terminate(ctx) })
	}
	wg.Wait()
}

// TestLosslessUnderH2cConnectionCuts: pairs of sessions chat over h2c,
// every client's streams multiplexed on one HTTP/2 connection, while that
// connection breaks: after the client writes frames carrying a session's
// request, the connection is closed at a random moment up to 10ms later,
// so that the cut lands before the server read the request, while it
// forwarded its payloads, while the stream was held (parked, detached from
// its handler) and after it answered. Every stream on the connection fails
// at once; each client resends its requests on a new connection (XEP-0124
// §14.3). Every message arrives exactly once, in order, and every session
// ends by its client's terminate.
func TestLosslessUnderH2cConnectionCuts(t *testing.T) {
	defer noGoroutinesLeft(t)()
	for _, tc := range []struct {
		rate float64
		seed uint64
	}{{0.02, 1}, {0.05, 2}} {
		t.Run(fmt.Sprintf("cut=%v/seed=%d", tc.rate, tc.seed), func(t *testing.T) {
			h2cCutRun(t, tc.rate, tc.seed)
		})
	}
}

func h2cCutRun(t *testing.T, rate float64, seed uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // hang guard
	defer cancel()
	srv, err := xmpptest.NewServer(xmpptest.Config{})
	require.NoError(t, err)
	defer srv.Close()
	pairs := 10
	for i := range 2 * pairs {
		require.NoError(t, srv.Core.AddUser("u"+strconv.Itoa(i), "pw"))
	}
	cuts := &h2Cutter{rate: rate, rng: rand.New(rand.NewPCG(seed, 0))}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, DialContext: cuts.dial}
	defer tr.CloseIdleConnections()
	traces := make([]*syncbuf.Buffer, 2*pairs)
	res := pairRun{
		url: srv.URL, domain: "localhost", pairs: pairs, perSide: 20,
		password: func(int) string { return "pw" }, transport: tr, acks: seed%2 == 0,
		traces: traces,
	}.run(ctx)
	logFirstFailure(t, res, traces)
	cs := cuts.stats()
	t.Logf("%v; %d connections, %d cut; handler: %+v", res, cs.dials, cs.cut, srv.Handler.Stats())
	assertLossless(t, res)
	assert.Positive(t, cs.cut)
	// A cut also kills creation requests in flight on the connection,
	// some before the server read them: the orphans counted are at most
	// the sessions left.
	left := sessionsLeft(t, srv.Handler, res, 2*pairs)
	assert.LessOrEqual(t, left, res.orphans, "only orphans of lost creation requests are left or timed out")
}

// An h2Cutter dials the clients' HTTP/2 connections and closes one, at a
// random moment up to 10ms later, after a write that carries a session's
// request (a DATA frame's body with a sid: h2c sends it as it is), with
// probability rate; at most one cut is pending per connection.
type h2Cutter struct {
	rate float64

	mu    sync.Mutex
	rng   *rand.Rand
	dials int
	cut   int
}

type h2CutStats struct{ dials, cut int }

func (c *h2Cutter) stats() h2CutStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return h2CutStats{c.dials, c.cut}
}

func (c *h2Cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.dials++
	c.mu.Unlock()
	return &cutConn{Conn: conn, c: c}, nil
}

// A cutConn is one connection an h2Cutter may cut.
type cutConn struct {
	net.Conn
	c       *h2Cutter
	pending atomic.Bool
}

func (k *cutConn) Write(p []byte) (int, error) {
	n, err := k.Conn.Write(p)
	if err != nil || !hasSID(p) || k.pending.Load() {
		return n, err
	}
	c := k.c
	c.mu.Lock()
	cut := c.rng.Float64() < c.rate
	delay := time.Duration(c.rng.Int64N(int64(10 * time.Millisecond)))
	if cut {
		c.cut++
	}
	c.mu.Unlock()
	if cut && k.pending.CompareAndSwap(false, true) {
		time.AfterFunc(delay, func() { k.Conn.Close() })
	}
	return n, err
}
