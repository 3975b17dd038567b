package faulttest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
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
	"github.com/httpbind/httpbind/internal/prosodytest"
	"github.com/httpbind/httpbind/xmppstream"
)

// Size of TestLosslessToProsodyThroughFaults: pairs of sessions, each side
// sending prosodyPerSide messages to the other (500 in all).
const (
	prosodyPairs   = 5
	prosodyPerSide = 50
	prosodyDomain  = "example.test"
)

// TestLosslessToProsodyThroughFaults is TestLosslessThroughFaults with the
// TCP upstream and Prosody behind the connection manager: 5 pairs of
// XMPP-over-BOSH sessions exchange 500 chat messages through a proxy that
// loses 10% of the responses, holds 1% past the client's timeout and
// delays 10% of the requests. The clients resend after a network failure
// (XEP-0124 §14) and acknowledge (§9). Every message arrives exactly once
// and in order. Only the HTTP side is faulty: the TCP connections to
// Prosody are not, so XEP-0198 is not needed for this guarantee. Prosody
// runs without offline storage and drops a message to a user with no
// available resource, so every user sends initial presence and sees it
// processed (an iq round trip after it) before anyone sends. Without
// Prosody the test is skipped, or fails under CI (prosodytest.Lookup).
func TestLosslessToProsodyThroughFaults(t *testing.T) {
	p := prosodytest.Start(t, prosodytest.WithDomain(prosodyDomain))
	users := 2 * prosodyPairs
	for i := range users {
		p.Register("u"+strconv.Itoa(i), "pw"+strconv.Itoa(i))
	}

	// Deferred first, so it runs last: no goroutine is left behind once the
	// clients, the proxy and the handler are closed. Prosody's own watcher
	// started before the count.
	g0 := runtime.NumGoroutine()
	defer func() {
		n := runtime.NumGoroutine()
		for i := 0; i < 500 && n > g0; i++ {
			time.Sleep(10 * time.Millisecond) // a bounded poll
			n = runtime.NumGoroutine()
		}
		if !assert.LessOrEqual(t, n, g0, "goroutines left behind") {
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // hang guard
	defer cancel()

	up, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{
		Addr:       p.C2SAddr,
		Domains:    []string{prosodyDomain},
		TLSConfig:  &tls.Config{RootCAs: p.CAPool},
		RequireTLS: true,
		Logger:     slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	h, err := bosh.NewHandler(up, bosh.Config{
		SessionBurst: 4 * users, // every client comes from 127.0.0.1, at once
		Logger:       slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	hs := httptest.NewServer(h)
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		h.Shutdown(sctx) // ends the orphan sessions of lost creation responses
		hs.Close()
	}()
	const seed = 20261124
	px := faulttest.New(faulttest.Config{
		Target: hs.URL,
		Cut:    0.10,
		Delay:  0.01, DelayBy: 3500 * time.Millisecond, // above wait 1s + 2s
		Reorder: 0.10, ReorderMax: 20 * time.Millisecond,
		Seed: seed,
	})
	defer px.Close()
	t.Logf("fault seed %d", seed)

	clients := make([]*boshtest.Client, users)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	var orphans atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4*users)
	for i := range users {
		wg.Go(func() {
			if err := prosodyOnline(ctx, px.URL+"/http-bind", i, clients, &orphans); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait() // every user is online before anyone sends
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	start := time.Now()

	got := make([][]string, users)
	errs = make(chan error, 2*users)
	for i := range users {
		to := "u" + strconv.Itoa(i^1) + "@" + prosodyDomain + "/r"
		wg.Go(func() {
			for n := range prosodyPerSide + 1 {
				text := strconv.Itoa(n)
				if n == prosodyPerSide {
					text = "end"
				}
				msg := "<message to='" + to + "' type='chat' xmlns='jabber:client'><body>" + text + "</body></message>"
				if err := clients[i].Send(ctx, []byte(msg)); err != nil {
					errs <- fmt.Errorf("u%d send %d: %w", i, n, err)
					cancel()
					return
				}
			}
		})
		wg.Go(func() {
			for range 10 * prosodyPerSide { // bounded: messages and a few presences
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
			errs <- fmt.Errorf("u%d: no end mark", i)
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

	want := make([]string, prosodyPerSide)
	for n := range want {
		want[n] = strconv.Itoa(n)
	}
	total := 0
	for i := range users {
		total += len(got[i])
		require.Equal(t, want, got[i], "u%d: every message once, in order", i)
	}
	assert.Equal(t, 2*prosodyPairs*prosodyPerSide, total)

	var lostTerminate atomic.Int64
	for i, c := range clients {
		wg.Go(func() {
			err := c.Terminate(ctx)
			switch {
			case errors.Is(err, bosh.ItemNotFound):
				lostTerminate.Add(1) // its response was cut; the session ended
			case err != nil:
				t.Errorf("u%d terminate: %v", i, err)
			}
		})
	}
	wg.Wait()
	st := px.Stats()
	t.Logf("%d messages in %v; %d orphan sessions, %d terminate responses lost; proxy: %+v; handler: %+v",
		total, elapsed, orphans.Load(), lostTerminate.Load(), st, h.Stats())
	assert.Positive(t, st.Cut)
	for i := 0; i < 200 && h.Stats().Sessions > orphans.Load(); i++ {
		time.Sleep(5 * time.Millisecond) // a bounded poll: the end is counted after the last response
	}
	hst := h.Stats()
	assert.Equal(t, map[string]uint64{"terminate": uint64(users)}, hst.Ended, "no session failed")
	assert.Equal(t, orphans.Load(), hst.Sessions, "only orphans of lost creation responses are left")
}

// prosodyOnline connects user i through the proxy, logs in, sends initial
// presence and waits for an iq answer sent after it: Prosody handles a
// session's stanzas in order, so the user is then available. A lost
// creation response cannot be retried with the same rid; the client
// starts another session and the orphan stays until the handler stops.
func prosodyOnline(ctx context.Context, url string, i int, clients []*boshtest.Client, orphans *atomic.Int64) error {
	var err error
	for range 10 {
		c := boshtest.NewClient(url,
			boshtest.WithWait(time.Second),
			boshtest.WithRequestTimeout(3*time.Second),
			boshtest.WithAttempts(30),
			boshtest.WithAcks())
		if err = c.Connect(ctx, prosodyDomain); err != nil {
			c.Close()
			var te *boshtest.TerminateError
			if !errors.As(err, &te) {
				orphans.Add(1)
			}
			continue
		}
		clients[i] = c
		break
	}
	if err != nil {
		return fmt.Errorf("u%d connect: %w", i, err)
	}
	c := clients[i]
	user := "u" + strconv.Itoa(i)
	if _, err := c.Login(ctx, user, "pw"+strconv.Itoa(i), "r"); err != nil {
		return fmt.Errorf("u%d login: %w", i, err)
	}
	if err := c.Send(ctx, []byte("<presence xmlns='jabber:client'/>")); err != nil {
		return fmt.Errorf("u%d presence: %w", i, err)
	}
	if err := c.Send(ctx, []byte("<iq type='get' id='online' xmlns='jabber:client'><query xmlns='jabber:iq:roster'/></iq>")); err != nil {
		return fmt.Errorf("u%d roster: %w", i, err)
	}
	for range 20 { // presence echoes and the like; bounded
		el, err := c.Receive(ctx)
		if err != nil {
			return fmt.Errorf("u%d online: %w", i, err)
		}
		if s := string(el); strings.HasPrefix(s, "<iq") && (strings.Contains(s, "'online'") || strings.Contains(s, `"online"`)) {
			return nil
		}
	}
	return fmt.Errorf("u%d: no roster answer among 20 elements", i)
}
