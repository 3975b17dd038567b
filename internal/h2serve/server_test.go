package h2serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/httpbind/httpbind/internal/netpark"
)

// serveH2 serves h with s on a loopback port, each connection by
// ServeConn (the client sends its preface), and returns the address.
// Unless s has a Poller, it gets one, as under bosh.Serve: connections
// waiting for their client are watched, after 1 ms unless s says.
func serveH2(t *testing.T, s *Server, h http.Handler) string {
	t.Helper()
	if s.WatchAfter == 0 {
		s.WatchAfter = time.Millisecond
	}
	if s.Poller == nil {
		if p, err := netpark.New(); err == nil { // none without epoll
			t.Cleanup(func() { p.Close() }) // after the server's cleanup
			s.Poller = p
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.ServeConn(context.Background(), c, h, false) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// h2cClient is Go's HTTP/2 client with prior knowledge.
func h2cClient(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// echo answers with the request's method, path, a header and its body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Proto", r.Proto)
	w.Header().Set("X-Cookie", r.Header.Get("Cookie"))
	w.Write(b)
})

func TestRoundTrip(t *testing.T) {
	addr := serveH2(t, &Server{}, echo)
	c := h2cClient(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB: beyond every window (§6.9.2)
	tests := []struct {
		name   string
		method string
		body   []byte
	}{
		{"GET without a body", http.MethodGet, nil},
		{"POST with a small body", http.MethodPost, []byte("<body rid='1'/>")},
		{"POST with a body beyond the windows, echoed", http.MethodPost, big},
		{"HEAD", http.MethodHead, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+addr+"/p?q=1", bytes.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Add("Cookie", "a=1")
			req.AddCookie(&http.Cookie{Name: "b", Value: "2"})
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, 2, resp.ProtoMajor)
			assert.Equal(t, tc.method, resp.Header.Get("X-Method"))
			assert.Equal(t, "HTTP/2.0", resp.Header.Get("X-Proto"))
			assert.Equal(t, "a=1; b=2", resp.Header.Get("X-Cookie"))
			assert.NotEmpty(t, resp.Header.Get("Date"))
			if tc.method == http.MethodHead {
				assert.Empty(t, got)
				return
			}
			if len(tc.body) < 16<<10 { // larger bodies are sent as they are written
				assert.Equal(t, len(tc.body), int(resp.ContentLength))
			}
			assert.True(t, bytes.Equal(tc.body, got), "body of %d bytes echoed as %d", len(tc.body), len(got))
		})
	}
}

func TestManyStreamsOnOneConnection(t *testing.T) {
	addr := serveH2(t, &Server{}, echo)
	c := h2cClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			body := strings.Repeat("x", i*100)
			resp, err := c.Post("http://"+addr+"/", "text/xml", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if string(got) != body {
				errs <- errors.New("wrong body")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

func TestFlushStreamsTheResponse(t *testing.T) {
	next := make(chan struct{})
	addr := serveH2(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		<-next
		w.Write([]byte("second"))
	}))
	resp, err := h2cClient(t).Get("http://" + addr + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 5)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	assert.Equal(t, "first", string(buf)) // before the handler returned
	close(next)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "second", string(rest))
}

// detacher is a handler that detaches every stream and hands it over.
type detacher struct {
	streams chan *Stream
	gone    chan struct{}
	ctxs    chan context.Context
}

func newDetacher() *detacher {
	return &detacher{streams: make(chan *Stream, 10), gone: make(chan struct{}, 10), ctxs: make(chan context.Context, 10)}
}

func (d *detacher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Noread") != "" {
		<-r.Context().Done()
		return
	}
	io.ReadAll(r.Body)
	s := Detach(w, func() { d.gone <- struct{}{} })
	if s == nil {
		http.Error(w, "not detached", http.StatusInternalServerError)
		return
	}
	d.ctxs <- r.Context()
	d.streams <- s
}

func TestDetachedStreamAnsweredLater(t *testing.T) {
	d := newDetacher()
	addr := serveH2(t, &Server{}, d)
	type result struct {
		resp *http.Response
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := h2cClient(t).Post("http://"+addr+"/", "text/xml", strings.NewReader("<body/>"))
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp, string(b), err}
	}()
	s := <-d.streams
	ctx := <-d.ctxs
	<-ctx.Done() // the handler has returned: its context ended, as net/http's does
	select {
	case r := <-done:
		t.Fatalf("answered before Respond: %+v", r)
	default:
	}
	require.True(t, s.Claim())
	require.NoError(t, s.Respond(http.StatusOK, http.Header{"Content-Type": {"text/xml"}, "Content-Length": {"7"}}, []byte("<body/>")))
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, "<body/>", r.body)
	assert.Equal(t, "text/xml", r.resp.Header.Get("Content-Type"))
	assert.Equal(t, int64(7), r.resp.ContentLength)
	assert.False(t, s.Claim(), "claimed once")
	select {
	case <-d.gone:
		t.Fatal("gone called for an answered stream")
	default:
	}
}

