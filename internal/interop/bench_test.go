package interop

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/prosodytest"
)

// BenchmarkStanzaLatency measures what a stanza's trip costs through this
// connection manager (bosh.Handler + xmppstream.TCPUpstream → Prosody's
// c2s port) compared with Prosody's own mod_bosh, on the same machine and
// Prosody, in one run. User A is a boshtest.Client on BOSH (with one
// request held, as browsers do); user B is connected to Prosody directly.
// Each iteration B sends a message to A and waits until A's Receive
// returns it ("down"), then A sends one to B and waits until B reads it
// ("up"); ns/op is the round trip, and the p50 and p99 of each direction
// are reported as metrics. via=direct-c2s, with A on Prosody's c2s port
// too, is the baseline without BOSH.
//
//	go test -run '^$' -bench StanzaLatency -benchtime 200x ./internal/interop
func BenchmarkStanzaLatency(b *testing.B) {
	e := newEnv(b)
	for _, via := range []struct{ name, url string }{
		{"boshd-tcp", e.url},
		{"prosody-mod_bosh", e.prosody.BOSHURL},
		{"direct-c2s", ""}, // baseline: A on Prosody's c2s port too
	} {
		b.Run("via="+via.name, func(b *testing.B) { benchLatency(b, e, via.url, via.name) })
	}
}

// endpoint is user A's side of the benchmark.
type endpoint struct {
	jid     string
	send    func(ctx context.Context, stanza []byte) error
	receive func(ctx context.Context) message
}

// connectA logs A in with resource on BOSH at url, or directly over TCP
// when url is "". The session ends with the benchmark.
func connectA(ctx context.Context, b *testing.B, e *env, url, resource string) endpoint {
	if url == "" {
		a, err := prosodytest.Dial(ctx, e.prosody.C2SAddr, domain, "alice", alicePass, e.prosody.CAPool, resource)
		require.NoError(b, err)
		b.Cleanup(func() { a.Close() })
		return endpoint{
			jid:     a.JID(),
			send:    func(_ context.Context, s []byte) error { return a.Send(s) },
			receive: func(ctx context.Context) message { return nextMessage(ctx, b, a) },
		}
	}
	a := boshtest.NewClient(url, boshtest.ClientConfig{})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Terminate(ctx)
	})
	require.NoError(b, a.Connect(ctx, domain))
	jid, err := a.Login(ctx, "alice", alicePass, resource)
	require.NoError(b, err)
	return endpoint{
		jid:     jid,
		send:    a.Send,
		receive: func(ctx context.Context) message { return receiveMessage(ctx, b, a) },
	}
}

func benchLatency(b *testing.B, e *env, url, resource string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	alice := connectA(ctx, b, e, url, resource)
	bob, err := prosodytest.Dial(ctx, e.prosody.C2SAddr, domain, "bob", bobPass, e.prosody.CAPool, "")
	require.NoError(b, err)
	defer bob.Close()

	roundTrip := func(i int) (down, up time.Duration) {
		body := strconv.Itoa(i)
		t0 := time.Now()
		require.NoError(b, bob.Send(fmt.Appendf(nil, "<message to='%s' type='chat'><body>%s</body></message>", alice.jid, body)))
		for m := alice.receive(ctx); m.Body != body; m = alice.receive(ctx) {
		}
		t1 := time.Now()
		require.NoError(b, alice.send(ctx, fmt.Appendf(nil, "<message to='%s' type='chat' xmlns='jabber:client'><body>%s</body></message>", bob.JID(), body)))
		for m := nextMessage(ctx, b, bob); m.Body != body; m = nextMessage(ctx, b, bob) {
		}
		return t1.Sub(t0), time.Since(t1)
	}
	for i := range 5 { // warm up connections and caches
		roundTrip(-1 - i)
	}
	downs := make([]time.Duration, 0, b.N)
	ups := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		down, up := roundTrip(i)
		downs = append(downs, down)
		ups = append(ups, up)
	}
	report(b, "down", downs)
	report(b, "up", ups)
}

// report adds the p50 and p99 of ds as metrics, in ns.
func report(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) }
	b.ReportMetric(q(0.50), name+"-p50-ns")
	b.ReportMetric(q(0.99), name+"-p99-ns")
}
