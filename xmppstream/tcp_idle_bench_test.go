package xmppstream_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/memstat"
	"github.com/httpbind/httpbind/internal/prosodytest"
	"github.com/httpbind/httpbind/xmppstream"
)

var tcpIdleProfile = flag.String("tcpidle.heapprofile", "", "BenchmarkIdleTCPStreams: write a heap profile to `file` while every stream is idle")

// BenchmarkIdleTCPStreams measures what an idle logged-in relayed session
// costs the TCPUpstream: n streams to a real Prosody, each through
// STARTTLS, SASL PLAIN, the restart and resource binding (RFC 6120 §5-§7,
// XEP-0206 §5), then idle. It reports the heap and stack in use and the
// goroutines per stream, after a GC. Run it once:
//
//	go test -run '^$' -bench IdleTCPStreams -benchtime 1x ./xmppstream -tcpidle.heapprofile /tmp/tcpidle.heap
//	go tool pprof -top -sample_index=inuse_space /tmp/tcpidle.heap
func BenchmarkIdleTCPStreams(b *testing.B) {
	n := 500
	if testing.Short() {
		n = 50
	}
	// TLS session tickets, as compare.sh configures them: the relay
	// resumes its TLS sessions, as it does in front of a real server.
	p := prosodytest.Start(b, prosodytest.Config{Domain: "example.test", TLSTickets: true})
	p.Register("bench", "bench secret")
	up, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{
		Addr: p.C2SAddr, Domains: []string{p.Domain}, TLSConfig: &tls.Config{RootCAs: p.CAPool},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		idleTCPStreams(b, up, p.Domain, n)
	}
}

func idleTCPStreams(b *testing.B, up *xmppstream.TCPUpstream, domain string, n int) {
	if *tcpIdleProfile != "" {
		defer memstat.Profile(512)()
	}
	before := memstat.Take()
	streams := make([]bosh.Stream, n)
	defer func() {
		var wg sync.WaitGroup
		for _, st := range streams {
			if st != nil {
				wg.Go(func() { st.Close(bosh.Closing{}) })
			}
		}
		wg.Wait()
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
				st, err := loginTCP(ctx, up, domain)
				if err != nil {
					errs <- fmt.Errorf("stream %d: %w", i, err)
					return
				}
				streams[i] = st
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	// Every reader parks once the server has nothing more to say (on
	// Linux); wait for them, 10 s at most.
	for i := 0; i < 200 && runtime.NumGoroutine() > before.Goroutines+5; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	after := memstat.Take()
	b.ReportMetric(memstat.Per(after.HeapInuse, before.HeapInuse, n), "heapB/stream")
	b.ReportMetric(memstat.Per(after.StackInuse, before.StackInuse, n), "stackB/stream")
	b.ReportMetric(float64(after.Goroutines-before.Goroutines)/float64(n), "goroutines/stream")
	if *tcpIdleProfile != "" {
		if err := memstat.WriteHeapProfile(*tcpIdleProfile); err != nil {
			b.Fatal(err)
		}
	}
}

// chanSink is a bosh.Sink that passes each delivered payload on a channel.
type chanSink struct{ c chan []byte }

func (s chanSink) Deliver(payloads ...[]byte) bool {
	for _, p := range payloads {
		select {
		case s.c <- p:
		default:
		}
	}
	return true
}
func (s chanSink) SetAttrs(...bosh.Attr) {}
func (s chanSink) End(error)             {}

// loginTCP opens a stream and logs "bench" in on it: SASL PLAIN, the
// restart, resource binding.
func loginTCP(ctx context.Context, up *xmppstream.TCPUpstream, domain string) (bosh.Stream, error) {
	sink := chanSink{c: make(chan []byte, 8)}
	st, err := up.Open(ctx, &bosh.OpenRequest{To: domain, Lang: "en", Version: "1.11",
		Attrs: []xml.Attr{{Name: xml.Name{Space: bosh.NSXBOSH, Local: "version"}, Value: "1.0"}}}, sink)
	if err != nil {
		return nil, err
	}
	expect := func(what string) error {
		for {
			select {
			case p := <-sink.c:
				if strings.Contains(string(p), what) {
					return nil
				}
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
			}
		}
	}
	send := func(req *bosh.Request, what string) error {
		if err := st.Send(ctx, req); err != nil {
			return err
		}
		return expect(what)
	}
	<-sink.c // the features
	plain := base64.StdEncoding.EncodeToString([]byte("\x00bench\x00bench secret"))
	steps := []struct {
		req  *bosh.Request
		what string
	}{
		{&bosh.Request{Payloads: [][]byte{[]byte("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + plain + "</auth>")}}, "<success"},
		{&bosh.Request{Attrs: []xml.Attr{{Name: xml.Name{Space: bosh.NSXBOSH, Local: "restart"}, Value: "true"}}}, "features"},
		{&bosh.Request{Payloads: [][]byte{[]byte("<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")}}, "<jid>"},
	}
	for _, s := range steps {
		if err := send(s.req, s.what); err != nil {
			st.Close(bosh.Closing{})
			return nil, err
		}
	}
	return st, nil
}