func TestDetachedStreamGone(t *testing.T) {
	tests := []struct {
		name string
		end  func(cancel context.CancelFunc, c *http.Client)
	}{
		{"the client resets the stream (RST_STREAM)", func(cancel context.CancelFunc, _ *http.Client) { cancel() }},
		{"the connection closes", func(_ context.CancelFunc, c *http.Client) {
			c.Transport.(*http.Transport).CloseIdleConnections()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetacher()
			s := &Server{}
			addr := serveH2(t, s, d)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := h2cClient(t)
			errc := make(chan error, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", strings.NewReader("x"))
				_, err := c.Do(req)
				errc <- err
			}()
			st := <-d.streams
			if tc.name == "the connection closes" {
				s.Close()
			} else {
				tc.end(cancel, c)
			}
			select {
			case <-d.gone:
			case <-time.After(10 * time.Second):
				t.Fatal("gone not called")
			}
			assert.Error(t, <-errc)
			assert.False(t, st.Claim(), "gone claimed it")
			select {
			case <-d.gone:
				t.Fatal("gone called twice")
			default:
			}
		})
	}
}

// A second GOAWAY names the same last stream as the first (§6.8: it must
// not increase), although the client opened a stream in between: that
// stream was refused, not served.
func TestSecondGoAwayNamesTheSameLastStream(t *testing.T) {
	d := newDetacher()
	s := &Server{}
	addr := serveH2(t, s, d)
	r := dialSettled(t, addr)
	r.headers(1, true)
	<-d.streams // stream 1 is open, detached: the connection stays
	s.Shutdown()
	assert.Equal(t, uint32(1), r.goAway().LastStreamID)
	r.headers(3, true)
	assert.Equal(t, http2.ErrCodeRefusedStream, r.rst(3).ErrCode)
	s.Shutdown()
	assert.Equal(t, uint32(1), r.goAway().LastStreamID, "stream 3 was refused")
}

func TestShutdownWaitsForDetachedStreams(t *testing.T) {
	d := newDetacher()
	s := &Server{}
	addr := serveH2(t, s, d)
	c := h2cClient(t)
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Post("http://"+addr+"/", "text/xml", strings.NewReader("x"))
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		errc <- err
	}()
	st := <-d.streams
	s.Shutdown()
	require.True(t, st.Claim())
	require.NoError(t, st.Respond(http.StatusOK, http.Header{}, []byte("bye")), "the open stream is still answered after GOAWAY")
	require.NoError(t, <-errc)
	waitNoConns(t, s, "the connection closes once its last stream is answered")
}

// Install serves an http.Server's h2c connections. With a Poller the
// server lets go of each once its preface is read (ConnState reports it
// closed, its goroutine ends) while h2serve goes on serving it.
func TestInstallServesH2cOfAnHTTPServer(t *testing.T) {
	for _, withPoller := range []bool{false, true} {
		t.Run(fmt.Sprintf("poller=%v", withPoller), func(t *testing.T) {
			d := newDetacher()
			var p http.Protocols
			p.SetHTTP1(true)
			p.SetUnencryptedHTTP2(true)
			states := make(chan http.ConnState, 10)
			ctxErrs := make(chan error, 10)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctxErrs <- r.Context().Err()
				d.ServeHTTP(w, r)
			})
			srv := &http.Server{Handler: h, Protocols: &p, ConnState: func(_ net.Conn, s http.ConnState) { states <- s }}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			s := &Server{}
			if withPoller {
				poller, err := netpark.New()
				if err != nil {
					t.Skip(err) // no epoll here
				}
				defer poller.Close()
				s.Poller, s.WatchAfter = poller, time.Millisecond
			}
			installed := make(chan bool, 1)
			go srv.Serve(&installOnAccept{Listener: ln, install: func() { installed <- s.Install(srv) }})
			defer srv.Close()
			c := h2cClient(t)
			post := func() {
				errc := make(chan error, 1)
				go func() {
					resp, err := c.Post("http://"+ln.Addr().String()+"/", "text/xml", strings.NewReader("x"))
					if err == nil {
						resp.Body.Close()
					}
					errc <- err
				}()
				require.NoError(t, <-ctxErrs, "the request's context lives while its handler runs")
				st := <-d.streams
				require.True(t, st.Claim())
				require.NoError(t, st.Respond(http.StatusOK, http.Header{}, nil))
				require.NoError(t, <-errc)
			}
			post()
			require.True(t, <-installed)
			assert.Equal(t, http.StateNew, <-states)
			if withPoller {
				assert.Equal(t, http.StateClosed, <-states, "the server let go of the connection")
			}
			post() // on the same connection
			// srv.Shutdown ends the idle connection through RegisterOnShutdown.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, srv.Shutdown(ctx))
			waitNoConns(t, s, "the connection ends")
			for len(states) > 0 {
				assert.NotEqual(t, http.StateNew, <-states, "one connection only")
			}
		})
	}
}

