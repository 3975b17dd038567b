package faulttest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
)

// Size of TestLosslessThroughFaults: pairs of sessions, each side sending
// perSide messages to the other (2·pairs·perSide in all).
const (
	pairs   = 100
	perSide = 50
)

// TestLosslessThroughFaults: 100 pairs of XMPP-over-BOSH sessions exchange
// 10,000 chat messages through a proxy that loses 10% of the responses
// (the client's connection is cut after the connection manager answered),
// holds 1% past the client's timeout, and delays 10% of the requests so
// that a client's two requests arrive out of order. The clients behave as
// XEP-0124 §14 asks (resend the same rid after a network failure) and
// acknowledge responses (§9). Every message arrives exactly once, in the
// order sent, and every session ends by its client's terminate.
func TestLosslessThroughFaults(t *testing.T) {
	// Registered first, so it runs last: no goroutine is left behind once
	// the clients, the proxy and the server are closed.
	g0 := runtime.NumGoroutine()
	defer func() {
		n := runtime.NumGoroutine()
		for i := 0; i < 500 && n > g0; i++ {
			time.Sleep(10 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		assert.LessOrEqual(t, n, g0, "goroutines left behind")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := boshtest.NewServer(boshtest.WithHandlerConfig(bosh.Config{
		// All clients come from 127.0.0.1 through the proxy, at once.
		// Creation retries (below) included.
		SessionBurst: 4 * pairs,
	}))
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
	clients := make([]*boshtest.Client, users)
	var orphans atomic.Int64 // sessions whose creation response was lost
	var wg sync.WaitGroup
	errs := make(chan error, 4*users)
	for i := range users {
		wg.Go(func() {
			// A lost creation response cannot be retried with the same rid
			// (there is no sid yet): the client starts a new session, and
			// the orphan times out at the connection manager (§10).
			var err error
			for range 10 {
				c := boshtest.NewClient(px.URL+"/http-bind",
					boshtest.WithWait(time.Second),
					boshtest.WithRequestTimeout(3*time.Second),
					boshtest.WithAttempts(30),
					boshtest.WithAcks())
				if err = c.Connect(ctx, "localhost"); err != nil {
					var te *boshtest.TerminateError
					if !errors.As(err, &te) {
						orphans.Add(1) // the session exists; its response was lost
					}
					continue
				}
				clients[i] = c
				break
			}
			if err != nil {
				errs <- fmt.Errorf("u%d connect: %w", i, err)
				return
			}
			if _, err := clients[i].Login(ctx, "u"+strconv.Itoa(i), "pw", "r"); err != nil {
				errs <- fmt.Errorf("u%d login: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	start := time.Now()

	// Each user sends perSide messages to its partner, then an end mark,
	// and receives its partner's.
	got := make([][]string, users)
	errs = make(chan error, 2*users)
	for i := range users {
		peer := i ^ 1
		to := "u" + strconv.Itoa(peer) + "@localhost/r"
		wg.Go(func() {
			for n := range perSide + 1 {
				text := strconv.Itoa(n)
				if n == perSide {
					text = "end"
				}
				msg := "<message to='" + to + "' type='chat' xmlns='jabber:client'><body>" + text + "</body></message>"
				if err := clients[i].Send(ctx, []byte(msg)); err != nil {
					errs <- fmt.Errorf("u%d send %d: %w", i, n, err)
					cancel() // one failure is enough: stop the others
					return
				}
			}
		})
		wg.Go(func() {
			for {
				st, err := clients[i].Receive(ctx)
				if err != nil {
					errs <- fmt.Errorf("u%d receive after %d: %w", i, len(got[i]), err)
					cancel()
					return
				}
				s := string(st)
				if !strings.HasPrefix(s, "<message") {
					continue
				}
				_, b, _ := strings.Cut(s, "<body>")
				b, _, _ = strings.Cut(b, "</body>")
				if b == "end" {
					return
				}
				got[i] = append(got[i], b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			require.NoError(t, err)
		}
	}
	require.NoError(t, ctx.Err())
	elapsed := time.Since(start)

	want := make([]string, perSide)
	for n := range want {
		want[n] = strconv.Itoa(n)
	}
	total := 0
	for i := range users {
		total += len(got[i])
		require.Equal(t, want, got[i], "u%d: every message once, in order", i)
	}
	assert.Equal(t, 2*pairs*perSide, total)

	// A client whose terminate response is lost resends it and gets
	// item-not-found: the session has ended, as asked (§13), and no reply
	// is kept for a session that no longer exists.
	var lostTerminate atomic.Int64
	for i, c := range clients {
		wg.Go(func() {
			err := c.Terminate(ctx)
			switch {
			case errors.Is(err, bosh.ItemNotFound):
				lostTerminate.Add(1)
			case err != nil:
				t.Errorf("u%d terminate: %v", i, err)
			}
		})
	}
	wg.Wait()
	st := px.Stats()
	t.Logf("%d messages in %v; %d orphan sessions, %d terminate responses lost; proxy: %+v; handler: %+v",
		total, elapsed, orphans.Load(), lostTerminate.Load(), st, srv.Handler.Stats())
	assert.Positive(t, st.Cut)
	assert.Positive(t, st.Delayed)
	assert.Positive(t, st.Reordered)
	// The handler counts a session's end just after its last response
	// goes out: allow it a moment (bounded).
	for i := 0; i < 200 && srv.Handler.Stats().Sessions > orphans.Load(); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	hs := srv.Handler.Stats()
	assert.Equal(t, map[string]uint64{"terminate": uint64(users)}, hs.Ended, "no session failed")
	// Some cut connections were creation requests (a failed Connect): those
	// sessions are still open, waiting for their inactivity timeout.
	assert.Equal(t, orphans.Load(), hs.Sessions, "only orphans of lost creation responses are left")
}
