package faulttest

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// Config says how often the Proxy breaks things. Probabilities are between
// 0 and 1 and apply to each request independently.
type Config struct {
	// Target is the URL every request is forwarded to.
	Target string
	// Cut is the probability that the client's connection is closed after
	// the target answered, so that the client never sees the response.
	Cut float64
	// Delay is the probability that a response is held for DelayBy before
	// it is written (choose DelayBy above the client's timeout).
	Delay   float64
	DelayBy time.Duration
	// Reorder is the probability that a request is held for a random time
	// up to ReorderMax before it is forwarded, so that a later request
	// overtakes it.
	Reorder    float64
	ReorderMax time.Duration
	// Seed seeds the random choices.
	Seed uint64
}

// Stats counts what the Proxy did.
type Stats struct {
	Requests  int64 // requests received
	Cut       int64 // responses lost on purpose
	Delayed   int64 // responses held for DelayBy
	Reordered int64 // requests held before forwarding
	Failed    int64 // requests the target did not answer
}

// Proxy is a fault-injecting HTTP proxy on loopback. Its methods are safe
// for concurrent use.
type Proxy struct {
	// URL is the proxy's address, http://127.0.0.1:port, followed by the
	// path of each request as the client sent it.
	URL string

	cfg Config
	ts  *httptest.Server
	hc  *http.Client

	mu  sync.Mutex // guards rnd
	rnd *rand.Rand

	requests, cut, delayed, reordered, failed atomic.Int64
}

// New starts a Proxy.
func New(cfg Config) *Proxy {
	p := &Proxy{
		cfg: cfg,
		rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		hc: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     30 * time.Second,
		}},
	}
	p.ts = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.ts.URL
	return p
}

// Close stops the proxy: it closes the client connections and waits for
// the requests in progress.
func (p *Proxy) Close() {
	p.ts.CloseClientConnections()
	p.ts.Close()
	p.hc.CloseIdleConnections()
}

// Stats returns what the proxy did so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		Requests: p.requests.Load(), Cut: p.cut.Load(), Delayed: p.delayed.Load(),
		Reordered: p.reordered.Load(), Failed: p.failed.Load(),
	}
}

// roll returns three uniform numbers in [0, 1) and one in [0, ReorderMax).
func (p *Proxy) roll() (cut, delay, reorder float64, hold time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cut, delay, reorder = p.rnd.Float64(), p.rnd.Float64(), p.rnd.Float64()
	if p.cfg.ReorderMax > 0 {
		hold = time.Duration(p.rnd.Int64N(int64(p.cfg.ReorderMax)))
	}
	return
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	ctx := r.Context()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	cut, delay, reorder, hold := p.roll()
	if reorder < p.cfg.Reorder {
		p.reordered.Add(1)
		if !sleep(ctx, hold) {
			return
		}
	}
	// Forward with the client's context, as a reverse proxy does by
	// default: a client that gives up cancels the forwarded request too.
	req, err := http.NewRequestWithContext(ctx, r.Method, p.cfg.Target, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	for _, h := range []string{"Content-Type", "Content-Encoding", "Accept-Encoding", "Origin"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	res, err := p.hc.Do(req)
	if err != nil {
		p.failed.Add(1)
		panic(http.ErrAbortHandler)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		p.failed.Add(1)
		panic(http.ErrAbortHandler)
	}
	if cut < p.cfg.Cut {
		// The target answered; the client never hears it.
		p.cut.Add(1)
		panic(http.ErrAbortHandler)
	}
	if delay < p.cfg.Delay {
		p.delayed.Add(1)
		if !sleep(ctx, p.cfg.DelayBy) {
			return // the client gave up first, as intended
		}
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	w.Write(data)
}
