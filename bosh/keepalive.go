package bosh

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/httpbind/httpbind/internal/gostack"
	"github.com/httpbind/httpbind/internal/httprec"
	"github.com/httpbind/httpbind/internal/netpark"
)

// A connection Serve parked a request of stays with Serve after the
// reply (keep-alive, RFC 9112 §9.3): its next requests are read and
// served here, not handed back to the http.Server, which would take them
// with a new connection goroutine, new buffers and a new connection
// state each time. Between requests the connection is watched by the
// Poller (netpark.Poller.Watch): no goroutine and no buffer wait for it.
// When bytes arrive, a goroutine reads the request with a pooled buffer
// (http.ReadRequest, net/http's own parser), runs srv's Handler with a
// ResponseWriter that keeps the response (internal/httprec) and writes
// it with Date and Content-Length in one write. A request the Handler
// holds is parked again (its Hijack), and so on.
//
// What the http.Server's own connections do, these do too: the server's
// ReadHeaderTimeout (or ReadTimeout) for a request's header, its
// IdleTimeout (or ReadTimeout) between requests, MaxHeaderBytes (431
// beyond it), 100-continue, Connection: close and HTTP/1.0 (the
// connection closes after the response), a handler's panic (logged,
// http.ErrAbortHandler not, and the connection closed), pipelined
// requests (served in order), closing the idle ones when the listener
// closes. What they do not: Flush and the other ResponseController
// calls but Hijack (the response goes out when the handler returns),
// ConnState hooks, and the end of a request's context when its client
// goes away while a handler runs (a held request parks instead, and is
// watched then). TLS connections go back to the http.Server (a
// tls.Conn's buffered bytes are out of the Poller's sight).

// A keptConn is an HTTP/1.1 connection kept by Serve: between requests,
// or while its handler runs.
type keptConn struct {
	l      *parkListener
	c      net.Conn
	ctx    context.Context // the connection's values (http.ServerContextKey, http.LocalAddrContextKey, ConnContext's), never cancelled
	remote string

	mu    sync.Mutex      // for watch and idle, set by next on one goroutine, taken by serve on another
	watch *netpark.Parked // while idle
	idle  *time.Timer     // while idle, with an IdleTimeout
}

// keptKey is the context key of a kept connection's requests: the
// keptConn, which parking the request finds again.
type keptKey struct{}

// keptFor returns the keptConn of r's connection c: r's own when r came
// over one, a new one otherwise.
func keptFor(l *parkListener, r *http.Request, c net.Conn) *keptConn {
	if kc, ok := r.Context().Value(keptKey{}).(*keptConn); ok {
		return kc
	}
	kc := &keptConn{l: l, c: c, remote: r.RemoteAddr}
	// The connection's context, not r's: r's has the values that
	// middlewares put there for r alone.
	base := r.Context()
	if cc, ok := base.Value(parkKey{}).(*connContext); ok {
		base = context.WithValue(cc.ctx, http.LocalAddrContextKey, c.LocalAddr())
	}
	kc.ctx = context.WithValue(context.WithoutCancel(base), keptKey{}, kc)
	return kc
}

// next waits for kc's next request, or hands a TLS connection back to the
// server for it.
func (kc *keptConn) next() {
	kc.c.SetDeadline(time.Time{}) // the reply's write deadline too, which the server may never reset
	if _, ok := kc.c.(*tls.Conn); ok {
		kc.l.resume(kc.c)
		return
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if !kc.l.keep(kc) {
		return
	}
	k, err := kc.l.poller.Watch(kc.c, kc.ready)
	if err != nil {
		kc.l.drop(kc)
		kc.c.Close()
		return
	}
	kc.watch = k
	if d := kc.l.idleTimeout(); d > 0 {
		kc.idle = time.AfterFunc(d, func() { kc.expire(k) })
	}
}

// ready is the Poller's call: the client sent bytes or hung up.
func (kc *keptConn) ready() {
	kc.l.drop(kc)
	go kc.serve()
}

// expire closes kc when it has stayed idle for IdleTimeout since it began
// waiting with k.
func (kc *keptConn) expire(k *netpark.Parked) {
	if k.Unpark() {
		kc.l.drop(kc)
		kc.c.Close()
	}
}

// shut closes kc when it is idle (the listener closed).
func (kc *keptConn) shut() {
	kc.mu.Lock()
	k, t := kc.watch, kc.idle
	kc.mu.Unlock()
	if k != nil && k.Unpark() {
		if t != nil {
			t.Stop()
		}
		kc.c.Close()
	}
}

// maxDrain bounds what is read of a request body the handler left unread
// for the connection to serve its next request; beyond it, or when the
// body cannot be read to its end, it closes.
const maxDrain = 256 << 10

// serve reads and serves kc's requests until one is held and parked
// (Hijack), none is there to read, or the connection closes.
func (kc *keptConn) serve() {
	gostack.Grow() // a new goroutine: the handler runs deep
	kc.mu.Lock()
	if kc.idle != nil {
		kc.idle.Stop()
		kc.idle = nil
	}
	kc.watch = nil
	kc.mu.Unlock()
	rd := readers.Get().(*keptReader)
	rd.r.R = kc.c
	defer func() {
		if rd != nil {
			rd.put()
		}
	}()
	for {
		req, status := kc.read(rd)
		if req == nil {
			if status != 0 {
				rec := httprec.New(http.Header{"Connection": {"close"}})
				rec.WriteHeader(status)
				kc.l.write(kc.c, rec, false)
			}
			kc.c.Close()
			return
		}
		w := &keptWriter{Recorder: httprec.New(nil), kc: kc, rd: rd}
		if !kc.handle(w, req) {
			kc.c.Close()
			return
		}
		if w.hijacked {
			if w.rd == nil {
				rd = nil // the hijacker's: it holds bytes of the next request
			}
			return
		}
		closing := req.Close || !req.ProtoAtLeast(1, 1) || kc.l.closed() || saysClose(w.Header())
		// Only a body read to its end (io.EOF) leaves the connection at
		// the next request: after a read error (malformed chunking, a
		// timeout, a body the handler closed) it is somewhere in the
		// body, whose rest must not be read as a request.
		if n, err := io.CopyN(io.Discard, req.Body, maxDrain+1); n > maxDrain || err != io.EOF {
			closing = true
		}
		req.Body.Close()
		if closing {
			w.Header().Set("Connection", "close")
		}
		if kc.l.write(kc.c, w.Recorder, req.Method == http.MethodHead) != nil || closing {
			kc.c.Close()
			return
		}
		if rd.br.Buffered() == 0 {
			break // otherwise a pipelined request is next
		}
	}
	rd.put()
	rd = nil
	kc.next()
}

// read reads kc's next request. On failure it returns nil and the status
// to answer with before closing, or 0 to close without a word (the
// client closed, or said nothing in time).
func (kc *keptConn) read(rd *keptReader) (*http.Request, int) {
	if d := kc.l.headerTimeout(); d > 0 {
		kc.c.SetReadDeadline(time.Now().Add(d))
	}
	rd.r.N = kc.l.maxHeaderBytes()
	req, err := http.ReadRequest(rd.br)
	switch {
	case err == nil:
	case rd.r.N <= 0:
		return nil, http.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), isTimeout(err):
		return nil, 0
	default:
		return nil, http.StatusBadRequest
	}
	rd.r.N = math.MaxInt64
	if d := kc.l.srv.ReadTimeout; d > 0 {
		kc.c.SetReadDeadline(time.Now().Add(d))
	} else {
		kc.c.SetReadDeadline(time.Time{})
	}
	if req.ProtoMajor != 1 {
		return nil, http.StatusHTTPVersionNotSupported
	}
	if e := req.Header.Get("Expect"); e != "" {
		if !strings.EqualFold(e, "100-continue") {
			return nil, http.StatusExpectationFailed
		}
		if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 {
			if kc.l.send(kc.c, continue100) != nil {
				return nil, 0
			}
		}
	}
	req.RemoteAddr = kc.remote
	return req, 0
}

