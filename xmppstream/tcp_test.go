package xmppstream_test

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/xmppstream"
)

// noLeak fails the test when goroutines started during it are still
// running once its cleanups ran. Call it first.
func noLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		n := 0
		for range 300 { // up to 3s
			if n = runtime.NumGoroutine(); n <= before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	})
}

// recSink is a bosh.Sink that records what the upstream gives it.
type recSink struct {
	mu       sync.Mutex
	attrs    []bosh.Attr
	payloads []string
	batches  []int // payloads per Deliver call
	ended    bool
	endErr   error
	changed  chan struct{}
}

func newRecSink() *recSink { return &recSink{changed: make(chan struct{})} }

func (s *recSink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *recSink) Deliver(payloads ...[]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	for _, p := range payloads {
		s.payloads = append(s.payloads, string(p))
	}
	s.batches = append(s.batches, len(payloads))
	s.notifyLocked()
	return true
}

func (s *recSink) SetAttrs(attrs ...bosh.Attr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attrs = append(s.attrs, attrs...)
}

func (s *recSink) End(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended, s.endErr = true, err
		s.notifyLocked()
	}
}

func (s *recSink) attr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := ""
	for _, a := range s.attrs {
		if a.Name == name {
			v = a.Value
		}
	}
	return v
}

// wait waits until cond holds for the sink's state.
func (s *recSink) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		ok, changed := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("sink: timed out waiting for %s", what)
		}
	}
}

func (s *recSink) waitPayloads(t *testing.T, n int) []string {
	t.Helper()
	s.wait(t, "payloads", func() bool { return len(s.payloads) >= n })
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.payloads...)
}

func (s *recSink) waitEnd(t *testing.T) error {
	t.Helper()
	s.wait(t, "the end", func() bool { return s.ended })
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endErr
}

// tcpConfig is a TCPConfig for a fake server, counting dials.
func tcpConfig(f *fakeServer, dials *atomic.Int32) xmppstream.TCPConfig {
	cfg := xmppstream.TCPConfig{
		Addr: f.addr, Domains: []string{fDomain}, MaxStanzaSize: 2048, DialTimeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	}
	if f.opts.ca != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: f.opts.ca.pool}
	}
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials != nil {
			dials.Add(1)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return cfg
}

// openReq is a XEP-0206 session creation (Example 1).
func openReq() *bosh.OpenRequest {
	return &bosh.OpenRequest{
		To: fDomain, Lang: "en", Version: "1.11", RemoteAddr: "192.0.2.7:50000",
		Attrs: []xml.Attr{{Name: xml.Name{Space: bosh.NSXBOSH, Local: "version"}, Value: "1.0"}},
	}
}

// open opens a stream through up with a recording sink.
func open(t *testing.T, up *xmppstream.TCPUpstream, req *bosh.OpenRequest) (bosh.Stream, *recSink) {
	t.Helper()
	sink := newRecSink()
	st, err := up.Open(context.Background(), req, sink)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close(bosh.Closing{}) })
	return st, sink
}

func newUpstream(t *testing.T, cfg xmppstream.TCPConfig) *xmppstream.TCPUpstream {
	t.Helper()
	up, err := xmppstream.NewTCPUpstream(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { // after the streams' Close (cleanups run last first)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		up.Shutdown(ctx)
	})
	return up
}

// The creation response carries xmpp:version, restartlogic, the server's
// stream id as authid, its 'from', xmlns:stream and the features after
// STARTTLS, without <starttls/> (XEP-0206 §3, §4); the header sent has to, from, version and
// xml:lang; the private CA verifies the certificate.
func TestTCPCreationSTARTTLS(t *testing.T) {
	noLeak(t)
	ca := newTestCA(t)
	f := newFakeServer(t, fakeOpts{starttls: true, ca: ca})
	up := newUpstream(t, tcpConfig(f, nil))
	req := openReq()
	req.From = "juliet@example.com"
	_, sink := open(t, up, req)

	assert.Equal(t, "header to=example.com from=juliet@example.com version=1.0 lang=en xmlns=jabber:client stream=http://etherx.jabber.org/streams",
		f.waitEvent("header"))
	assert.Equal(t, "elem starttls ", f.waitEvent("elem"))
	assert.Contains(t, f.waitEvent("header"), "version=1.0", "the stream restarts after TLS")
	assert.Equal(t, bosh.NSXBOSH, sink.attr("xmlns:xmpp"))
	assert.Equal(t, "1.0", sink.attr("xmpp:version"))
	assert.Equal(t, "true", sink.attr("xmpp:restartlogic"))
	assert.Equal(t, "id-tls", sink.attr("authid"), "the id of the stream after TLS")
	assert.Equal(t, fDomain, sink.attr("from"))
	assert.Equal(t, "http://etherx.jabber.org/streams", sink.attr("xmlns:stream"))
	got := sink.waitPayloads(t, 1)
	assert.Equal(t, []string{"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
		"<mechanism>PLAIN</mechanism></mechanisms></stream:features>"}, got)
}

