package faulttest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/syncbuf"
)

// This file is the scenario every fault test runs: pairs of
// XMPP-over-BOSH users chat through a faulty network and count what
// arrived.

// pairRun describes one run.
type pairRun struct {
	url       string // the BOSH URL the clients use
	domain    string
	pairs     int // pairs of users u(2k), u(2k+1), chatting with each other
	perSide   int // messages each user sends its partner
	password  func(i int) string
	transport http.RoundTripper // the clients' transport; nil: their own
	acks      bool              // clients acknowledge responses (XEP-0124 §9.2)
	// online makes every user send initial presence and see it processed
	// before anyone sends (a server that drops messages to unavailable
	// users, such as Prosody without offline storage).
	online bool
	// traces, when set, receives every client's request and response
	// bodies (boshtest.ClientConfig.Trace), by user, to print when a run fails.
	traces []*syncbuf.Buffer
}

// pairResult is what a run counted.
type pairResult struct {
	sent       int // messages sent
	delivered  int // messages received, duplicates included
	lost       int // sent, never received
	duplicated int // received more than once (each extra copy)
	reordered  int // received before a message sent earlier by the same user
	// failed are the sessions that ended or stalled with an error other
	// than the client's own terminate.
	failed        []error
	orphans       int64 // sessions left by creation responses lost on the way
	lostTerminate int64 // terminate responses lost (the session had ended as asked)
	elapsed       time.Duration
}

func (r pairResult) String() string {
	return fmt.Sprintf("sent %d, delivered %d, lost %d, duplicated %d, reordered %d, sessions failed %d (orphans %d, terminate answers lost %d) in %v",
		r.sent, r.delivered, r.lost, r.duplicated, r.reordered, len(r.failed), r.orphans, r.lostTerminate, r.elapsed.Round(time.Millisecond))
}

