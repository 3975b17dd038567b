package bosh

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/clock"
)

// settle waits, for at most 2 s, until at most want goroutines run, and
// returns how many do: goroutines that answered a request may still be on
// their way out.
func settle(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > want; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestNoLeaks: 10,000 sessions are created, used (a request echoed and,
// for some, one held) and ended through the Handler by the three paths —
// the client's terminate (§13), inactivity (§10, on a fake clock) and
// Handler.Shutdown (§17.2 system-shutdown) — 500 at a time. Afterwards no
// goroutine is left, every handler's Stats().Sessions, Held and Addresses
// are zero, and the heap in use after a GC is within 10% of its baseline
// plus 2 MiB of slack (runtime and test-framework noise, allocator
// fragmentation). The test logs the heap with one batch live: a leak of
// every session, or of a tenth of them, would exceed the bound.
func TestNoLeaks(t *testing.T) {
	const total, batch = 10000, 500
	clk := clock.NewFake(time.Unix(1e9, 0))
	cfg := Config{clock: clk, SessionBurst: batch, SessionsPerSecond: 1e6, MaxSessionsPerAddress: batch, Inactivity: 10 * time.Second}
	newX := func() *tester {
		up := &fakeUp{echo: true}
		h, err := NewHandler(up, cfg)
		require.NoError(t, err)
		return &tester{t: t, h: h, up: up}
	}
	// serve answers one request in this goroutine (no recorder goroutine
	// or timer: this test makes 25,000 requests, and -race is slow).
	serve := func(x *tester, remote, body string) string {
		r := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(body))
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		x.h.ServeHTTP(rec, r)
		return rec.Body.String()
	}
	// use creates n sessions on x, sends each an echoed payload, and
	// leaves one request held on each when hold is set.
	use := func(x *tester, n int, hold bool) ([]*sess, []*call) {
		ss := make([]*sess, n)
		var held []*call
		for i := range ss {
			// Distinct addresses, so that the per-address map fills too.
			remote := "198.51." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250) + ":1"
			raw := serve(x, remote, createBody(1000, ""))
			_, after, ok := strings.Cut(raw, "sid='")
			require.True(t, ok, raw)
			s := &sess{x: x, sid: after[:strings.IndexByte(after, '\'')], rid: 1000}
			msg := "<m xmlns='x'>" + strconv.Itoa(i) + "</m>"
			require.Contains(t, serve(x, remote, s.body(1, "", msg)), msg)
			if hold {
				held = append(held, s.post(2, "", ""))
			}
			ss[i] = s
		}
		// post sends from a goroutine of its own: wait until every
		// request is inside its session, so that Shutdown finds it held.
		for i := 0; i < 5000 && x.h.Stats().Held < int64(len(held)); i++ {
			time.Sleep(time.Millisecond)
		}
		require.Equal(t, int64(len(held)), x.h.Stats().Held)
		return ss, held
	}
	// Warm up once, so that pools and the runtime's own structures are in
	// the baseline.
	g0 := runtime.NumGoroutine()
	func() {
		x := newX()
		use(x, batch, true)
		require.NoError(t, x.h.Shutdown(context.Background()))
	}()
	baseG := settle(g0)
	baseHeap := heapInuse()
	start := time.Now()

	check := func(h *Handler, path string) {
		st := h.Stats()
		assert.Zero(t, st.Sessions, "%s: sessions", path)
		assert.Zero(t, st.Held, "%s: held", path)
		assert.Zero(t, st.Addresses, "%s: per-address counts", path)
	}
	ended := 0
	var live uint64 // heap in use with one batch of sessions live
	for ended < total {
		switch (ended / batch) % 3 {
		case 0: // terminate
			x := newX()
			ss, _ := use(x, batch, false)
			for _, s := range ss {
				require.Contains(t, serve(x, "198.51.0.0:1", s.body(2, "type='terminate'", "")), "type='terminate'")
			}
			check(x.h, "terminate")
		case 1: // inactivity
			x := newX()
			use(x, batch, false)
			clk.Advance(11 * time.Second)
			check(x.h, "inactivity")
			assert.Equal(t, uint64(batch), x.h.Stats().Ended["inactivity"])
		case 2: // shutdown, with a request held on each
			x := newX()
			_, held := use(x, batch, true)
			if live == 0 {
				live = heapInuse()
			}
			require.NoError(t, x.h.Shutdown(context.Background()))
			for _, c := range held {
				require.True(t, c.wait().IsTerm(string(SystemShutdown)))
			}
			check(x.h, "shutdown")
		}
		ended += batch
	}
	t.Logf("%d sessions in %v", total, time.Since(start))

	g := settle(baseG)
	assert.LessOrEqual(t, g, baseG, "goroutines: %d before, %d after", baseG, g)
	heap := heapInuse()
	limit := baseHeap + baseHeap/10 + 2<<20
	t.Logf("HeapInuse: baseline %s, with %d sessions live %s, after %s, limit %s; goroutines %d → %d",
		mib(baseHeap), batch, mib(live), mib(heap), mib(limit), baseG, g)
	assert.LessOrEqual(t, heap, limit, "heap in use grew")
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