// TLS failures and a missing STARTTLS under RequireTLS are
// remote-connection-failed (XEP-0124 §17.2).
func TestTCPTLSFailures(t *testing.T) {
	noLeak(t)
	ca, other := newTestCA(t), newTestCA(t)
	tests := []struct {
		name string
		opts fakeOpts
		edit func(*xmppstream.TCPConfig)
	}{
		{name: "unknown CA (STARTTLS)", opts: fakeOpts{starttls: true, ca: ca},
			edit: func(c *xmppstream.TCPConfig) { c.TLSConfig = &tls.Config{RootCAs: other.pool} }},
		{name: "unknown CA (direct TLS)", opts: fakeOpts{direct: true, ca: ca},
			edit: func(c *xmppstream.TCPConfig) { c.DirectTLS, c.TLSConfig = true, &tls.Config{RootCAs: other.pool} }},
		{name: "wrong name", opts: fakeOpts{starttls: true, ca: ca},
			edit: func(c *xmppstream.TCPConfig) { c.TLSConfig.ServerName = "other.example" }},
		{name: "RequireTLS without an offer", opts: fakeOpts{},
			edit: func(c *xmppstream.TCPConfig) { c.RequireTLS = true }},
		{name: "nothing listening", opts: fakeOpts{},
			edit: func(c *xmppstream.TCPConfig) { c.Addr = "127.0.0.1:1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, tt.opts)
			cfg := tcpConfig(f, nil)
			tt.edit(&cfg)
			up := newUpstream(t, cfg)
			_, err := up.Open(context.Background(), openReq(), newRecSink())
			require.Error(t, err)
			assert.Equal(t, bosh.RemoteConnectionFailed, bosh.ConditionOf(err), "%v", err)
		})
	}
}

// Direct TLS (XEP-0368) needs no STARTTLS.
func TestTCPDirectTLS(t *testing.T) {
	noLeak(t)
	ca := newTestCA(t)
	f := newFakeServer(t, fakeOpts{direct: true, ca: ca})
	cfg := tcpConfig(f, nil)
	cfg.DirectTLS, cfg.RequireTLS = true, true
	_, sink := open(t, newUpstream(t, cfg), openReq())
	assert.Equal(t, "id-tls", sink.attr("authid"))
	assert.Contains(t, sink.waitPayloads(t, 1)[0], "<mechanism>PLAIN</mechanism>")
}

// host-unknown without dialling (XEP-0124 §17.2); a 'route' is dialled
// instead of Addr (§7.1).
func TestTCPHostUnknownAndRoute(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{})
	var dials atomic.Int32
	cfg := tcpConfig(f, &dials)
	cfg.Addr = "127.0.0.1:1" // nothing there: only the route works
	up := newUpstream(t, cfg)
	req := openReq()
	req.To = "other.example"
	_, err := up.Open(context.Background(), req, newRecSink())
	assert.ErrorIs(t, err, bosh.HostUnknown)
	assert.Equal(t, int32(0), dials.Load())

	host, port, _ := net.SplitHostPort(f.addr)
	req = openReq()
	req.Route = &bosh.Route{Proto: "xmpp", Host: host, Port: atoi(t, port)}
	_, sink := open(t, up, req)
	assert.Equal(t, int32(1), dials.Load())
	assert.Equal(t, "id-pre", sink.attr("authid"))
}

// The PROXY protocol v2 header is byte for byte the client's address.
func TestTCPProxyHeader(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{proxy: true})
	cfg := tcpConfig(f, nil)
	cfg.ProxyHeader = true
	up := newUpstream(t, cfg)
	_, port, _ := net.SplitHostPort(f.addr)
	p := atoi(t, port)
	sig := "0d0a0d0a000d0a515549540a"
	hp := func(n int) string { return hex2(n>>8) + hex2(n&0xff) }
	tests := []struct{ remote, want string }{
		{"192.0.2.7:50000", sig + "2111000c" + "c0000207" + "7f000001" + hp(50000) + hp(p)},
		{"192.0.2.7", sig + "2111000c" + "c0000207" + "7f000001" + "0000" + hp(p)},
		{"[2001:db8::1]:443", sig + "21210024" + "20010db8000000000000000000000001" + "00000000000000000000ffff7f000001" + "01bb" + hp(p)},
		{"not-an-ip", sig + "20000000"},
	}
	for _, tt := range tests {
		req := openReq()
		req.RemoteAddr = tt.remote
		st, _ := open(t, up, req)
		assert.Equal(t, "proxy "+tt.want, f.waitEvent("proxy"), tt.remote)
		st.Close(bosh.Closing{})
	}
}

func hex2(n int) string { return string("0123456789abcdef"[n>>4]) + string("0123456789abcdef"[n&15]) }