// With a Poller, a connection whose client has nothing more to say is
// watched: no goroutine reads it. The client's next frame is read and
// answered, and its going away ends the connection all the same.
func TestIdleConnectionIsWatched(t *testing.T) {
	s := &Server{}
	addr := serveH2(t, s, echo)
	if s.Poller == nil {
		t.Skip("no epoll here")
	}
	r := dialSettled(t, addr)
	for i := range 3 {
		waitNoReader(t)
		id := uint32(2*i + 1)
		r.headers(id, false)
		require.NoError(t, r.fr.WriteData(id, true, []byte("hello")))
		f := r.until(func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamID == id })
		assert.Equal(t, "hello", string(f.(*http2.DataFrame).Data()), "request %d answered after the watch", i)
	}
	waitNoReader(t)
	r.c.Close()
	waitNoConns(t, s, "the client's close ends the watched connection")
}

// A connection is watched only once its client has been quiet for
// WatchAfter: until then its goroutine waits for the next frame.
func TestConnectionWaitsBeforeItIsWatched(t *testing.T) {
	s := &Server{WatchAfter: time.Hour}
	addr := serveH2(t, s, echo)
	if s.Poller == nil {
		t.Skip("no epoll here")
	}
	dialSettled(t, addr)
	require.Eventually(t, func() bool {
		return strings.Contains(allStacks(), "h2serve.(*reader).quiet")
	}, 10*time.Second, time.Millisecond, "the goroutine waits for the next frame")
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.mu.Lock()
		assert.Nil(t, c.watched, "not watched yet")
		c.mu.Unlock()
	}
}

// A connection that Shutdown finds watched, with a detached stream still
// open, is read by a goroutine again: the Poller may be closed then (as
// bosh's listener does after Shutdown), and the client going away still
// ends the stream (gone) and the connection.
func TestPollerClosedAfterShutdown(t *testing.T) {
	d := newDetacher()
	s := &Server{}
	addr := serveH2(t, s, d)
	if s.Poller == nil {
		t.Skip("no epoll here")
	}
	r := dialRaw(t, addr)
	require.NoError(t, r.fr.WriteSettings())
	r.headers(1, true)
	<-d.streams
	waitNoReader(t) // watched
	s.Shutdown()
	assert.Equal(t, http2.ErrCodeNo, r.goAway().ErrCode)
	require.NoError(t, s.Poller.Close())
	r.c.Close()
	select {
	case <-d.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("gone not called: the client's going away went unseen")
	}
	waitNoConns(t, s, "the connection ends")
}

// dialSettled connects a rawClient that has sent its SETTINGS and read
// the server's.
func dialSettled(t *testing.T, addr string) *rawClient {
	t.Helper()
	r := dialRaw(t, addr)
	require.NoError(t, r.fr.WriteSettings())
	r.until(func(f http2.Frame) bool { sf, ok := f.(*http2.SettingsFrame); return ok && !sf.IsAck() })
	return r
}

// waitNoConns waits until s has no connection left.
func waitNoConns(t *testing.T, s *Server, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 0
	}, 10*time.Second, time.Millisecond, msg)
}

// waitNoReader waits until no goroutine reads a connection's frames.
func waitNoReader(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		return !strings.Contains(allStacks(), "h2serve.(*conn).readFrames")
	}, 10*time.Second, time.Millisecond, "a goroutine still reads frames")
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// installOnAccept calls install on its first Accept, once http.Server has
// configured its HTTP/2.
type installOnAccept struct {
	net.Listener
	once    sync.Once
	install func()
}

func (l *installOnAccept) Accept() (net.Conn, error) {
	l.once.Do(l.install)
	return l.Listener.Accept()
}