// run logs every user in, has every pair exchange perSide messages each
// way, then terminates every session. ctx bounds the whole run; a failing
// session stops the run.
func (p pairRun) run(ctx context.Context) pairResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	users := 2 * p.pairs
	clients := make([]*boshtest.Client, users)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	var (
		res    pairResult
		mu     sync.Mutex // guards res.failed
		wg     sync.WaitGroup
		orphan atomic.Int64
	)
	fail := func(err error) {
		mu.Lock()
		res.failed = append(res.failed, err)
		mu.Unlock()
		cancel() // one failure is enough: stop the others
	}
	for i := range users {
		wg.Go(func() {
			c, err := p.login(ctx, i, &orphan)
			if err != nil {
				fail(err)
				return
			}
			clients[i] = c
		})
	}
	wg.Wait()
	res.orphans = orphan.Load()
	if len(res.failed) > 0 {
		return res
	}

	start := time.Now()
	got := make([][]int, users)
	for i := range users {
		to := "u" + strconv.Itoa(i^1) + "@" + p.domain + "/r"
		wg.Go(func() {
			for n := range p.perSide + 1 {
				text := strconv.Itoa(n)
				if n == p.perSide {
					text = "end"
				}
				msg := "<message to='" + to + "' type='chat' xmlns='jabber:client'><body>" + text + "</body></message>"
				if err := clients[i].Send(ctx, []byte(msg)); err != nil {
					fail(fmt.Errorf("u%d send %d: %w", i, n, err))
					return
				}
			}
		})
		wg.Go(func() {
			for range 4*p.perSide + 20 { // bounded: messages and a few presences
				st, err := clients[i].Receive(ctx)
				if err != nil {
					fail(fmt.Errorf("u%d receive after %d: %w", i, len(got[i]), err))
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
				n, err := strconv.Atoi(b)
				if err != nil {
					fail(fmt.Errorf("u%d: unexpected message %q", i, s))
					return
				}
				got[i] = append(got[i], n)
			}
			fail(fmt.Errorf("u%d: no end mark", i))
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.sent = users * p.perSide
	for i := range users {
		seen := make(map[int]int)
		high := -1
		for _, n := range got[i] {
			res.delivered++
			seen[n]++
			if seen[n] > 1 {
				res.duplicated++
			} else if n < high {
				res.reordered++
			}
			high = max(high, n)
		}
		for n := range p.perSide {
			if seen[n] == 0 {
				res.lost++
			}
		}
	}
	if len(res.failed) > 0 {
		return res
	}

	var lostTerminate atomic.Int64
	for i, c := range clients {
		wg.Go(func() {
			err := c.Terminate(ctx)
			switch {
			case errors.Is(err, bosh.ItemNotFound):
				lostTerminate.Add(1) // its response was lost; the session had ended
			case err != nil:
				fail(fmt.Errorf("u%d terminate: %w", i, err))
			}
		})
	}
	wg.Wait()
	res.lostTerminate = lostTerminate.Load()
	return res
}

// login connects user i and logs in. A creation response lost on the way
// cannot be retried with the same rid (there is no sid yet, XEP-0124
// §7.1): the client starts another session, and the orphan ends by
// inactivity (§10) or at shutdown.
func (p pairRun) login(ctx context.Context, i int, orphans *atomic.Int64) (*boshtest.Client, error) {
	cfg := boshtest.ClientConfig{Wait: time.Second, RequestTimeout: 3 * time.Second, Attempts: 30, Acks: p.acks}
	if p.transport != nil {
		cfg.HTTPClient = &http.Client{Transport: p.transport}
	}
	if p.traces != nil {
		p.traces[i] = new(syncbuf.Buffer)
		cfg.Trace = p.traces[i]
	}
	var (
		c   *boshtest.Client
		err error
	)
	for range 10 {
		c = boshtest.NewClient(p.url, cfg)
		if err = c.Connect(ctx, p.domain); err == nil {
			break
		}
		c.Close()
		var te *boshtest.TerminateError
		if !errors.As(err, &te) {
			orphans.Add(1) // the session exists; its response was lost
		}
	}
	if err != nil {
		return nil, fmt.Errorf("u%d connect: %w", i, err)
	}
	user := "u" + strconv.Itoa(i)
	if _, err := c.Login(ctx, user, p.password(i), "r"); err != nil {
		c.Close()
		return nil, fmt.Errorf("u%d login: %w", i, err)
	}
	if p.online {
		if err := online(ctx, c); err != nil {
			c.Close()
			return nil, fmt.Errorf("u%d: %w", i, err)
		}
	}
	return c, nil
}

// online sends initial presence and waits for the answer to an iq sent
// after it: a server handles a session's stanzas in order, so the user is
// available then.
func online(ctx context.Context, c *boshtest.Client) error {
	if err := c.Send(ctx, []byte("<presence xmlns='jabber:client'/>")); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	if err := c.Send(ctx, []byte("<iq type='get' id='online' xmlns='jabber:client'><query xmlns='jabber:iq:roster'/></iq>")); err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	for range 20 { // presence echoes and the like; bounded
		el, err := c.Receive(ctx)
		if err != nil {
			return fmt.Errorf("online: %w", err)
		}
		if s := string(el); strings.HasPrefix(s, "<iq") && (strings.Contains(s, "'online'") || strings.Contains(s, `"online"`)) {
			return nil
		}
	}
	return errors.New("no roster answer among 20 elements")
}

// assertLossless checks a run's counts: nothing lost, duplicated or
// reordered, no session failed.
func assertLossless(t *testing.T, res pairResult) bool {
	t.Helper()
	ok := assert.Empty(t, res.failed, "sessions failed")
	ok = assert.Zero(t, res.lost, "lost") && ok
	ok = assert.Zero(t, res.duplicated, "duplicated") && ok
	ok = assert.Zero(t, res.reordered, "reordered") && ok
	return assert.Equal(t, res.sent, res.delivered, "delivered") && ok
}

// assertSessionsEnded checks that every session ended by its client's
// terminate, and that only the orphans of lost creation responses are
// left, or ended by inactivity (§10) when the run outlasted it. The
// handler counts a session's end just after its last response goes out:
// it is given a moment (bounded).
func assertSessionsEnded(t *testing.T, h *bosh.Handler, res pairResult, users int) {
	t.Helper()
	left := sessionsLeft(t, h, res, users)
	assert.Equal(t, res.orphans, left, "only orphans of lost creation responses are left or timed out")
}

// sessionsLeft checks that every session ended by its client's terminate
// and returns how many are left or ended by inactivity, once no more than
// res.orphans are (or a bounded moment has passed).
func sessionsLeft(t *testing.T, h *bosh.Handler, res pairResult, users int) int64 {
	t.Helper()
	for i := 0; i < 200 && h.Stats().Sessions+int64(h.Stats().Ended["inactivity"]) > res.orphans; i++ {
		time.Sleep(5 * time.Millisecond) // a bounded poll
	}
	hs := h.Stats()
	inactive := hs.Ended["inactivity"]
	delete(hs.Ended, "inactivity")
	assert.Equal(t, map[string]uint64{"terminate": uint64(users)}, hs.Ended, "no session failed")
	return hs.Sessions + int64(inactive)
}

// logFirstFailure logs the trace of the first user whose session failed.
func logFirstFailure(t *testing.T, res pairResult, traces []*syncbuf.Buffer) {
	t.Helper()
	if len(res.failed) > 0 {
		var first int
		fmt.Sscanf(res.failed[0].Error(), "u%d", &first)
		t.Logf("trace of u%d:\n%s", first, traces[first])
	}
}

// noGoroutinesLeft returns a check, to defer first, that no goroutine is
// left behind once everything the test started is closed.
func noGoroutinesLeft(t *testing.T) func() {
	g0 := runtime.NumGoroutine()
	return func() {
		n := runtime.NumGoroutine()
		for i := 0; i < 500 && n > g0; i++ {
			time.Sleep(10 * time.Millisecond) // a bounded poll
			n = runtime.NumGoroutine()
		}
		if !assert.LessOrEqual(t, n, g0, "goroutines left behind") {
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
		}
	}
}