func atoi(t *testing.T, s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Server misbehaviour ends the session with the right condition, and the
// connection is closed (XEP-0124 §17.2, XEP-0206 §6).
func TestTCPServerEnds(t *testing.T) {
	noLeak(t)
	tests := []struct {
		cmd  string
		cond bosh.Condition
	}{
		{"close", bosh.RemoteConnectionFailed},
		{"doctype", bosh.RemoteConnectionFailed},
		{"huge", bosh.PolicyViolation},
		{"end", ""},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			f := newFakeServer(t, fakeOpts{})
			st, sink := open(t, newUpstream(t, tcpConfig(f, nil)), openReq())
			require.NoError(t, st.Send(context.Background(), &bosh.Request{Payloads: [][]byte{
				[]byte("<message to='cmd@example.com' xmlns='jabber:client'><body>" + tt.cmd + "</body></message>")}}))
			err := sink.waitEnd(t)
			assert.Equal(t, tt.cond, bosh.ConditionOf(err), "%v", err)
		})
	}
}

// Split writes are reassembled; the stanza gets xmlns='jabber:client'
// .
func TestTCPSplitWrites(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{})
	st, sink := open(t, newUpstream(t, tcpConfig(f, nil)), openReq())
	require.NoError(t, st.Send(context.Background(), &bosh.Request{Payloads: [][]byte{
		[]byte("<message to='cmd@example.com' xmlns='jabber:client'><body>split</body></message>")}}))
	got := sink.waitPayloads(t, 2)
	assert.Equal(t, "<message xmlns='jabber:client' from='s@example.com'><body>split</body></message>", got[1])
}

// A hung server makes Open fail with remote-connection-failed after
// DialTimeout, and Open leaves nothing behind.
func TestTCPOpenTimeout(t *testing.T) {
	noLeak(t)
	hold := make(chan int)
	f := newFakeServer(t, fakeOpts{hold: hold})
	defer close(hold)
	cfg := tcpConfig(f, nil)
	cfg.DialTimeout = 100 * time.Millisecond
	_, err := newUpstream(t, cfg).Open(context.Background(), openReq(), newRecSink())
	assert.ErrorIs(t, err, bosh.RemoteConnectionFailed)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || isTimeout(err), "%v", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// NewTCPUpstream refuses invalid configurations.
func TestNewTCPUpstreamInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  xmppstream.TCPConfig
	}{
		{"no Addr", xmppstream.TCPConfig{Domains: []string{"a"}}},
		{"no Domains", xmppstream.TCPConfig{Addr: "h:5222"}},
		{"bad domain", xmppstream.TCPConfig{Addr: "h:5222", Domains: []string{"a b"}}},
		{"tiny MaxStanzaSize", xmppstream.TCPConfig{Addr: "h:5222", Domains: []string{"a"}, MaxStanzaSize: 10}},
		{"negative DialTimeout", xmppstream.TCPConfig{Addr: "h:5222", Domains: []string{"a"}, DialTimeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := xmppstream.NewTCPUpstream(tt.cfg)
			assert.Error(t, err)
		})
	}
}

// Close of a stream whose server does not answer </stream:stream> returns
// promptly, and the server sees </stream:stream> then EOF (RFC 6120 §4.4).
func TestTCPCloseSendsStreamEnd(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{silent: true})
	st, _ := open(t, newUpstream(t, tcpConfig(f, nil)), openReq())
	start := time.Now()
	st.Close(bosh.Closing{Err: bosh.ErrInactive})
	assert.Less(t, time.Since(start), time.Second)
	f.waitEvent("closed")
	f.waitEvent("eof")
}

// closingSink calls the stream's Close from inside Deliver, as the bosh
// session does when an upstream overflows bosh.Config.MaxQueue.
type closingSink struct {
	recSink
	st     atomic.Pointer[bosh.Stream]
	closed chan struct{}
}

func (s *closingSink) Deliver(payloads ...[]byte) bool {
	if st := s.st.Load(); st != nil {
		(*st).Close(bosh.Closing{Err: bosh.PolicyViolation, Undelivered: payloads})
		close(s.closed)
		return true
	}
	return s.recSink.Deliver(payloads...)
}

// Close from the reader goroutine itself neither deadlocks nor leaks it.
func TestTCPCloseFromSink(t *testing.T) {
	noLeak(t)
	f := newFakeServer(t, fakeOpts{})
	sink := &closingSink{recSink: *newRecSink(), closed: make(chan struct{})}
	st, err := newUpstream(t, tcpConfig(f, nil)).Open(context.Background(), openReq(), sink)
	require.NoError(t, err)
	sink.st.Store(&st)
	require.NoError(t, st.Send(context.Background(), &bosh.Request{Payloads: [][]byte{
		[]byte("<message to='romeo@example.net' xmlns='jabber:client'><body>x</body></message>")}}))
	select {
	case <-sink.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close inside Deliver did not return")
	}
	f.waitEvent("closed")
	f.waitEvent("eof")
}