// An h2c connection that Install cannot take off net/http (no descriptor
// to duplicate: no File method here, too many open files in production)
// is served on net/http's goroutine to the end, never watched: net/http
// closes the connection and cancels its context once that returns.
func TestInstallServesAnH2cConnectionItCannotDuplicate(t *testing.T) {
	poller, err := netpark.New()
	if err != nil {
		t.Skip(err) // no epoll here
	}
	defer poller.Close()
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	states := make(chan http.ConnState, 10)
	srv := &http.Server{Handler: echo, Protocols: &p, ConnState: func(_ net.Conn, s http.ConnState) { states <- s }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &Server{Poller: poller, WatchAfter: time.Millisecond}
	go srv.Serve(&installOnAccept{Listener: noFileListener{ln}, install: func() { s.Install(srv) }})
	defer srv.Close()
	r := dialRaw(t, ln.Addr().String())
	require.NoError(t, r.fr.WriteSettings())
	r.until(func(f http2.Frame) bool { sf, ok := f.(*http2.SettingsFrame); return ok && sf.IsAck() })
	require.Eventually(t, readerWaitsInRead, 10*time.Second, time.Millisecond,
		"the connection's goroutine reads it, without waiting to have it watched")
	r.headers(1, false)
	require.NoError(t, r.fr.WriteData(1, true, []byte("hello")))
	f := r.until(func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamID == 1 })
	assert.Equal(t, "hello", string(f.(*http2.DataFrame).Data()))
	for len(states) > 0 {
		assert.NotEqual(t, http.StateClosed, <-states, "net/http let go of a connection still served")
	}
}

// readerWaitsInRead reports whether a goroutine reads a connection's
// frames, waiting for bytes in a plain read, not in reader.quiet.
func readerWaitsInRead() bool {
	for _, g := range strings.Split(allStacks(), "\n\n") {
		if strings.Contains(g, "h2serve.(*conn).readFrames") && strings.Contains(g, "h2serve.(*reader).rawRead") &&
			!strings.Contains(g, "h2serve.(*reader).quiet") {
			return true
		}
	}
	return false
}

// noFileListener accepts connections that have a descriptor
// (syscall.Conn) but no File method.
type noFileListener struct{ net.Listener }

func (l noFileListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return noFileConn{c, c.(syscall.Conn)}, nil
}

type noFileConn struct {
	net.Conn
	sc syscall.Conn
}

func (c noFileConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }

func TestPanickingHandlerResetsItsStreamOnly(t *testing.T) {
	addr := serveH2(t, &Server{ErrorLog: discardLog()}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		w.Write([]byte("ok"))
	}))
	c := h2cClient(t)
	_, err := c.Get("http://" + addr + "/panic")
	require.Error(t, err)
	resp, err := c.Get("http://" + addr + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok", string(b))
}

// rawClient speaks HTTP/2 frame by frame.
type rawClient struct {
	t    *testing.T
	c    net.Conn
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := newRawClient(t, c)
	_, err = io.WriteString(c, http2.ClientPreface)
	require.NoError(t, err)
	return r
}

// pumpFrames reads r's frames on a goroutine of its own until the
// connection fails, and passes on what pick makes of those it picks (a
// frame's contents are valid only until the next read). Over net.Pipe
// the server's writes wait for this reader.
func pumpFrames[T any](r *rawClient, pick func(http2.Frame) (T, bool)) <-chan T {
	out := make(chan T, 100)
	go func() {
		defer close(out)
		for {
			f, err := r.fr.ReadFrame()
			if err != nil {
				return
			}
			if v, ok := pick(f); ok {
				out <- v
			}
		}
	}()
	return out
}

// newRawClient is a client speaking frames over c, preface not yet sent.
func newRawClient(t *testing.T, c net.Conn) *rawClient {
	r := &rawClient{t: t, c: c, fr: http2.NewFramer(c, c)}
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.henc = hpack.NewEncoder(&r.hbuf)
	return r
}

// headers sends a request's HEADERS on stream id with fields after the
// usual pseudo-headers of a POST.
func (r *rawClient) headers(id uint32, end bool, fields ...string) {
	r.hbuf.Reset()
	all := append([]string{":method", "POST", ":scheme", "http", ":path", "/", ":authority", "x"}, fields...)
	for i := 0; i < len(all); i += 2 {
		r.henc.WriteField(hpack.HeaderField{Name: all[i], Value: all[i+1]})
	}
	require.NoError(r.t, r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.hbuf.Bytes(), EndHeaders: true, EndStream: end}))
}

// until reads frames until one satisfies ok, and returns it.
func (r *rawClient) until(ok func(http2.Frame) bool) http2.Frame {
	r.t.Helper()
	for range 100 {
		f, err := r.fr.ReadFrame()
		require.NoError(r.t, err)
		if ok(f) {
			return f
		}
	}
	r.t.Fatal("frame not seen in 100")
	return nil
}

