package bosh

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// served is a Handler served by Serve (or, plain, by http.Server.Serve)
// on a loopback port.
type served struct {
	*tester
	addr string
	tls  *tls.Config // the client's, when served over TLS
}

// serveOpts say how newServed serves.
type serveOpts struct {
	plain bool          // http.Server.Serve instead of Serve
	tls   bool          // over TLS
	idle  time.Duration // the server's IdleTimeout
	h2c   bool          // also HTTP/2 with prior knowledge
	h2    bool          // with tls: HTTP/2 first in ALPN
	// other serves every path but /http-bind, when set.
	other http.Handler
	// server changes the http.Server before it serves.
	server func(*http.Server)
}

func newServed(t *testing.T, cfg Config, o serveOpts) *served {
	t.Helper()
	x := newTester(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &served{tester: x, addr: ln.Addr().String()}
	if o.tls {
		ts := httptest.NewUnstartedServer(nil)
		ts.StartTLS() // for its certificate
		ts.Close()
		protos := []string{"http/1.1"}
		if o.h2 {
			protos = []string{"h2", "http/1.1"}
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: ts.TLS.Certificates, NextProtos: protos})
		s.tls = &tls.Config{InsecureSkipVerify: true}
	}
	srv := &http.Server{Handler: x.h, IdleTimeout: o.idle}
	if o.other != nil {
		mux := http.NewServeMux()
		mux.Handle("/http-bind", x.h)
		mux.Handle("/", o.other)
		srv.Handler = mux
	}
	if o.server != nil {
		o.server(srv)
	}
	if o.h2c {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Protocols = &p
	}
	errc := make(chan error, 1)
	go func() {
		if o.plain {
			errc <- srv.Serve(ln)
		} else {
			errc <- Serve(srv, ln)
		}
	}()
	t.Cleanup(func() {
		x.h.Shutdown(context.Background())
		srv.Close()
		assert.ErrorIs(t, <-errc, http.ErrServerClosed)
	})
	return s
}

// rawConn is a client connection without goroutines: it writes a request
// and reads its response when told.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (s *served) dial() *rawConn {
	s.t.Helper()
	c, err := net.Dial("tcp", s.addr)
	require.NoError(s.t, err)
	if s.tls != nil {
		tc := tls.Client(c, s.tls)
		require.NoError(s.t, tc.Handshake())
		c = tc
	}
	s.t.Cleanup(func() { c.Close() })
	return &rawConn{t: s.t, c: c, br: bufio.NewReader(c)}
}

// post writes a request with body and headers (pairs of name, value).
func (c *rawConn) post(body string, headers ...string) {
	c.t.Helper()
	var b strings.Builder
	b.WriteString("POST /http-bind HTTP/1.1\r\nHost: bosh.example\r\nContent-Type: text/xml; charset=utf-8\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	_, err := c.c.Write([]byte(b.String()))
	require.NoError(c.t, err)
}

// read reads a response.
func (c *rawConn) read() *resp {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(c.br, nil)
	require.NoError(c.t, err)
	defer res.Body.Close()
	return parseHTTPResp(c.t, res)
}

// create opens a session over c.
func (c *rawConn) create(x *tester, rid uint64) *sess {
	c.t.Helper()
	c.post(createBody(rid, ""))
	r := c.read()
	require.NotEmpty(c.t, r.Attr("sid"), r.Raw)
	return &sess{x: x, sid: r.Attr("sid"), rid: rid, created: r}
}

// waitHeld waits until n requests are held.
func waitHeld(t *testing.T, h *Handler, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return h.Stats().Held == n }, 10*time.Second, time.Millisecond, "held requests")
}

// waitParked waits until n requests are parked.
func waitParked(t *testing.T, h *Handler, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return h.Stats().Parked == n }, 10*time.Second, time.Millisecond, "parked requests")
}

// Under Serve a held request (§8) waits without a goroutine: sessions
// holding a request each on its own connection add no goroutines; each
// reply comes on its connection, which then serves its next request.
func TestServeParksHeldRequests(t *testing.T) {
	tests := []struct {
		name string
		o    serveOpts
	}{
		{name: "Serve"},
		{name: "Serve over TLS", o: serveOpts{tls: true}},
		{name: "http.Server.Serve", o: serveOpts{plain: true}},
	}
	const n = 40
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServed(t, Config{MaxSessionsPerAddress: n + 1}, tt.o)
			before := runtime.NumGoroutine()
			conns, sessions := make([]*rawConn, n), make([]*sess, n)
			for i := range conns {
				conns[i] = s.dial()
				sessions[i] = conns[i].create(s.tester, 100)
			}
			for i, c := range conns {
				c.post(sessions[i].body(1, "", ""))
			}
			waitHeld(t, s.h, n)
			if !tt.o.plain {
				waitParked(t, s.h, n)
			}
			grew := runtime.NumGoroutine() - before
			if tt.o.plain {
				assert.GreaterOrEqual(t, grew, n, "a goroutine (two) per held request")
			} else {
				assert.Less(t, grew, n/4, "no goroutine per held request, nor per connection")
			}
			for i, c := range conns {
				s.up.stream(t, i).sink.Deliver([]byte("<message id='m" + strconv.Itoa(i) + "'/>"))
				r := c.read()
				require.Equal(t, []string{"<message id='m" + strconv.Itoa(i) + "'/>"}, r.Children, r.Raw)
				c.post(sessions[i].body(2, "type='terminate'", ""))
				assert.Equal(t, "terminate", c.read().Type(), "the connection serves its next request")
			}
			waitHeld(t, s.h, 0)
		})
	}
}

