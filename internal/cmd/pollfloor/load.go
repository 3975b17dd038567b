package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/httpbind/httpbind/internal/loadstat"
)

// loadConfig is load's flags.
type loadConfig struct {
	url      string
	pairs    int
	messages int
	interval time.Duration
	duration time.Duration
	drain    time.Duration
	json     bool
}

// result is what load measured.
type result struct {
	Clients    int   `json:"clients"`
	Expected   int64 `json:"expected"`
	Sent       int64 `json:"sent"`
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	SendErrors int64 `json:"send_errors"`
	loadstat.Latency
}

// load is one run: its clients' receive state and the latencies.
type load struct {
	cfg   loadConfig
	hc    *http.Client
	start time.Time

	sent, sendErrs atomic.Int64
	mu             sync.Mutex
	seen           []map[int]bool // by receiver: seqs received; guarded by mu
	lat            []int64        // ns; guarded by mu
	dups           int64          // guarded by mu
	delivered      atomic.Int64
}

func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pollfloor load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c loadConfig
	fs.StringVar(&c.url, "url", "http://127.0.0.1:5300", "the pollfloor server")
	fs.IntVar(&c.pairs, "pairs", 500, "client `pairs`")
	fs.IntVar(&c.messages, "messages", 20, "messages each client sends")
	fs.DurationVar(&c.interval, "interval", 2*time.Second, "time between a client's messages")
	fs.DurationVar(&c.duration, "duration", 2*time.Minute, "bound of the whole run")
	fs.DurationVar(&c.drain, "drain", 5*time.Second, "how long to wait for the last messages")
	fs.BoolVar(&c.json, "json", false, "print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.pairs < 1 || c.messages < 1 || c.interval <= 0 {
		return errors.New("-pairs, -messages and -interval must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	res := newLoad(c).run(ctx)
	if c.json {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "pollfloor: %d clients, %d of %d delivered, %d lost, %d duplicated, %d send errors\n",
		res.Clients, res.Delivered, res.Expected, res.Lost, res.Duplicated, res.SendErrors)
	fmt.Fprintf(stdout, "pollfloor: latency p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		res.LatencyP50Ms, res.LatencyP90Ms, res.LatencyP99Ms, res.LatencyMaxMs)
	return nil
}

func newLoad(c loadConfig) *load {
	n := 2 * c.pairs
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        4 * n,
		MaxIdleConnsPerHost: 4 * n,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	l := &load{cfg: c, hc: &http.Client{Transport: tr}, start: time.Now(), seen: make([]map[int]bool, n)}
	for i := range l.seen {
		l.seen[i] = make(map[int]bool, c.messages)
	}
	return l
}

// run starts every client's poller and sender and returns the figures once
// everything arrived, the drain period passed, or ctx ended.
func (l *load) run(ctx context.Context) result {
	n := 2 * l.cfg.pairs
	expected := int64(n * l.cfg.messages)
	pctx, stopPolls := context.WithCancel(ctx)
	var polls, sends sync.WaitGroup
	for id := range n {
		polls.Go(func() { l.poll(pctx, id) })
		sends.Go(func() { l.send(ctx, id) })
	}
	sends.Wait()
	deadline := time.NewTimer(l.cfg.drain)
	tick := time.NewTicker(10 * time.Millisecond)
	for l.delivered.Load() < l.sent.Load() {
		select {
		case <-deadline.C:
		case <-ctx.Done():
		case <-tick.C:
			continue
		}
		break
	}
	deadline.Stop()
	tick.Stop()
	stopPolls()
	polls.Wait()
	l.hc.CloseIdleConnections()

	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.lat)
	return result{
		Clients: n, Expected: expected, Sent: l.sent.Load(), Delivered: int64(len(l.lat)),
		Lost: l.sent.Load() - int64(len(l.lat)), Duplicated: l.dups, SendErrors: l.sendErrs.Load(),
		Latency: loadstat.LatencyOf(l.lat),
	}
}

// poll keeps one poll held for client id until ctx ends.
func (l *load) poll(ctx context.Context, id int) {
	url := l.cfg.url + "/poll?id=" + strconv.Itoa(id)
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := l.hc.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond) // a refused connection: do not spin
			}
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			l.receive(id, body, time.Since(l.start))
		}
	}
}

// receive records a message "seq nanos" for client id.
func (l *load) receive(id int, body []byte, now time.Duration) {
	seqText, nanosText, ok := bytes.Cut(body, []byte(" "))
	seq, err1 := strconv.Atoi(string(seqText))
	nanos, err2 := strconv.ParseInt(string(nanosText), 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[id][seq] {
		l.dups++
		return
	}
	l.seen[id][seq] = true
	l.lat = append(l.lat, int64(now)-nanos)
	l.delivered.Add(1)
}

// send sends client id's messages to its partner, one every interval,
// starting at a staggered offset.
func (l *load) send(ctx context.Context, id int) {
	url := l.cfg.url + "/send?to=" + strconv.Itoa(id^1)
	offset := l.cfg.interval * time.Duration(id) / time.Duration(2*l.cfg.pairs)
	t := time.NewTimer(offset)
	defer t.Stop()
	for seq := range l.cfg.messages {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(l.cfg.interval)
		body := strconv.Itoa(seq) + " " + strconv.FormatInt(int64(time.Since(l.start)), 10)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
		resp, err := l.hc.Do(req)
		if err != nil {
			l.sendErrs.Add(1)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			l.sendErrs.Add(1)
			continue
		}
		l.sent.Add(1)
	}
}