func (r *rawClient) goAway() *http2.GoAwayFrame {
	return r.until(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
}

func (r *rawClient) rst(id uint32) *http2.RSTStreamFrame {
	return r.until(func(f http2.Frame) bool { x, ok := f.(*http2.RSTStreamFrame); return ok && x.StreamID == id }).(*http2.RSTStreamFrame)
}

func TestProtocolErrors(t *testing.T) {
	addr := serveH2(t, &Server{MaxConcurrentStreams: 2}, newDetacher())
	settings := func(r *rawClient) { require.NoError(t, r.fr.WriteSettings()) }
	tests := []struct {
		name string
		send func(r *rawClient)
		want func(t *testing.T, r *rawClient)
	}{
		{"a first frame other than SETTINGS is a connection error (§3.4)",
			func(r *rawClient) { r.fr.WritePing(false, [8]byte{}) },
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeProtocol, r.goAway().ErrCode) }},
		{"PING is answered (§6.7)",
			func(r *rawClient) { settings(r); r.fr.WritePing(false, [8]byte{1, 2, 3}) },
			func(t *testing.T, r *rawClient) {
				f := r.until(func(f http2.Frame) bool { p, ok := f.(*http2.PingFrame); return ok && p.IsAck() })
				assert.Equal(t, [8]byte{1, 2, 3}, f.(*http2.PingFrame).Data)
			}},
		{"a stream the server opens (even) is a connection error (§5.1.1)",
			func(r *rawClient) { settings(r); r.headers(2, true) },
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeProtocol, r.goAway().ErrCode) }},
		{"DATA on an idle stream is a connection error (§5.1)",
			func(r *rawClient) { settings(r); r.fr.WriteData(5, true, []byte("x")) },
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeProtocol, r.goAway().ErrCode) }},
		{"a connection-specific header field is a stream error (§8.2.2)",
			func(r *rawClient) { settings(r); r.headers(1, true, "connection", "close") },
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeProtocol, r.rst(1).ErrCode) }},
		{"an upper-case field name is a stream error (§8.2.1)",
			func(r *rawClient) { settings(r); r.headers(1, true, "X-Up", "1") },
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeProtocol, r.rst(1).ErrCode) }},
		{"a body longer than its content-length is a stream error (§8.1.1)",
			func(r *rawClient) {
				settings(r)
				r.headers(1, false, "content-length", "1")
				r.fr.WriteData(1, true, []byte("xx"))
			},
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeProtocol, r.rst(1).ErrCode) }},
		{"DATA beyond the stream's window is a stream error (§6.9.1)",
			func(r *rawClient) {
				settings(r)
				r.headers(1, false, "x-noread", "1")
				chunk := make([]byte, 16384)
				for range 4 {
					r.fr.WriteData(1, false, chunk)
				}
				r.fr.WriteData(1, false, chunk[:1000]) // 66,536 > 65,535
			},
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeFlowControl, r.rst(1).ErrCode) }},
		{"streams beyond MAX_CONCURRENT_STREAMS are refused (§5.1.2)",
			func(r *rawClient) {
				settings(r)
				r.headers(1, true)
				r.headers(3, true)
				r.headers(5, true)
			},
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeRefusedStream, r.rst(5).ErrCode) }},
		{"trailers on a stream the server reset are a stream error, and the connection goes on (§5.4.2)",
			func(r *rawClient) {
				settings(r)
				r.headers(1, false, "connection", "close") // the server resets stream 1 (§8.2.2)
				r.hbuf.Reset()
				r.henc.WriteField(hpack.HeaderField{Name: "x-trailer", Value: "1"})
				r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.hbuf.Bytes(), EndHeaders: true, EndStream: true})
				r.fr.WritePing(false, [8]byte{9})
			},
			func(t *testing.T, r *rawClient) {
				f := r.until(func(f http2.Frame) bool {
					p, ok := f.(*http2.PingFrame)
					_, away := f.(*http2.GoAwayFrame)
					return away || ok && p.IsAck()
				})
				assert.IsType(t, &http2.PingFrame{}, f, "no GOAWAY before the PING's answer")
			}},
		{"a PUSH_PROMISE from the client is a connection error (§8.4)",
			func(r *rawClient) {
				settings(r)
				r.headers(1, false)
				r.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, EndHeaders: true})
			},
			func(t *testing.T, r *rawClient) { assert.Equal(t, http2.ErrCodeProtocol, r.goAway().ErrCode) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			tc.send(r)
			tc.want(t, r)
		})
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	addr := serveH2(t, &Server{IdleTimeout: 50 * time.Millisecond}, echo)
	r := dialRaw(t, addr)
	require.NoError(t, r.fr.WriteSettings())
	assert.Equal(t, http2.ErrCodeNo, r.goAway().ErrCode)
	_, err := r.fr.ReadFrame()
	for err == nil {
		_, err = r.fr.ReadFrame()
	}
	assert.ErrorIs(t, err, io.EOF)
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

// The connection's receive window is given back as handlers read (§6.9):
// bodies adding up to well beyond it go through one connection.
func TestConnectionWindowGivenBack(t *testing.T) {
	addr := serveH2(t, &Server{}, echo)
	c := h2cClient(t)
	body := bytes.Repeat([]byte("y"), 60000)
	for i := range 3 * connWindow / len(body) {
		resp, err := c.Post("http://"+addr+"/", "text/plain", bytes.NewReader(body))
		require.NoError(t, err, "request %d", i)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Len(t, got, len(body))
	}
}

