package bosh

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/netpark"
)

// otherHandler answers the paths besides /http-bind in the kept
// connection tests.
var otherHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hello":
		io.WriteString(w, "hello")
	case "/empty":
		w.WriteHeader(http.StatusNoContent)
	case "/echo":
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	case "/ignore-body":
		io.WriteString(w, "ignored")
	case "/panic":
		panic("boom")
	case "/abort":
		panic(http.ErrAbortHandler)
	case "/close-body":
		r.Body.Close()
		io.WriteString(w, "closed")
	case "/hints":
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	case "/short-cl":
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "short")
	case "/te":
		w.Header().Set("Transfer-Encoding", "chunked")
		io.WriteString(w, "hello")
	case "/bye":
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	default:
		http.NotFound(w, r)
	}
})

// kept returns a connection that Serve keeps: a request of it was held,
// parked and answered. Its session, the newest of s, has sent requests 0
// (the creation) and 1.
func kept(t *testing.T, s *served) (*rawConn, *sess) {
	t.Helper()
	c := s.dial()
	se := c.create(s.tester, 1)
	c.post(se.body(1, "", ""))
	waitParked(t, s.h, 1)
	s.up.newest(t).sink.Deliver([]byte("<message id='m1'/>"))
	r := c.read()
	require.Equal(t, []string{"<message id='m1'/>"}, r.Children, r.Raw)
	return c, se
}

// send writes raw bytes to c.
func (c *rawConn) send(raw string) {
	c.t.Helper()
	_, err := io.WriteString(c.c, raw)
	require.NoError(c.t, err)
}

// response reads a response to a request with method, its body read.
func (c *rawConn) response(method string) (*http.Response, string) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(c.br, &http.Request{Method: method})
	require.NoError(c.t, err)
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res, string(b)
}

// closed reports whether the server closed c (EOF or reset within 10 s).
func (c *rawConn) closed() bool {
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// After a parked request's reply its connection stays with Serve, which
// reads and serves the next requests itself (keepalive.go): a held one is
// parked again, other paths get what net/http would give them, and the
// http.Server never sees the connection again (one StateNew).
func TestKeptConnectionServesItsNextRequests(t *testing.T) {
	var news atomic.Int32
	s := newServed(t, Config{}, serveOpts{other: otherHandler, server: func(srv *http.Server) {
		srv.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				news.Add(1)
			}
		}
	}})
	c, se := kept(t, s)
	for i := range 3 { // parked again and again
		c.post(se.body(uint64(2+i), "", ""))
		waitParked(t, s.h, 1)
		id := "k" + string(rune('0'+i))
		s.up.stream(t, 0).sink.Deliver([]byte("<message id='" + id + "'/>"))
		r := c.read()
		require.Equal(t, []string{"<message id='" + id + "'/>"}, r.Children, r.Raw)
	}

	c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	res, body := c.response("GET")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "hello", body)
	assert.Equal(t, int64(5), res.ContentLength)
	assert.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"), "sniffed, as net/http does")
	assert.NotEmpty(t, res.Header.Get("Date"))

	c.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	res, body = c.response("HEAD")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "5", res.Header.Get("Content-Length"))
	assert.Empty(t, body, "no body for HEAD")

	c.send("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ = c.response("GET")
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Empty(t, res.Header.Values("Content-Length"), "none with 204 (RFC 9110 §8.6)")

	// Pipelined: both answered, in order.
	c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none" +
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo")
	_, body = c.response("POST")
	assert.Equal(t, "one", body)
	_, body = c.response("POST")
	assert.Equal(t, "two", body)

	// 100-continue: the interim response, then the final one.
	c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	res, _ = c.response("POST")
	require.Equal(t, http.StatusContinue, res.StatusCode)
	c.send("hello")
	res, body = c.response("POST")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "hello", body)

	c.send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ = c.response("GET")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	// And BOSH again, parked again.
	c.post(se.body(5, "", ""))
	waitParked(t, s.h, 1)
	c2 := s.dial() // a second connection, as BOSH clients have
	c2.post(se.body(6, "type='terminate'", ""))
	assert.ElementsMatch(t, []string{"", "terminate"}, []string{c2.read().Type(), c.read().Type()},
		"the session ends: both its requests answered")
	assert.Equal(t, int32(2), news.Load(), "one connection each for the http.Server, the kept one never handed back")
}