// A client that goes away while its request is parked is noticed, as
// without Serve: the request keeps its place and gets no payloads
// (§14.3), so what arrives next goes to the client's next request; the
// session lives on.
func TestServeParkedClientGoesAway(t *testing.T) {
	s := newServed(t, Config{}, serveOpts{})
	c := s.dial()
	ss := c.create(s.tester, 100)
	c.post(ss.body(1, "", ""))
	waitParked(t, s.h, 1)
	c.c.Close()
	waitHeld(t, s.h, 0)

	s.up.stream(t, 0).sink.Deliver([]byte("<message id='after'/>"))
	c2 := s.dial()
	c2.post(ss.body(2, "", ""))
	r := c2.read()
	assert.Equal(t, []string{"<message id='after'/>"}, r.Children, r.Raw)
	c2.post(ss.body(1, "", ""))
	assert.True(t, c2.read().IsEmpty(), "the rid whose client went away gets its empty reply (§14.3)")
}

// Handler.Shutdown answers parked requests with system-shutdown (§17.2)
// and waits for them to be written.
func TestServeShutdownAnswersParked(t *testing.T) {
	s := newServed(t, Config{}, serveOpts{})
	const n = 5
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = s.dial()
		ss := conns[i].create(s.tester, 100)
		conns[i].post(ss.body(1, "", ""))
	}
	waitParked(t, s.h, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.h.Shutdown(ctx))
	for _, c := range conns {
		assert.True(t, c.read().IsTerm("system-shutdown"))
	}
}

// A parked request's response is the one the handler writes without
// Serve: the same status and headers (CORS, compression, §5) and body.
func TestServeParkedResponseIsTheSame(t *testing.T) {
	cfg := Config{AllowOrigins: []string{"https://chat.example"}, CompressMin: 1}
	headers := []string{"Origin", "https://chat.example", "Accept-Encoding", "gzip"}
	answer := func(o serveOpts) *resp {
		s := newServed(t, cfg, o)
		c := s.dial()
		ss := c.create(s.tester, 100)
		c.post(ss.body(1, "", ""), headers...)
		waitHeld(t, s.h, 1)
		if !o.plain {
			waitParked(t, s.h, 1)
		}
		s.up.stream(t, 0).sink.Deliver([]byte("<message id='m'><body>hello</body></message>"))
		return c.read()
	}
	want, got := answer(serveOpts{plain: true}), answer(serveOpts{})
	assert.Equal(t, want.Status, got.Status)
	assert.Equal(t, want.Raw, got.Raw)
	for _, h := range []string{"Content-Type", "Content-Encoding", "Vary", "Cache-Control", "Access-Control-Allow-Origin"} {
		assert.NotEmpty(t, want.Header.Get(h), h)
		assert.Equal(t, want.Header.Values(h), got.Header.Values(h), h)
	}
	assert.NotEmpty(t, got.Header.Get("Date"))
}

// A retransmission of a parked request's rid (§14.3), on another
// connection, waits for the same reply; both connections get it and go
// on.
func TestServeRetransmissionOfParkedRequest(t *testing.T) {
	s := newServed(t, Config{}, serveOpts{})
	a := s.dial()
	ss := a.create(s.tester, 100)
	a.post(ss.body(1, "", ""))
	waitParked(t, s.h, 1)
	b := s.dial()
	b.post(ss.body(1, "", ""))
	require.Eventually(t, func() bool { return s.h.Stats().Attached == 1 }, 10*time.Second, time.Millisecond)
	s.up.stream(t, 0).sink.Deliver([]byte("<message id='once'/>"))
	for _, c := range []*rawConn{a, b} {
		r := c.read()
		assert.Equal(t, []string{"<message id='once'/>"}, r.Children, r.Raw)
	}
	a.post(ss.body(2, "type='terminate'", ""))
	assert.Equal(t, "terminate", a.read().Type())
}