// A frame beyond SETTINGS_MAX_FRAME_SIZE, which the server leaves at its
// initial 16,384, is a connection error (§4.2), not read into a buffer the
// connection keeps.
func TestFrameBeyondMaxFrameSize(t *testing.T) {
	addr := serveH2(t, &Server{}, echo)
	r := dialRaw(t, addr)
	require.NoError(t, r.fr.WriteSettings())
	require.NoError(t, r.fr.WriteRawFrame(0xfa, 0, 0, make([]byte, 16385))) // an extension frame (§5.5)
	require.NoError(t, r.fr.WritePing(false, [8]byte{1}))
	f := r.until(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			return true
		case *http2.PingFrame:
			return f.IsAck()
		}
		return false
	})
	require.IsType(t, &http2.GoAwayFrame{}, f, "the frame was read: PING answered")
	assert.Equal(t, http2.ErrCodeFrameSize, f.(*http2.GoAwayFrame).ErrCode)
}

// A connection error's GOAWAY (§5.4.1) reaches the client even though the
// server stopped reading with bytes unread: the server ends its side
// first and drops what still arrives, where closing at once would make
// TCP reset the connection (the client's next read or write fails with
// ECONNRESET, and the GOAWAY can be lost).
func TestConnectionErrorClosesWithoutReset(t *testing.T) {
	addr := serveH2(t, &Server{}, echo)
	r := dialRaw(t, addr)
	require.NoError(t, r.fr.WriteSettings())
	// A frame beyond SETTINGS_MAX_FRAME_SIZE: its 64 KB payload stays unread.
	require.NoError(t, r.fr.WriteRawFrame(0xfa, 0, 0, make([]byte, 64<<10)))
	f := r.until(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	assert.Equal(t, http2.ErrCodeFrameSize, f.(*http2.GoAwayFrame).ErrCode)
	_, err := r.fr.ReadFrame()
	require.ErrorIs(t, err, io.EOF, "the server ended its side without a reset")
	require.NoError(t, r.fr.WritePing(false, [8]byte{1}), "what the client still sends is read")
}

// A connection error on a connection with a detached stream closes
// lingering all the same: ending that stream, the connection's last
// while it goes away, does not close it at once.
func TestConnectionErrorLingersWithADetachedStream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	d := newDetacher()
	s := &Server{}
	defer s.Close()
	conns := make(chan *lingerConn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		lc := &lingerConn{TCPConn: c.(*net.TCPConn), closed: make(chan bool, 1)}
		conns <- lc
		s.ServeConn(context.Background(), lc, d, false)
	}()
	r := dialRaw(t, ln.Addr().String())
	require.NoError(t, r.fr.WriteSettings())
	r.headers(1, true)
	<-d.streams // detached
	// A frame beyond SETTINGS_MAX_FRAME_SIZE: its 64 KB payload stays unread.
	require.NoError(t, r.fr.WriteRawFrame(0xfa, 0, 0, make([]byte, 64<<10)))
	select {
	case <-d.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection error did not end the detached stream")
	}
	for rerr := error(nil); rerr == nil; {
		_, rerr = r.fr.ReadFrame() // GOAWAY, then the server's end
	}
	r.c.Close()
	lc := <-conns
	select {
	case drained := <-lc.closed:
		assert.True(t, drained, "closed before what the client sent was drained: a reset")
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed")
	}
}

// lingerConn reports at its first Close whether lingerClose had drained
// it by then (a read after CloseWrite failed: the client's end).
type lingerConn struct {
	*net.TCPConn
	mu                  sync.Mutex
	closeWrote, drained bool
	once                sync.Once
	closed              chan bool
}

func (c *lingerConn) CloseWrite() error {
	c.mu.Lock()
	c.closeWrote = true
	c.mu.Unlock()
	return c.TCPConn.CloseWrite()
}

func (c *lingerConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	if err != nil {
		c.mu.Lock()
		c.drained = c.drained || c.closeWrote
		c.mu.Unlock()
	}
	return n, err
}

func (c *lingerConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed <- c.drained
		c.mu.Unlock()
	})
	return c.TCPConn.Close()
}

// waitBlockedInBodyRead waits until a goroutine waits for request body
// bytes in body.Read.
func waitBlockedInBodyRead(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "sync.(*Cond).Wait") && strings.Contains(g, "h2serve.(*body).Read") {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, "no handler waits in body.Read")
}