// What ends a kept connection, and how: as net/http ends its own.
func TestKeptConnectionCloses(t *testing.T) {
	tests := []struct {
		name   string
		send   string
		status int // the response before the close; 0: none
	}{
		{name: "Connection: close", send: "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", status: http.StatusOK},
		{name: "HTTP/1.0", send: "GET /hello HTTP/1.0\r\nHost: x\r\n\r\n", status: http.StatusOK},
		{name: "malformed request", send: "GET /hello\r\n\r\n", status: http.StatusBadRequest},
		{name: "header beyond MaxHeaderBytes", send: "GET /hello HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 8000) + "\r\n\r\n",
			status: http.StatusRequestHeaderFieldsTooLarge},
		{name: "unknown expectation", send: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\n",
			status: http.StatusExpectationFailed},
		{name: "unread body beyond what is drained", send: "POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" +
			strings.Repeat("a", 300000), status: http.StatusOK},
		{name: "panicking handler", send: "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "aborted handler", send: "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "client closes its side", send: ""},
		{name: "HTTP/2 preface", send: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: http.StatusHTTPVersionNotSupported},
	}
	s := newServed(t, Config{MaxSessionsPerAddress: 100}, serveOpts{other: otherHandler, server: func(srv *http.Server) {
		srv.MaxHeaderBytes = 1024
		srv.ErrorLog = discardLogger()
	}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := kept(t, s)
			if tc.send == "" {
				c.c.(*net.TCPConn).CloseWrite()
			} else {
				go io.WriteString(c.c, tc.send) // the server may close before it has read it all
			}
			if tc.status != 0 {
				res, _ := c.response("GET")
				assert.Equal(t, tc.status, res.StatusCode)
				assert.True(t, res.Close, "Connection: close")
			}
			assert.True(t, c.closed(), "closed")
			assert.Equal(t, int64(0), s.h.Stats().Parked)
		})
	}
}

// A kept connection idle for the server's IdleTimeout is closed; closing
// the server closes the idle ones at once.
func TestKeptConnectionIdle(t *testing.T) {
	t.Run("IdleTimeout", func(t *testing.T) {
		s := newServed(t, Config{}, serveOpts{idle: 50 * time.Millisecond})
		c, _ := kept(t, s)
		assert.True(t, c.closed())
	})
	t.Run("server closed", func(t *testing.T) {
		var srv *http.Server
		s := newServed(t, Config{}, serveOpts{server: func(x *http.Server) { srv = x }})
		c, _ := kept(t, s)
		require.NoError(t, srv.Close())
		assert.True(t, c.closed())
	})
}

// discardLogger is an http.Server's ErrorLog that writes nowhere.
func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// FuzzKeptConnection feeds arbitrary bytes to a kept connection, as its
// next requests, and then closes the client's side: whatever they are,
// the connection is served and closed, without a panic or a hang.
func FuzzKeptConnection(f *testing.F) {
	for _, seed := range []string{
		"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi",
		"GET /panic HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	l := newTestParkListener(f)
	l.srv = &http.Server{Handler: otherHandler, ErrorLog: discardLogger(), ReadHeaderTimeout: 5 * time.Second}
	f.Fuzz(func(t *testing.T, in []byte) {
		go func() {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write(in)
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c) // until the server closes
		}()
		c, err := l.Accept()
		require.NoError(t, err)
		kc := &keptConn{l: l, c: c, ctx: context.Background(), remote: "fuzz"}
		done := make(chan struct{})
		go func() {
			defer close(done)
			kc.serve()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not return")
		}
	})
}

// A request body that is not read to its end without error (malformed
// chunking, a body the handler closed early) leaves the connection in
// the middle of the body: it is closed after the response, as net/http
// does, never read on (what follows is no request of the client's).
func TestKeptConnectionClosesOnAnUnfinishedBody(t *testing.T) {
	smuggled := "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct{ name, send string }{
		{name: "malformed chunk", send: "POST /ignore-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + smuggled},
		{name: "malformed chunk, body closed by the handler", send: "POST /close-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + smuggled},
		{name: "body cut short by ReadTimeout", send: "POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: " +
			strconv.Itoa(len(smuggled)+1) + "\r\n\r\n"},
	}
	s := newServed(t, Config{MaxSessionsPerAddress: 100}, serveOpts{other: otherHandler, server: func(srv *http.Server) {
		srv.ReadTimeout = 300 * time.Millisecond
	}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := kept(t, s)
			c.send(tc.send)
			res, _ := c.response("POST")
			if strings.HasSuffix(tc.send, "\r\n\r\n") {
				c.send(smuggled + "x") // the body's rest, after the response
			}
			assert.True(t, res.Close, "Connection: close")
			assert.True(t, c.closed(), "closed, the body's rest not served as a request")
		})
	}
}

