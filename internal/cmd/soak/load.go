package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
)

// load is the clients' shared state and counters.
type load struct {
	url string
	o   options
	hc  *http.Client

	logins, logouts, sent, received atomic.Int64
	failures                        atomic.Int64

	mu    sync.Mutex // guards first
	first error
}

func newLoad(url string, o options) *load {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * o.sessions
	return &load{url: url, o: o, hc: &http.Client{Transport: tr}}
}

func (l *load) fail(err error) {
	l.failures.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.first == nil {
		l.first = err
	}
}

func (l *load) firstFailure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// worker logs user i in and out until ctx ends: each time it sends its
// messages to its partner (i^1) and reads what arrives for a while.
func (l *load) worker(ctx context.Context, i int) {
	// Spread the first logins over a second.
	if !pause(ctx, time.Duration(rand.Int64N(int64(time.Second)))) {
		return
	}
	for ctx.Err() == nil {
		if err := l.cycle(ctx, i); err != nil && ctx.Err() == nil {
			l.fail(fmt.Errorf("%s: %w", user(i), err))
		}
		pause(ctx, time.Duration(100+rand.IntN(400))*time.Millisecond)
	}
}

// cycle is one login, chat and logout.
func (l *load) cycle(ctx context.Context, i int) error {
	c := boshtest.NewClient(l.url, boshtest.ClientConfig{HTTPClient: l.hc, Wait: l.o.wait, Acks: true})
	defer c.Close()
	if err := c.Connect(ctx, domain); err != nil {
		return err
	}
	if _, err := c.Login(ctx, user(i), "soak", "soak"); err != nil {
		return err
	}
	l.logins.Add(1)
	// Available, so that offline messages come (XEP-0160).
	if err := c.Send(ctx, []byte("<presence xmlns='jabber:client'/>")); err != nil {
		return err
	}
	to := user(i^1) + "@" + domain
	for n := range l.o.messages {
		msg := "<message to='" + to + "' type='chat' xmlns='jabber:client'><body>" + strconv.Itoa(n) + "</body></message>"
		if err := c.Send(ctx, []byte(msg)); err != nil {
			return err
		}
		l.sent.Add(1)
	}
	// Read for a while: the partner's messages, live or stored.
	rctx, cancel := context.WithTimeout(ctx, time.Duration(500+rand.IntN(1500))*time.Millisecond)
	for {
		st, err := c.Receive(rctx)
		if err != nil {
			break
		}
		if strings.HasPrefix(string(st), "<message") {
			l.received.Add(1)
		}
	}
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	err := c.Terminate(ctx)
	if err == nil || errors.Is(err, boshtest.ErrClosed) {
		l.logouts.Add(1)
		return nil
	}
	if errors.Is(err, bosh.SystemShutdown) {
		return nil
	}
	return err
}

func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// line is one report.
func (l *load) line(elapsed time.Duration, st bosh.Stats) string {
	return fmt.Sprintf("soak: t=%-6v rss=%s goroutines=%d sessions=%d held=%d logins=%d logouts=%d sent=%d received=%d failures=%d",
		elapsed.Round(time.Second), rss(), runtime.NumGoroutine(), st.Sessions, st.Held,
		l.logins.Load(), l.logouts.Load(), l.sent.Load(), l.received.Load(), l.failures.Load())
}

func (l *load) summary() string {
	return fmt.Sprintf("logins=%d logouts=%d sent=%d received=%d failures=%d",
		l.logins.Load(), l.logouts.Load(), l.sent.Load(), l.received.Load(), l.failures.Load())
}