// Trailers end a request's body (§8.1): a handler waiting for more body
// bytes is woken and reads io.EOF; a body shorter than its content-length
// is malformed (§8.1.1).
func TestTrailersEndTheBody(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		want   func(t *testing.T, r *rawClient)
	}{
		{"the waiting handler reads io.EOF", nil, func(t *testing.T, r *rawClient) {
			f := r.until(func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok })
			assert.Equal(t, "abc", string(f.(*http2.DataFrame).Data()))
		}},
		{"a body shorter than its content-length is a stream error", []string{"content-length", "5"}, func(t *testing.T, r *rawClient) {
			assert.Equal(t, http2.ErrCodeProtocol, r.rst(1).ErrCode)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveH2(t, &Server{}, echo)
			r := dialRaw(t, addr)
			require.NoError(t, r.fr.WriteSettings())
			r.headers(1, false, tc.fields...)
			require.NoError(t, r.fr.WriteData(1, false, []byte("abc")))
			waitBlockedInBodyRead(t)
			r.hbuf.Reset()
			r.henc.WriteField(hpack.HeaderField{Name: "x-trailer", Value: "1"})
			require.NoError(t, r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.hbuf.Bytes(), EndHeaders: true, EndStream: true}))
			tc.want(t, r)
		})
	}
}

// A stream answered in full both ways no longer counts toward
// MAX_CONCURRENT_STREAMS (§5.1.2), although the handler that detached it
// has yet to return.
func TestAnsweredStreamDoesNotCountTowardConcurrency(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	streams := make(chan *Stream, 1)
	addr := serveH2(t, &Server{MaxConcurrentStreams: 1}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Detach") == "" {
			w.Write([]byte("ok"))
			return
		}
		streams <- Detach(w, func() {})
		<-release // work after Detach: bosh's handler returning through middleware
	}))
	r := dialRaw(t, addr)
	require.NoError(t, r.fr.WriteSettings())
	r.headers(1, true, "x-detach", "1")
	st := <-streams
	require.NotNil(t, st)
	require.True(t, st.Claim())
	require.NoError(t, st.Respond(http.StatusNoContent, http.Header{}, nil))
	r.until(func(f http2.Frame) bool {
		h, ok := f.(*http2.MetaHeadersFrame)
		return ok && h.StreamID == 1 && h.StreamEnded()
	})
	r.headers(3, true) // stream 1 is closed: no stream is open
	f := r.until(func(f http2.Frame) bool { return f.Header().StreamID == 3 })
	require.IsType(t, &http2.MetaHeadersFrame{}, f, "stream 3 refused: %v", f)
}

// The server gives its connection window back to a client that has used
// it up (§6.9), although bodies that handlers do not read yet hold more
// than half of it: it does not withhold what handlers did read.
func TestConnectionWindowNotWithheld(t *testing.T) {
	read := make(chan int, 4096) // bytes read so far by the reading handler
	addr := serveH2(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Noread") != "" {
			<-r.Context().Done()
			return
		}
		buf := make([]byte, 16<<10)
		total := 0
		for {
			n, err := r.Body.Read(buf)
			total += n
			if n > 0 {
				read <- total
			}
			if err != nil {
				return
			}
		}
	}))
	r := dialRaw(t, addr)
	require.NoError(t, r.fr.WriteSettings())
	connWin := 65535 // what the client may send on the connection
	update := func(f http2.Frame) (stream uint32, ok bool) {
		wu, ok := f.(*http2.WindowUpdateFrame)
		if !ok {
			return 0, false
		}
		if wu.StreamID == 0 {
			connWin += int(wu.Increment)
		}
		return wu.StreamID, true
	}
	r.until(func(f http2.Frame) bool { id, ok := update(f); return ok && id == 0 }) // the server's 1 MiB (§6.9.2)
	chunk := make([]byte, 16384)
	send := func(id uint32, n int) {
		require.NoError(t, r.fr.WriteData(id, false, chunk[:n]))
		connWin -= n
	}
	// Nine streams fill their windows with bodies nobody reads: 589,815
	// bytes, more than half of the connection's window.
	for id := uint32(1); id <= 17; id += 2 {
		r.headers(id, false, "x-noread", "1")
		for left := 65535; left > 0; left -= min(left, len(chunk)) {
			send(id, min(left, len(chunk)))
		}
	}
	// Stream 19's handler reads all it gets, until the connection's
	// window is used up.
	r.headers(19, false)
	streamWin, sent := 65535, 0
	for connWin > 0 {
		if streamWin == 0 {
			r.until(func(f http2.Frame) bool {
				id, ok := update(f)
				if ok && id == 19 {
					streamWin += int(f.(*http2.WindowUpdateFrame).Increment)
				}
				return streamWin > 0
			})
			continue
		}
		n := min(connWin, streamWin, len(chunk))
		send(19, n)
		streamWin -= n
		sent += n
		if sent > 4*connWindow {
			return // the window keeps coming back
		}
	}
	for got := 0; got < sent; {
		select {
		case got = <-read:
		case <-time.After(10 * time.Second):
			t.Fatalf("the handler read %d of %d bytes", got, sent)
		}
	}
	// What it read has been given back by now: WINDOW_UPDATE frames go
	// out before body.Read returns, so before this PING's answer.
	require.NoError(t, r.fr.WritePing(false, [8]byte{7}))
	r.until(func(f http2.Frame) bool {
		update(f)
		p, ok := f.(*http2.PingFrame)
		return ok && p.IsAck()
	})
	assert.Positive(t, connWin, "the connection stalls: %d bytes read by the handler not given back", sent)
}

