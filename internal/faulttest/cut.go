package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCut is the error of a request whose connection a Cutter cut.
var ErrCut = errors.New("faulttest: connection cut by the client")

// CutConfig says which requests a Cutter cuts and when.
type CutConfig struct {
	// Cut is the probability that a request's connection is cut, drawn
	// for every attempt, resends included.
	Cut float64
	// MaxRun is the most times in a row that one request (the same bytes
	// resent) is cut; the next attempt goes through. Default 5.
	MaxRun int
	// Within bounds the cut: it comes at a uniform random moment up to
	// Within after the server's TCP stack acknowledged every byte of the
	// request. Default 10ms.
	Within time.Duration
	// Match picks the requests that may be cut, by body; nil means every
	// request. (A creation request cut after the server read it leaves a
	// session the client cannot name: XEP-0124 §7.1 has no sid to resend.)
	Match func(body []byte) bool
	// Seed seeds the random choices.
	Seed uint64
}

// CutStats counts what a Cutter did.
type CutStats struct {
	Requests int64 // attempts sent
	Cut      int64 // attempts cut
	Answered int64 // cut attempts whose response had already begun to arrive
}

// Cutter is an http.RoundTripper that breaks the client's side of a
// connection the way networks and clients do (XEP-0124 §14.3): for a
// chosen request it writes the request in full on a new TCP connection,
// waits until the server's TCP stack has acknowledged every byte (on
// Linux, the socket's SIOCOUTQ is zero), then closes the connection
// without reading, at a random moment up to Within later. At that moment
// the server may not have read the request yet, may be forwarding it, may
// be holding it, or may have answered it. The caller gets ErrCut and,
// like a BOSH client, sends the same request again; that attempt may be
// cut too, up to MaxRun times in a row. Other requests go through Base.
// Its methods are safe for concurrent use.
type Cutter struct {
	// Base carries the requests that are not cut; nil means
	// http.DefaultTransport.
	Base http.RoundTripper

	cfg  CutConfig
	dial net.Dialer

	mu   sync.Mutex        // guards below
	rnd  *rand.Rand        // the random choices
	runs map[string]int    // cuts in a row, by request body
	open map[net.Conn]bool // connections being cut, closed by Close

	requests, cut, answered atomic.Int64
}

// NewCutter returns a Cutter for cfg whose other requests go through base.
func NewCutter(cfg CutConfig, base http.RoundTripper) *Cutter {
	if cfg.MaxRun == 0 {
		cfg.MaxRun = 5
	}
	if cfg.Within == 0 {
		cfg.Within = 10 * time.Millisecond
	}
	return &Cutter{
		Base: base,
		cfg:  cfg,
		rnd:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x2545f4914f6cdd1d)),
		runs: make(map[string]int),
		open: make(map[net.Conn]bool),
	}
}

// Stats returns what the Cutter did so far.
func (c *Cutter) Stats() CutStats {
	return CutStats{Requests: c.requests.Load(), Cut: c.cut.Load(), Answered: c.answered.Load()}
}

// RoundTrip sends req, or cuts its connection.
func (c *Cutter) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	c.requests.Add(1)
	if delay, ok := c.choose(body); ok {
		return nil, c.cutOne(req, body, delay)
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	base := c.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}

// choose decides whether this attempt at body is cut, and when.
func (c *Cutter) choose(body []byte) (time.Duration, bool) {
	if c.cfg.Match != nil && !c.cfg.Match(body) {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := string(body)
	if c.rnd.Float64() >= c.cfg.Cut || c.runs[key] >= c.cfg.MaxRun {
		delete(c.runs, key)
		return 0, false
	}
	c.runs[key]++
	return time.Duration(c.rnd.Int64N(int64(c.cfg.Within) + 1)), true
}

// cutOne writes req on a connection of its own, waits until the server
// acknowledged it and then for delay, and closes the connection.
func (c *Cutter) cutOne(req *http.Request, body []byte, delay time.Duration) error {
	ctx := req.Context()
	conn, err := c.dial.DialContext(ctx, "tcp", hostPort(req))
	if err != nil {
		return err
	}
	c.track(conn, true)
	defer c.track(conn, false)
	defer conn.Close()
	out := req.Clone(ctx)
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.Close = true
	w := bufio.NewWriter(conn)
	if err := out.Write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	c.cut.Add(1)
	if err := waitAcked(ctx, conn); err != nil {
		return err
	}
	t := time.NewTimer(delay)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	if readable(conn) {
		c.answered.Add(1)
	}
	return ErrCut
}

func (c *Cutter) track(conn net.Conn, open bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if open {
		c.open[conn] = true
	} else {
		delete(c.open, conn)
	}
}

// Close closes the connections being cut at once.
func (c *Cutter) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.open {
		conn.Close()
	}
}

// waitAcked waits, bounded, until the peer's TCP stack has acknowledged
// everything written on conn.
func waitAcked(ctx context.Context, conn net.Conn) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, err := unacked(conn)
		if err != nil || n == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("faulttest: request not acknowledged within 2s")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Microsecond) // a bounded poll of the socket
	}
}

// readable reports whether bytes of a response wait on conn (the server
// answered before the cut), without blocking.
func readable(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(time.Microsecond))
	var b [1]byte
	n, _ := conn.Read(b[:])
	return n > 0
}

// hostPort is the address to dial for req.
func hostPort(req *http.Request) string {
	host := req.URL.Host
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	if req.URL.Scheme == "https" {
		return net.JoinHostPort(host, "443")
	}
	return net.JoinHostPort(host, "80")
}
