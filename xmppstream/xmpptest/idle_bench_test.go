package xmpptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/memstat"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

var idleProfile = flag.String("idle.heapprofile", "", "BenchmarkIdleSessions: write a heap profile to `file` while every session holds a request")

// BenchmarkIdleSessions measures what an idle logged-in session costs the
// server: idleSessions sessions, each logged in (SASL PLAIN, restart, bind,
// session) over its own HTTP/1.1 connection through the real net/http
// stack, then each holding one request (wait 60 s), like boshload's idle
// phase. The clients are raw connections with no goroutine once logged in,
// so nearly all that the figures count is the server's. Run it once:
//
//	go test -run '^$' -bench IdleSessions/bosh.Serve -benchtime 1x ./xmppstream/xmpptest -idle.heapprofile /tmp/idle.heap
//	go tool pprof -top -sample_index=inuse_space /tmp/idle.heap
//
// Two ways of serving are measured: "http.Server" (srv.Serve, a goroutine
// and buffers per held request) and "bosh.Serve" (held requests parked).
func BenchmarkIdleSessions(b *testing.B) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	for _, park := range []bool{false, true} {
		name := "http.Server"
		if park {
			name = "bosh.Serve"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				idleSessions(b, n, park)
			}
		})
	}
}

func idleSessions(b *testing.B, n int, park bool) {
	if *idleProfile != "" {
		defer memstat.Profile(4096)()
	}
	srv, err := NewServer(Config{Handler: bosh.Config{MaxSessionsPerAddress: n + 1, SessionsPerSecond: 1e6, SessionBurst: n + 1}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	for i := range n {
		if err := srv.Core.AddUser("user"+strconv.Itoa(i), "secret"); err != nil {
			b.Fatal(err)
		}
	}
	// The server's own HTTP server, served one way or the other.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler}
	if park {
		go bosh.Serve(hs, ln)
	} else {
		go hs.Serve(ln)
	}
	defer hs.Close()
	addr := ln.Addr().String()
	before := memstat.Take()

	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				c, err := idleLogin(ctx, addr, "user"+strconv.Itoa(i))
				if err != nil {
					errs <- fmt.Errorf("user%d: %w", i, err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	idle := func() bool { // every session holds a request; under bosh.Serve, parked
		st := srv.Handler.Stats()
		return st.Held >= int64(n) && (!park || st.Parked >= int64(n))
	}
	for start := time.Now(); !idle(); {
		if time.Since(start) > 30*time.Second {
			b.Fatalf("%d of %d requests held", srv.Handler.Stats().Held, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := memstat.Take()
	if *idleProfile != "" {
		if err := memstat.WriteHeapProfile(*idleProfile); err != nil {
			b.Fatal(err)
		}
	}
	per := func(a, b uint64) float64 { return memstat.Per(a, b, n) }
	b.ReportMetric(per(after.HeapInuse, before.HeapInuse), "heapinuse-B/session")
	b.ReportMetric(per(after.HeapAlloc, before.HeapAlloc), "heapalloc-B/session")
	b.ReportMetric(per(after.StackInuse, before.StackInuse), "stack-B/session")
	b.ReportMetric(per(after.Sys-after.HeapReleased, before.Sys-before.HeapReleased), "sys-B/session")
	b.ReportMetric(float64(after.Goroutines-before.Goroutines)/float64(n), "goroutines/session")
	b.ReportMetric(per(after.TotalAlloc, before.TotalAlloc), "alloc-B/login")
	b.ReportMetric(0, "ns/op")
}

// idleLogin logs user in over a new connection and leaves one request
// held on it, unread.
func idleLogin(ctx context.Context, addr, user string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	l := &idleClient{c: c, r: bufio.NewReader(c), rid: 1000}
	if err := l.login(user); err != nil {
		c.Close()
		return nil, err
	}
	// The held request: written, never read.
	if err := l.write(xmppwire.RequestBody(l.next(), l.sid, "", nil)); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

type idleClient struct {
	c   net.Conn
	r   *bufio.Reader
	rid uint64
	sid string
	got []byte // response bodies not yet matched
}

func (l *idleClient) next() uint64 { l.rid++; return l.rid - 1 }

func (l *idleClient) login(user string) error {
	create := fmt.Sprintf("<body rid='%d' to='localhost' hold='1' wait='60' ver='1.6' xml:lang='en' xmpp:version='1.0' xmlns:xmpp='%s' xmlns='%s'/>",
		l.next(), xmppwire.NSXBOSH, xmppwire.NSHTTPBind)
	if err := l.exchange([]byte(create)); err != nil {
		return err
	}
	i := bytes.Index(l.got, []byte("sid='"))
	if i < 0 {
		return fmt.Errorf("no sid in %s", l.got)
	}
	l.sid = string(l.got[i+5 : i+5+bytes.IndexByte(l.got[i+5:], '\'')])
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00secret"))
	steps := []struct{ extra, payload, want string }{
		{"", "", "PLAIN"},
		{"", "<auth xmlns='" + xmppwire.NSSASL + "' mechanism='PLAIN'>" + creds + "</auth>", "<success"},
		{" to='localhost' xml:lang='en' xmpp:restart='true' xmlns:xmpp='" + xmppwire.NSXBOSH + "'", "", "bind"},
		{"", "<iq type='set' id='bind_1' xmlns='jabber:client'><bind xmlns='" + xmppwire.NSBind + "'/></iq>", "bind_1"},
		{"", "<iq type='set' id='sess_1' to='localhost' xmlns='jabber:client'><session xmlns='" + xmppwire.NSSession + "'/></iq>", "sess_1"},
	}
	for _, s := range steps {
		if s.extra != "" || s.payload != "" {
			var ps [][]byte
			if s.payload != "" {
				ps = [][]byte{[]byte(s.payload)}
			}
			if err := l.exchange(xmppwire.RequestBody(l.next(), l.sid, s.extra, ps)); err != nil {
				return err
			}
		}
		for tries := 0; !bytes.Contains(l.got, []byte(s.want)); tries++ {
			if tries > 5 {
				return fmt.Errorf("no %q in %s", s.want, l.got)
			}
			if err := l.exchange(xmppwire.RequestBody(l.next(), l.sid, "", nil)); err != nil {
				return err
			}
		}
		l.got = l.got[:0]
	}
	return nil
}

func (l *idleClient) write(body []byte) error {
	req := fmt.Sprintf("POST /http-bind HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n", len(body))
	_, err := l.c.Write(append([]byte(req), body...))
	return err
}

func (l *idleClient) exchange(body []byte) error {
	if err := l.write(body); err != nil {
		return err
	}
	resp, err := http.ReadResponse(l.r, nil)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(data, []byte("type='terminate'")) {
		return fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	l.got = append(l.got, data...)
	return nil
}