// stallAddrConn is a connection whose RemoteAddr, which the server calls
// while it maps a request to an *http.Request, waits for release the
// first time.
type stallAddrConn struct {
	net.Conn
	once             sync.Once
	entered, release chan struct{}
}

func (c *stallAddrConn) RemoteAddr() net.Addr {
	c.once.Do(func() { close(c.entered); <-c.release })
	return c.Conn.RemoteAddr()
}

// A GOAWAY sent while a stream is being opened names it as processed
// (§6.8) only if it is then served: Shutdown does not close a connection
// on a stream it has promised to serve.
func TestGoAwayWhileAStreamOpens(t *testing.T) {
	cli, srvc := net.Pipe()
	nc := &stallAddrConn{Conn: srvc, entered: make(chan struct{}), release: make(chan struct{})}
	s := &Server{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(context.Background(), nc, echo, false)
	}()
	defer func() {
		cli.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("ServeConn did not return")
		}
	}()
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	r := newRawClient(t, cli)
	type seen struct {
		goAway    bool
		last      uint32
		responded bool
	}
	frames := pumpFrames(r, func(f http2.Frame) (seen, bool) {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			return seen{goAway: true, last: f.LastStreamID}, true
		case *http2.MetaHeadersFrame:
			return seen{responded: f.StreamID == 1}, true
		}
		return seen{}, false
	})
	_, err := io.WriteString(cli, http2.ClientPreface)
	require.NoError(t, err)
	require.NoError(t, r.fr.WriteSettings())
	r.headers(1, true)
	select {
	case <-nc.entered: // stream 1 is being opened
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not mapped")
	}
	s.Shutdown()
	close(nc.release)
	var goAway *seen
	responded := false
	for f := range frames {
		if f.goAway && goAway == nil {
			goAway = &f
		}
		responded = responded || f.responded
	}
	require.NotNil(t, goAway, "no GOAWAY")
	if goAway.last >= 1 {
		assert.True(t, responded, "GOAWAY named stream 1 as processed, and the connection closed without its response")
	}
}

// A client that keeps its flow-control window shut (§6.9) holds a
// response back for at most WriteTimeout: the stream is then reset
// (CANCEL) and the handler's write fails, instead of waiting for good. A
// window opened in time lets the response through.
func TestShutWindowResetsTheStream(t *testing.T) {
	tests := []struct {
		name    string
		open    bool // the client opens the stream's window before WriteTimeout
		wantRST bool
	}{
		{name: "window kept shut", wantRST: true},
		{name: "window opened in time", open: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const timeout = 5 * time.Second
				cli, srvc := net.Pipe()
				wrote := make(chan error, 1)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, err := io.WriteString(w, "hello")
					if err == nil {
						err = http.NewResponseController(w).Flush()
					}
					wrote <- err
				})
				served := make(chan struct{})
				go func() {
					defer close(served)
					(&Server{WriteTimeout: timeout}).ServeConn(context.Background(), srvc, h, false)
				}()
				r := newRawClient(t, cli)
				type frame struct {
					rst  http2.ErrCode
					data string
				}
				frames := pumpFrames(r, func(f http2.Frame) (frame, bool) {
					switch f := f.(type) {
					case *http2.RSTStreamFrame:
						return frame{rst: f.ErrCode}, true
					case *http2.DataFrame:
						return frame{data: string(f.Data())}, true
					}
					return frame{}, false
				})
				_, err := io.WriteString(cli, http2.ClientPreface)
				require.NoError(t, err)
				require.NoError(t, r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}))
				r.headers(1, true)
				synctest.Wait()
				assert.Empty(t, frames, "nothing within a shut window")

				time.Sleep(timeout - time.Second)
				if tc.open {
					require.NoError(t, r.fr.WriteWindowUpdate(1, 100))
				}
				time.Sleep(2 * time.Second)
				synctest.Wait()
				if tc.wantRST {
					require.ErrorIs(t, <-wrote, errStreamReset)
					assert.Equal(t, frame{rst: http2.ErrCodeCancel}, <-frames)
				} else {
					require.NoError(t, <-wrote)
					assert.Equal(t, frame{data: "hello"}, <-frames)
				}
				cli.Close()
				<-served
			})
		})
	}
}