// h2Client is an HTTP/2 client, with prior knowledge (h2c) or over TLS:
// its requests share one connection.
func (s *served) h2Client() *http.Client {
	var p http.Protocols
	if s.tls != nil {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	tr := &http.Transport{Protocols: &p, TLSClientConfig: s.tls}
	s.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// h2Post posts body over c and returns its response, or the error of a
// request whose ctx ended.
func (s *served) h2Post(ctx context.Context, c *http.Client, body string) (*resp, error) {
	scheme := "http://"
	if s.tls != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scheme+s.addr+"/http-bind", strings.NewReader(body))
	require.NoError(s.t, err)
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	require.Equal(s.t, 2, res.ProtoMajor)
	return parseHTTPResp(s.t, res), nil
}

// Over HTTP/2, h2c and over TLS, Serve parks held streams too: many
// sessions over one connection each hold a stream whose handler has
// returned; each reply comes on its stream; a client resetting its
// stream (RST_STREAM) has gone away, and the session lives on (§14.3).
func TestServeParksHeldH2Streams(t *testing.T) {
	tests := []struct {
		name string
		o    serveOpts
	}{
		{"h2c", serveOpts{h2c: true}},
		{"h2 over TLS", serveOpts{tls: true, h2: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { parksHeldH2Streams(t, tt.o) })
	}
}

func parksHeldH2Streams(t *testing.T, o serveOpts) {
	const n = 40
	s := newServed(t, Config{MaxSessionsPerAddress: n + 1}, o)
	c := s.h2Client()
	ctx := context.Background()
	sessions := make([]*sess, n)
	for i := range sessions {
		r, err := s.h2Post(ctx, c, createBody(100, ""))
		require.NoError(t, err)
		require.NotEmpty(t, r.Attr("sid"), r.Raw)
		sessions[i] = &sess{x: s.tester, sid: r.Attr("sid"), rid: 100, created: r}
	}
	replies := make([]chan *resp, n)
	for i, ss := range sessions {
		replies[i] = make(chan *resp, 1)
		go func() {
			r, err := s.h2Post(ctx, c, ss.body(1, "", ""))
			assert.NoError(t, err)
			replies[i] <- r
		}()
	}
	waitParked(t, s.h, n)
	for i := range sessions {
		s.up.stream(t, i).sink.Deliver([]byte("<message id='m" + strconv.Itoa(i) + "'/>"))
		r := <-replies[i]
		require.NotNil(t, r)
		assert.Equal(t, []string{"<message id='m" + strconv.Itoa(i) + "'/>"}, r.Children, r.Raw)
	}
	waitHeld(t, s.h, 0)

	// The client resets a parked stream: its rid keeps its place.
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := s.h2Post(rctx, c, sessions[0].body(2, "", ""))
		errc <- err
	}()
	waitParked(t, s.h, 1)
	cancel()
	assert.Error(t, <-errc)
	waitHeld(t, s.h, 0)
	s.up.stream(t, 0).sink.Deliver([]byte("<message id='after'/>"))
	r, err := s.h2Post(ctx, c, sessions[0].body(3, "", ""))
	require.NoError(t, err)
	assert.Equal(t, []string{"<message id='after'/>"}, r.Children, r.Raw)
	r, err = s.h2Post(ctx, c, sessions[0].body(2, "", ""))
	require.NoError(t, err)
	assert.True(t, r.IsEmpty(), "the reset rid gets its empty reply (§14.3): %s", r.Raw)
}

// Handler.Shutdown answers parked h2c streams with system-shutdown
// (§17.2), then the http.Server shuts down with their connection.
func TestServeShutdownAnswersParkedH2cStreams(t *testing.T) {
	s := newServed(t, Config{}, serveOpts{h2c: true})
	c := s.h2Client()
	r, err := s.h2Post(context.Background(), c, createBody(100, ""))
	require.NoError(t, err)
	ss := &sess{x: s.tester, sid: r.Attr("sid"), rid: 100}
	got := make(chan *resp, 1)
	go func() {
		r, err := s.h2Post(context.Background(), c, ss.body(1, "", ""))
		assert.NoError(t, err)
		got <- r
	}()
	waitParked(t, s.h, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.h.Shutdown(ctx))
	r = <-got
	require.NotNil(t, r)
	assert.True(t, r.IsTerm("system-shutdown"), r.Raw)
}

// BenchmarkServeHeldRoundTrip is one held request answered by a delivery,
// over a loopback HTTP/1.1 connection: served by http.Server.Serve, and
// by Serve with the request parked (then the connection parked idle
// until the next request): what parking costs a request.
func BenchmarkServeHeldRoundTrip(b *testing.B) {
	for _, o := range []struct {
		name string
		o    serveOpts
	}{{"http.Server", serveOpts{plain: true}}, {"bosh.Serve", serveOpts{}}} {
		b.Run(o.name, func(b *testing.B) {
			t := &testing.T{}
			s := newServed(t, Config{}, o.o)
			s.t = t
			c := s.dial()
			ss := c.create(s.tester, 100)
			sink := s.up.stream(t, 0).sink
			msg := []byte("<message id='m'/>")
			b.ReportAllocs()
			n := uint64(1)
			for b.Loop() {
				c.post(ss.body(n, "", ""))
				n++
				for s.h.stats.held.Load() == 0 || !o.o.plain && s.h.stats.parked.Load() == 0 {
					runtime.Gosched()
				}
				sink.Deliver(msg)
				c.read()
			}
		})
	}
}
