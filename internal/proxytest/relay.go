package proxytest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Relay relays TCP connections from Addr to a target. Put between a proxy
// and the server behind it, it counts the proxy's connections to the
// server (HTTP keep-alive); put between two nodes, it can stall one
// direction, as a network that loses one side's packets. Its methods are
// safe for concurrent use.
type Relay struct {
	// Addr is where the Relay listens.
	Addr string

	ln      net.Listener
	conns   atomic.Int64
	stalled atomic.Bool
	wg      sync.WaitGroup
}

// Count starts a Relay on a free loopback port in front of target
// (host:port) for the test.
func Count(t testing.TB, target string) *Relay { return NewRelay(t, "127.0.0.1:0", target) }

// NewRelay starts a Relay listening on listen (host:port) in front of
// target for the test; it closes its listener and every relayed connection
// when the test ends.
func NewRelay(t testing.TB, listen, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	r := &Relay{Addr: ln.Addr().String(), ln: ln}
	var mu sync.Mutex
	var open []net.Conn // guarded by mu
	closed := false     // guarded by mu
	track := func(cs ...net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return false
		}
		open = append(open, cs...)
		return true
	}
	r.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			if !track(in, out) {
				in.Close()
				out.Close()
				return
			}
			r.wg.Go(func() { r.copy(out, in, nil) })
			r.wg.Go(func() { r.copy(in, out, &r.stalled) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, conn := range open {
			conn.Close()
		}
		mu.Unlock()
		r.wg.Wait()
	})
	return r
}

// copy copies from src to dst, dropping what it reads while stall is set,
// then closes both: one side's end ends the connection.
func (r *Relay) copy(dst, src net.Conn, stall *atomic.Bool) {
	defer dst.Close()
	defer src.Close()
	if stall == nil {
		io.Copy(dst, src)
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !stall.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Conns returns how many connections the Relay has accepted.
func (r *Relay) Conns() int { return int(r.conns.Load()) }

// Stall makes the Relay drop what the target sends back, on every
// connection, from now on (on) or no longer (off); what the client sends
// still reaches the target.
func (r *Relay) Stall(on bool) { r.stalled.Store(on) }
