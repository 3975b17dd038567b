package h2serve

import (
	"bytes"
	"context"
	"flag"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/httpbind/httpbind/internal/memstat"
	"github.com/httpbind/httpbind/internal/netpark"
)

var idleProfile = flag.String("idle.heapprofile", "", "BenchmarkIdleStreams: write a heap profile to `file` while every stream is detached")

// BenchmarkIdleStreams measures what the server keeps for idle
// connections whose streams are detached (held BOSH requests): conns
// connections over loopback with streams streams each, read by a
// goroutine each or, "watched", watched by a Poller once idle (as under
// bosh.Serve). The clients write their frames once and never read, so
// that the heap counted is the server's. Run it once:
//
//	go test -run '^$' -bench IdleStreams -benchtime 1x ./internal/h2serve -idle.heapprofile /tmp/h2.heap
func BenchmarkIdleStreams(b *testing.B) {
	for _, watched := range []bool{false, true} {
		for _, tc := range []struct{ conns, streams int }{{1000, 1}, {100, 10}, {10, 100}} {
			name := strconv.Itoa(tc.conns) + "x" + strconv.Itoa(tc.streams)
			if watched {
				name += "/watched"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					idleStreams(b, tc.conns, tc.streams, watched)
				}
			})
		}
	}
}

func idleStreams(b *testing.B, conns, streams int, watched bool) {
	if *idleProfile != "" {
		defer memstat.Profile(4096)()
	}
	detached := make(chan *Stream, conns*streams)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := Detach(w, func() {}); st != nil {
			detached <- st
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	s := &Server{}
	readers := conns // goroutines that read the connections
	if watched {
		p, err := netpark.New()
		if err != nil {
			b.Skip(err)
		}
		defer p.Close()
		s.Poller, s.WatchAfter, readers = p, time.Millisecond, 0
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.ServeConn(context.Background(), c, h, false)
		}
	}()
	defer s.Shutdown()
	before := memstat.Take()
	frames := clientFrames(streams)
	cs := make([]net.Conn, conns)
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range cs {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		cs[i] = c
		if _, err := c.Write(frames); err != nil {
			b.Fatal(err)
		}
	}
	timeout := time.After(time.Minute)
	for range conns * streams {
		select {
		case <-detached:
		case <-timeout:
			b.Fatal("streams not detached within a minute")
		}
	}
	// The handlers return after detaching: count once they have.
	for start := time.Now(); runtime.NumGoroutine() > before.Goroutines+readers+1 && time.Since(start) < 10*time.Second; {
		time.Sleep(time.Millisecond)
	}
	after := memstat.Take()
	if *idleProfile != "" {
		if err := memstat.WriteHeapProfile(*idleProfile); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(memstat.Per(after.HeapInuse, before.HeapInuse, conns), "heapinuse-B/conn")
	b.ReportMetric(memstat.Per(after.StackInuse, before.StackInuse, conns), "stack-B/conn")
	b.ReportMetric(memstat.Per(after.HeapInuse+after.StackInuse, before.HeapInuse+before.StackInuse, conns*streams), "heap+stack-B/stream")
	b.ReportMetric(float64(after.Goroutines-before.Goroutines)/float64(conns), "goroutines/conn")
}

// clientFrames is what an idle client sends: its preface, SETTINGS and n
// POSTs with a small body each.
func clientFrames(n int) []byte {
	var buf, hb bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	enc := hpack.NewEncoder(&hb)
	fr.WriteSettings()
	for i := range n {
		id := uint32(2*i + 1)
		hb.Reset()
		for _, f := range []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
			{Name: ":path", Value: "/http-bind"}, {Name: ":authority", Value: "bosh.example"},
			{Name: "content-type", Value: "text/xml; charset=utf-8"}, {Name: "content-length", Value: "60"}} {
			enc.WriteField(f)
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true})
		fr.WriteData(id, true, bytes.Repeat([]byte("x"), 60))
	}
	return buf.Bytes()
}