// handle runs the server's handler for req, and reports false when it
// panicked (the connection is then closed, as net/http does).
func (kc *keptConn) handle(w *keptWriter, req *http.Request) (ok bool) {
	ctx, cancel := context.WithCancel(kc.ctx)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				kc.l.logf("http: panic serving %v: %v\n%s", kc.remote, p, buf)
			}
			ok = false
		}
	}()
	h := kc.l.srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	h.ServeHTTP(w, req.WithContext(ctx))
	return true
}

// saysClose reports whether hdr has the "close" connection option, as a
// handler sets to close the connection after its response.
func saysClose(hdr http.Header) bool {
	for _, v := range hdr.Values("Connection") {
		for _, o := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(o), "close") {
				return true
			}
		}
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// continue100 is the interim response to Expect: 100-continue.
var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// A keptWriter is a kept connection's ResponseWriter: it keeps the
// response for serve to write, and lets the handler hijack the
// connection (how a held request is parked).
type keptWriter struct {
	*httprec.Recorder
	kc       *keptConn
	rd       *keptReader // nil once given to the hijacker
	hijacked bool
}

// WriteHeader keeps the final status: an interim one (1xx but 101) is
// dropped, since the response goes out whole when the handler returns
// (a client needs none; Expect: 100-continue is answered by read).
func (w *keptWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.Recorder.WriteHeader(code)
}

// Hijack gives the connection to the caller, with the bytes read of it
// and not yet of a request (pipelining).
func (w *keptWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	br := w.rd.br
	if br.Buffered() > 0 {
		w.rd = nil
	} else {
		br = bufio.NewReaderSize(w.kc.c, 16) // nothing buffered: the pooled one stays
	}
	w.kc.c.SetDeadline(time.Time{})
	return w.kc.c, bufio.NewReadWriter(br, bufio.NewWriterSize(w.kc.c, 16)), nil
}

// A keptReader reads requests off a kept connection, within
// MaxHeaderBytes while it reads a header. Pooled between requests.
type keptReader struct {
	r  io.LimitedReader // the connection; N bounds a header
	br *bufio.Reader
}

var readers = sync.Pool{New: func() any {
	rd := &keptReader{}
	rd.br = bufio.NewReaderSize(&rd.r, 4<<10)
	return rd
}}

func (rd *keptReader) put() {
	rd.r.R = nil
	rd.br.Reset(&rd.r)
	readers.Put(rd)
}

// Timeouts and limits of kept connections, from the http.Server.

func (l *parkListener) headerTimeout() time.Duration {
	if d := l.srv.ReadHeaderTimeout; d > 0 {
		return d
	}
	return l.srv.ReadTimeout
}

func (l *parkListener) idleTimeout() time.Duration {
	if d := l.srv.IdleTimeout; d > 0 {
		return d
	}
	return l.srv.ReadTimeout
}

func (l *parkListener) writeTimeout() time.Duration {
	if d := l.srv.WriteTimeout; d > 0 {
		return d
	}
	return parkWriteTimeout
}

// maxHeaderBytes is what a request's header may take, with the slack
// net/http gives it.
func (l *parkListener) maxHeaderBytes() int64 {
	n := l.srv.MaxHeaderBytes
	if n <= 0 {
		n = http.DefaultMaxHeaderBytes
	}
	return int64(n) + 4096
}

func (l *parkListener) logf(format string, args ...any) {
	if l.srv.ErrorLog != nil {
		l.srv.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}
