package proxytest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Counter relays TCP connections from Addr to a target and counts them:
// put between a proxy and the server behind it, it shows whether the
// proxy keeps its connections to the server open across requests (HTTP
// keep-alive). Its methods are safe for concurrent use.
type Counter struct {
	// Addr is where the Counter listens, 127.0.0.1:port.
	Addr string

	target string
	ln     net.Listener
	conns  atomic.Int64
	wg     sync.WaitGroup
}

// Count starts a Counter in front of target (host:port) for the test; it
// closes its listener and every relayed connection when the test ends.
func Count(t testing.TB, target string) *Counter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxytest: %v", err)
	}
	c := &Counter{Addr: ln.Addr().String(), target: target, ln: ln}
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
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.conns.Add(1)
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
			c.wg.Add(2)
			go c.relay(out, in)
			go c.relay(in, out)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, conn := range open {
			conn.Close()
		}
		mu.Unlock()
		c.wg.Wait()
	})
	return c
}

// relay copies from src to dst, then closes both: one side's end ends
// the connection.
func (c *Counter) relay(dst, src net.Conn) {
	defer c.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Conns returns how many connections the Counter has accepted.
func (c *Counter) Conns() int { return int(c.conns.Load()) }