type userKey struct{}

// A kept connection's requests have the connection's context values
// (http.ServerContextKey, http.LocalAddrContextKey, ConnContext's), as
// net/http gives them, never those a middleware put in the context of
// the request that was parked.
func TestKeptConnectionRequestsHaveTheConnectionsContext(t *testing.T) {
	s := newServed(t, Config{}, serveOpts{other: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := r.Context().Value(userKey{}).(string)
		_, srv := r.Context().Value(http.ServerContextKey).(*http.Server)
		_, local := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		io.WriteString(w, "user="+user+" server="+strconv.FormatBool(srv)+" local="+strconv.FormatBool(local))
	}), server: func(srv *http.Server) {
		next := srv.Handler
		srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := r.Header.Get("X-User"); u != "" { // an authenticating middleware
				r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
			}
			next.ServeHTTP(w, r)
		})
	}})
	c := s.dial()
	se := c.create(s.tester, 1)
	c.post(se.body(1, "", ""), "X-User", "alice")
	waitParked(t, s.h, 1)
	s.up.newest(t).sink.Deliver([]byte("<message id='m1'/>"))
	c.read()

	c.send("GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
	_, body := c.response("GET")
	assert.Equal(t, "user= server=true local=true", body)
}

// deadlineConn records the deadlines set on it.
type deadlineConn struct {
	net.Conn
	read, write time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error      { c.read, c.write = t, t; return nil }
func (c *deadlineConn) SetReadDeadline(t time.Time) error  { c.read = t; return nil }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error { c.write = t; return nil }

// A TLS connection goes back to the http.Server after its parked reply
// without the reply's write deadline: a server without WriteTimeout
// (nor a TLS handshake timeout) never sets one again, and its next
// responses, later than parkWriteTimeout, would fail.
func TestKeptTLSConnectionGoesBackWithoutDeadlines(t *testing.T) {
	l := newTestParkListener(t)
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	dc := &deadlineConn{Conn: a}
	tc := tls.Server(dc, &tls.Config{})
	tc.SetWriteDeadline(time.Now().Add(parkWriteTimeout)) // as l.write leaves it
	kc := &keptConn{l: l, c: tc, ctx: context.Background()}
	go kc.next()
	c, err := l.Accept()
	require.NoError(t, err)
	require.Same(t, tc, c)
	assert.True(t, dc.write.IsZero(), "write deadline %v", dc.write)
	assert.True(t, dc.read.IsZero(), "read deadline %v", dc.read)
}

// A handler's response goes out framed by what is sent: an interim 1xx
// status it writes is not taken for the final one, a Content-Length or
// Transfer-Encoding it sets never disagrees with the body; the next
// pipelined request's response is read as such.
func TestKeptConnectionFramesHandlerResponses(t *testing.T) {
	tests := []struct{ path, body string }{
		{path: "/hints", body: "final"},
		{path: "/short-cl", body: "short"},
		{path: "/te", body: "hello"},
	}
	s := newServed(t, Config{MaxSessionsPerAddress: 100}, serveOpts{other: otherHandler})
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			c, _ := kept(t, s)
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
			res, body := c.response("GET")
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, tc.body, body)
			res, body = c.response("GET")
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "hello", body)
		})
	}
}

// A handler's "Connection: close" closes the connection after its
// response, as with net/http: a pipelined request is not served.
func TestKeptConnectionClosesOnTheHandlersWord(t *testing.T) {
	s := newServed(t, Config{}, serveOpts{other: otherHandler})
	c, _ := kept(t, s)
	c.send("GET /bye HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	res, body := c.response("GET")
	assert.Equal(t, "bye", body)
	assert.True(t, res.Close)
	assert.True(t, c.closed(), "closed")
}

// newTestParkListener returns a parkListener on a loopback port, closed
// when the test ends; without a poller here, the test is skipped.
func newTestParkListener(tb testing.TB) *parkListener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	poller, err := netpark.New()
	if err != nil {
		ln.Close()
		tb.Skip("no poller here:", err)
	}
	l := newParkListener(ln, poller)
	tb.Cleanup(func() { l.Close() })
	return l
}
