package faulttest_test

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/faulttest"
	"github.com/httpbind/httpbind/internal/prosodytest"
	"github.com/httpbind/httpbind/xmppstream"
)

const prosodyDomain = "example.test"

// The size of TestLosslessToProsodyUnderClientCuts; the full run is
//
//	go test ./internal/faulttest -run TestLosslessToProsody -args -prosody.seeds 5
var prosodySeeds = flag.Int("prosody.seeds", 1, "seeds of TestLosslessToProsodyUnderClientCuts")

// prosodyHandler starts Prosody and a handler relaying to it through the
// TCP upstream, with users u0… registered (password "pw<i>"). Without
// Prosody the test is skipped, or fails under CI (prosodytest.Lookup).
// stop shuts the handler down, ending the orphan sessions of lost creation
// responses and their upstream streams; it is idempotent.
func prosodyHandler(t *testing.T, users int) (h *bosh.Handler, url string, stop func()) {
	p := prosodytest.Start(t, prosodytest.Config{Domain: prosodyDomain})
	for i := range users {
		p.Register("u"+strconv.Itoa(i), "pw"+strconv.Itoa(i))
	}
	up, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{
		Addr:       p.C2SAddr,
		Domains:    []string{prosodyDomain},
		TLSConfig:  &tls.Config{RootCAs: p.CAPool},
		RequireTLS: true,
		Logger:     slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	h, err = bosh.NewHandler(up, bosh.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	hs := httptest.NewServer(h)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			h.Shutdown(sctx)
			hs.Close()
		})
	}
	t.Cleanup(stop)
	return h, hs.URL, stop
}

// prosodyRun is the scenario against Prosody: it runs without offline
// storage and drops a message to a user with no available resource, so
// every user is online before anyone sends.
func prosodyRun(url string, pairs, perSide int, transport http.RoundTripper) pairRun {
	return pairRun{
		url: url, domain: prosodyDomain, pairs: pairs, perSide: perSide,
		password:  func(i int) string { return "pw" + strconv.Itoa(i) },
		transport: transport, acks: true, online: true,
	}
}

// TestLosslessToProsodyThroughFaults is TestLosslessThroughFaults with the
// TCP upstream and Prosody behind the connection manager: 5 pairs of
// XMPP-over-BOSH sessions exchange 500 chat messages through a proxy that
// loses 10% of the responses, holds 1% past the client's timeout and
// delays 10% of the requests. The clients resend after a network failure
// (XEP-0124 §14) and acknowledge (§9). Every message arrives exactly once
// and in order. Only the HTTP side is faulty: the TCP connections to
// Prosody are not, so XEP-0198 is not needed for this guarantee.
func TestLosslessToProsodyThroughFaults(t *testing.T) {
	const pairs, perSide = 5, 50
	h, url, stop := prosodyHandler(t, 2*pairs)
	// Deferred first, so it runs last (Prosody's own watcher started
	// before the count).
	defer noGoroutinesLeft(t)()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // hang guard
	defer cancel()
	const seed = 20261124
	px := faulttest.New(faulttest.Config{
		Target: url,
		Cut:    0.10,
		Delay:  0.01, DelayBy: 3500 * time.Millisecond, // above wait 1s + 2s
		Reorder: 0.10, ReorderMax: 20 * time.Millisecond,
		Seed: seed,
	})
	defer px.Close()
	t.Logf("fault seed %d", seed)
	res := prosodyRun(px.URL+"/http-bind", pairs, perSide, nil).run(ctx)
	st := px.Stats()
	t.Logf("%v; proxy: %+v; handler: %+v", res, st, h.Stats())
	assertLossless(t, res)
	assert.Positive(t, st.Cut)
	assertSessionsEnded(t, h, res, 2*pairs)
}

// TestLosslessToProsodyUnderClientCuts is TestLosslessUnderClientCuts
// through the TCP upstream to Prosody: 10 pairs exchange 1,000 messages
// while 10% of their requests' connections are cut in every phase (see
// faulttest.Cutter), resends included.
func TestLosslessToProsodyUnderClientCuts(t *testing.T) {
	const pairs, perSide = 10, 50
	for seed := range uint64(*prosodySeeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			h, url, stop := prosodyHandler(t, 2*pairs)
			defer noGoroutinesLeft(t)()
			defer stop()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // hang guard
			defer cancel()
			base := &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
			defer base.CloseIdleConnections()
			cutter := faulttest.NewCutter(faulttest.CutConfig{Cut: 0.10, Match: hasSID, Seed: seed}, base)
			defer cutter.Close()
			res := prosodyRun(url, pairs, perSide, cutter).run(ctx)
			cs := cutter.Stats()
			t.Logf("%v; client cuts: %d of %d attempts (%d after the answer began); handler: %+v",
				res, cs.Cut, cs.Requests, cs.Answered, h.Stats())
			assertLossless(t, res)
			assert.Positive(t, cs.Cut)
			assertSessionsEnded(t, h, res, 2*pairs)
		})
	}
}
