package h2serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/httpbind/httpbind/internal/gostack"
)

// A stream is one request and its response (§5.1). Its fields are
// guarded by conn.mu.
type stream struct {
	c      *conn
	id     uint32
	cancel context.CancelFunc

	inflow  int32 // what the client may still send on it
	unacked int32 // read by the handler, not yet given back to the client
	outflow int64 // what the server may still send on it

	body     bytes.Buffer // received and not yet read by the handler
	bodyErr  error        // io.EOF after END_STREAM; errStreamReset
	bodyGone bool         // the handler closed the body or returned: discard
	declLen  int64        // its content-length, or -1
	gotLen   int64
	wake     *sync.Cond // on conn.mu, made when first waited on: its body's reader, its writer waiting for its window

	recvEnd     bool // the client's END_STREAM came (half-closed remote)
	sentEnd     bool // the server's END_STREAM or RST_STREAM went
	reset       bool // ended by the client's RST_STREAM or the connection
	handlerDone bool

	// detached: the handler gave the stream to a Stream; claimed by
	// Stream.Claim or by the stream ending first, which calls gone.
	detached bool
	claimed  atomic.Bool
	gone     func()
}

// waitLocked waits, with conn.mu held, until wakeLocked is called.
func (st *stream) waitLocked() {
	if st.wake == nil {
		st.wake = sync.NewCond(&st.c.mu)
	}
	st.wake.Wait()
}

// wakeLocked wakes what waits on st: a frame for it arrived, or it ended.
func (st *stream) wakeLocked() {
	if st.wake != nil {
		st.wake.Broadcast()
	}
}

// endLocked ends st without a response from the server: its context is
// cancelled and its body read fails. It returns the detached stream's
// gone function when the end claimed it, for the caller to call without
// mu.
func (c *conn) endLocked(st *stream) (gone func()) {
	if !st.reset {
		st.reset = true
		if st.bodyErr == nil || !st.recvEnd {
			st.bodyErr = errStreamReset
		}
		st.cancel()
		st.wakeLocked()
		c.cond.Broadcast() // its writer may wait for the connection's window
	}
	if st.detached && st.claimed.CompareAndSwap(false, true) {
		gone = st.gone
	}
	c.removeLocked(st)
	return gone
}

// headers opens a stream with the request in f, or takes its trailers.
func (c *conn) headers(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol) // §5.1.1
	}
	c.mu.Lock()
	if id <= c.lastID {
		st := c.streams[id]
		if st == nil {
			// A closed stream: the client may have sent these trailers
			// before it saw the server's RST_STREAM (§5.4.2), and the
			// framer has decoded them all the same (HPACK state).
			c.mu.Unlock()
			c.write(func() error { return c.fr.WriteRSTStream(id, http2.ErrCodeStreamClosed) })
			return nil
		}
		if st.recvEnd {
			c.mu.Unlock()
			return http2.ConnectionError(http2.ErrCodeStreamClosed) // §5.1: half-closed (remote)
		}
		if !f.StreamEnded() {
			c.mu.Unlock()
			return http2.ConnectionError(http2.ErrCodeProtocol) // trailers end the stream (§8.1)
		}
		if st.declLen >= 0 && st.gotLen != st.declLen {
			c.mu.Unlock()
			c.resetStream(id, http2.ErrCodeProtocol) // §8.1.1
			return nil
		}
		c.recvEndLocked(st) // trailers are not passed on
		c.mu.Unlock()
		return nil
	}
	if c.goingAway || uint32(len(c.streams)) >= c.srv.maxStreams() {
		c.lastID = id
		c.mu.Unlock()
		c.refuse(id)
		return nil
	}
	c.mu.Unlock()
	req, declLen, err := c.request(f)
	// The stream opens with lastID, so that a GOAWAY sent meanwhile
	// (Shutdown, IdleTimeout) names it only if it is served (§6.8).
	c.mu.Lock()
	c.lastID = id
	if err != nil || c.goingAway {
		c.mu.Unlock()
		if err != nil {
			c.write(func() error { return c.fr.WriteRSTStream(id, http2.ErrCodeProtocol) }) // §8.1.1
		} else {
			c.refuse(id)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(c.ctx)
	st := &stream{c: c, id: id, cancel: cancel, inflow: 65535, declLen: declLen}
	req = req.WithContext(ctx)
	st.outflow = c.initWindow
	c.streams[id] = st
	if c.idle != nil {
		c.idle.Stop() // not idle
	}
	if f.StreamEnded() {
		st.recvEnd, st.bodyErr = true, io.EOF
		req.Body = http.NoBody
	} else {
		req.Body = &body{st: st}
	}
	c.mu.Unlock()
	w := &responseWriter{st: st, hdr: make(http.Header), head: req.Method == http.MethodHead}
	if f.Truncated {
		go c.run(st, w, req, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "request header fields too large", http.StatusRequestHeaderFieldsTooLarge)
		}))
		return nil
	}
	go c.run(st, w, req, c.h)
	return nil
}

// refuse resets stream id unprocessed, for the client to retry (§8.7).
func (c *conn) refuse(id uint32) {
	c.write(func() error { return c.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) })
}

// request maps a request's header fields to an *http.Request (§8.3.1),
// with its content-length, or -1.
func (c *conn) request(f *http2.MetaHeadersFrame) (*http.Request, int64, error) {
	var method, scheme, authority, path string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":authority":
			authority = hf.Value
		case ":path":
			path = hf.Value
		default:
			return nil, 0, errors.New("unknown pseudo-header") // :protocol, extended CONNECT, is not supported
		}
	}
	if method == "" || scheme == "" || path == "" || method == http.MethodConnect {
		return nil, 0, errors.New("missing pseudo-header")
	}
	hdr := make(http.Header, len(f.Fields)-len(f.PseudoFields()))
	var cookies []string
	for _, hf := range f.RegularFields() {
		switch hf.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			return nil, 0, errors.New("connection-specific header field") // §8.2.2
		case "te":
			if hf.Value != "trailers" {
				return nil, 0, errors.New("te other than trailers")
			}
		case "cookie":
			cookies = append(cookies, hf.Value) // §8.2.3
			continue
		}
		k := http.CanonicalHeaderKey(hf.Name)
		hdr[k] = append(hdr[k], hf.Value)
	}
	if len(cookies) > 0 {
		hdr.Set("Cookie", strings.Join(cookies, "; "))
	}
	declLen := int64(-1)
	if vs := hdr["Content-Length"]; len(vs) > 0 {
		n, err := strconv.ParseInt(vs[0], 10, 64)
		if err != nil || n < 0 || len(vs) > 1 && slicesDiffer(vs) {
			return nil, 0, errors.New("bad content-length")
		}
		declLen = n
	}
	if f.StreamEnded() {
		if declLen > 0 {
			return nil, 0, errors.New("content-length without a body")
		}
		declLen = 0
	}
	u, err := url.ParseRequestURI(path)
	if path == "*" && method == http.MethodOptions {
		u, err = &url.URL{Path: "*"}, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if authority == "" {
		authority = hdr.Get("Host")
	}
	req := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        hdr,
		ContentLength: declLen,
		Host:          authority,
		RemoteAddr:    c.nc.RemoteAddr().String(),
		RequestURI:    path,
		TLS:           c.tls,
	}
	return req, declLen, nil
}

// slicesDiffer reports whether vs holds values that differ.
func slicesDiffer(vs []string) bool {
	for _, v := range vs[1:] {
		if v != vs[0] {
			return true
		}
	}
	return false
}

// data takes a DATA frame's bytes into its stream's body (§6.1) under
// flow control (§6.9).
func (c *conn) data(f *http2.DataFrame) error {
	id, n := f.StreamID, int32(f.Length)
	c.mu.Lock()
	if n > c.inflow {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.inflow -= n
	st := c.streams[id]
	if st == nil || st.recvEnd || st.reset {
		idle := id > c.lastID
		c.mu.Unlock()
		if idle {
			return http2.ConnectionError(http2.ErrCodeProtocol) // §5.1
		}
		c.credit(0, int(n))
		c.write(func() error { return c.fr.WriteRSTStream(id, http2.ErrCodeStreamClosed) })
		return nil
	}
	if n > st.inflow {
		c.mu.Unlock()
		c.credit(0, int(n))
		c.resetStream(id, http2.ErrCodeFlowControl)
		return nil
	}
	st.inflow -= n
	data := f.Data()
	st.gotLen += int64(len(data))
	if st.declLen >= 0 && st.gotLen > st.declLen || f.StreamEnded() && st.declLen >= 0 && st.gotLen != st.declLen {
		c.mu.Unlock()
		c.credit(0, int(n))
		c.resetStream(id, http2.ErrCodeProtocol) // §8.1.1
		return nil
	}
	keep := 0
	if !st.bodyGone {
		st.body.Write(data)
		keep = len(data)
	}
	if f.StreamEnded() {
		c.recvEndLocked(st)
	}
	st.wakeLocked()
	c.mu.Unlock()
	// What is not kept for the handler (padding, a body it no longer
	// reads) is given back at once; the rest as the handler reads it.
	c.credit(id, int(n)-keep)
	return nil
}

// recvEndLocked notes the client's END_STREAM on st, and wakes its body's
// reader.
func (c *conn) recvEndLocked(st *stream) {
	st.recvEnd = true
	if st.bodyErr == nil {
		st.bodyErr = io.EOF
	}
	st.wakeLocked()
	c.removeLocked(st)
}

// credit gives n bytes of receive window back to the client (§6.9.1):
// to the connection, and to stream id too unless id is 0 or the stream
// has received all it will. WINDOW_UPDATE frames go out once half a window
// has been given back, so that small bodies, BOSH's, cost none, or once
// the connection's credit is more than the client has left: bodies that
// handlers have yet to read may hold the rest of its window.
func (c *conn) credit(id uint32, n int) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	c.unacked += int32(n)
	var conn, strm int32
	if c.unacked >= connWindow/2 || c.unacked >= c.inflow {
		conn, c.unacked = c.unacked, 0
		c.inflow += conn
	}
	if st := c.streams[id]; id != 0 && st != nil && !st.recvEnd && !st.reset {
		st.unacked += int32(n)
		if st.unacked >= 65535/2 {
			strm, st.unacked = st.unacked, 0
			st.inflow += strm
		}
	}
	c.mu.Unlock()
	if conn == 0 && strm == 0 {
		return
	}
	c.write(func() error {
		if conn > 0 {
			if err := c.fr.WriteWindowUpdate(0, uint32(conn)); err != nil {
				return err
			}
		}
		if strm > 0 {
			return c.fr.WriteWindowUpdate(id, uint32(strm))
		}
		return nil
	})
}

// hpackField is a header field to encode.
func hpackField(name, value string) hpack.HeaderField {
	return hpack.HeaderField{Name: name, Value: value}
}

// nowDate is a response's Date (RFC 9110 §6.6.1).
func nowDate() string { return time.Now().UTC().Format(http.TimeFormat) }

// run runs the handler of st's request on its own goroutine, then ends
// the response unless the handler detached the stream.
func (c *conn) run(st *stream, w *responseWriter, req *http.Request, h http.Handler) {
	gostack.Grow() // a handler runs deep: grow its new goroutine's stack at once
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.logf("h2serve: panic serving %v: %v\n%s", c.nc.RemoteAddr(), p, buf)
		}
		switch {
		case p != nil:
			c.resetStream(st.id, http2.ErrCodeInternal)
		case !w.detached:
			w.finish()
		}
		c.mu.Lock()
		cancel := st.cancel
		st.cancel = noCancel // the ended context need not be kept
		st.handlerDone = true
		st.bodyGone = true
		unread := st.body.Len()
		st.body = bytes.Buffer{}
		early := !st.recvEnd && !st.reset && st.sentEnd
		c.removeLocked(st)
		c.mu.Unlock()
		cancel()
		c.credit(0, unread)
		if early {
			// A complete response before the whole request: the client
			// may stop sending (§8.1).
			c.resetStream(st.id, http2.ErrCodeNo)
		}
	}()
	h.ServeHTTP(w, req)
}

// A body is a request's body as the handler reads it.
type body struct{ st *stream }

func (b *body) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	c.mu.Lock()
	for st.body.Len() == 0 && st.bodyErr == nil && !st.bodyGone {
		st.waitLocked()
	}
	if st.body.Len() == 0 || st.bodyGone {
		err := st.bodyErr
		if st.bodyGone {
			err = errBodyClosed
		}
		c.mu.Unlock()
		return 0, err
	}
	n, _ := st.body.Read(p)
	c.mu.Unlock()
	c.credit(st.id, n)
	return n, nil
}

func (b *body) Close() error {
	st := b.st
	c := st.c
	c.mu.Lock()
	st.bodyGone = true
	unread := st.body.Len()
	st.body = bytes.Buffer{}
	st.wakeLocked()
	c.mu.Unlock()
	c.credit(st.id, unread)
	return nil
}

// noCancel is the cancel function of a stream whose context has ended.
func noCancel() {}

// errBodyClosed is a read's error after the body was closed.
var errBodyClosed = errors.New("h2serve: read on closed body")

// A responseWriter is the http.ResponseWriter of a stream's handler. Its
// body is sent when the handler returns or flushes.
type responseWriter struct {
	st       *stream
	hdr      http.Header
	sent     http.Header // hdr as it was at WriteHeader
	status   int
	head     bool // a HEAD request: no body is sent
	buf      []byte
	headSent bool // the HEADERS frame went out
	detached bool
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.hdr }

// WriteHeader implements http.ResponseWriter. Informational statuses are
// not sent.
func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 || code < 200 || code > 999 {
		return
	}
	w.status = code
	w.sent = w.hdr.Clone()
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.head {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= 16<<10 {
		if err := w.FlushError(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush implements http.Flusher.
func (w *responseWriter) Flush() { w.FlushError() }

// FlushError sends what was written so far, as http.ResponseController's
// Flush does.
func (w *responseWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	c := w.st.c
	if !w.headSent {
		w.headSent = true
		if err := c.writeHeaders(w.st, w.status, w.sent, false); err != nil {
			return err
		}
	}
	if len(w.buf) == 0 {
		return nil
	}
	err := c.writeData(w.st, w.buf, false)
	w.buf = w.buf[:0]
	return err
}

// finish ends the response once the handler returned.
func (w *responseWriter) finish() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	c := w.st.c
	if !w.headSent {
		w.headSent = true
		if w.sent.Get("Content-Length") == "" && w.sent.Get("Transfer-Encoding") == "" && !w.head && bodyAllowed(w.status) {
			w.sent.Set("Content-Length", strconv.Itoa(len(w.buf)))
		}
		if w.sent.Get("Content-Type") == "" && len(w.buf) > 0 {
			w.sent.Set("Content-Type", http.DetectContentType(w.buf))
		}
		if c.writeHeaders(w.st, w.status, w.sent, len(w.buf) == 0) != nil || len(w.buf) == 0 {
			return
		}
	}
	c.writeData(w.st, w.buf, true)
}

// bodyAllowed reports whether a response with status may have a body
// (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// A Stream is a request whose handler has returned without a response:
// Detach gave it away, and Respond answers it.
type Stream struct{ st *stream }

// Detach takes w's stream from its handler, when w is a ResponseWriter of
// this package (possibly wrapped: http.ResponseController's Unwrap
// convention) and nothing has been written to it. The handler then
// returns without a response, and the Stream is answered later with
// Claim and Respond. gone is called instead, once, if the client resets
// the stream or the connection ends first (or the handler panics after
// Detach): from the connection's goroutine, or the handler's, never with
// a lock of this package held. Detach returns nil otherwise, and the
// handler answers as usual.
func Detach(w http.ResponseWriter, gone func()) *Stream {
	for {
		if rw, ok := w.(*responseWriter); ok {
			return rw.detach(gone)
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

func (w *responseWriter) detach(gone func()) *Stream {
	if w.status != 0 || w.detached {
		return nil
	}
	c := w.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.st.reset {
		return nil
	}
	w.detached = true
	w.st.detached, w.st.gone = true, gone
	return &Stream{w.st}
}

// Claim takes the stream for Respond, and reports false when it ended
// first (gone has been or will be called).
func (s *Stream) Claim() bool { return s.st.claimed.CompareAndSwap(false, true) }

// Respond sends the response of a claimed stream: status, hdr (nothing
// is added to it) and body, whose length the caller gives in hdr's
// Content-Length when it wants one sent.
func (s *Stream) Respond(status int, hdr http.Header, body []byte) error {
	c := s.st.c
	if err := c.writeHeaders(s.st, status, hdr, len(body) == 0); err != nil || len(body) == 0 {
		return err
	}
	return c.writeData(s.st, body, true)
}

// connHeaders are the header fields that HTTP/2 does not carry (§8.2.2).
var connHeaders = map[string]bool{"Connection": true, "Keep-Alive": true,
	"Proxy-Connection": true, "Transfer-Encoding": true, "Upgrade": true}

// writeHeaders sends a response's HEADERS (and CONTINUATION) frames.
func (c *conn) writeHeaders(st *stream, status int, hdr http.Header, end bool) error {
	c.mu.Lock()
	if st.reset || st.sentEnd {
		c.mu.Unlock()
		return errStreamReset
	}
	if end {
		st.sentEnd = true
	}
	maxFrame := int(c.maxFrame)
	c.mu.Unlock()
	err := c.write(func() error {
		c.hbuf = c.hbuf[:0]
		c.henc.WriteField(hpackField(":status", strconv.Itoa(status)))
		if hdr.Get("Date") == "" {
			c.henc.WriteField(hpackField("date", nowDate()))
		}
		for k, vs := range hdr {
			if connHeaders[k] || !httpguts.ValidHeaderFieldName(k) {
				continue
			}
			name := strings.ToLower(k)
			for _, v := range vs {
				if httpguts.ValidHeaderFieldValue(v) {
					c.henc.WriteField(hpackField(name, v))
				}
			}
		}
		block := c.hbuf
		first := true
		for first || len(block) > 0 {
			frag := block[:min(len(block), maxFrame)]
			block = block[len(frag):]
			var err error
			if first {
				err = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id,
					BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0})
			} else {
				err = c.fr.WriteContinuation(st.id, len(block) == 0, frag)
			}
			if err != nil {
				return err
			}
			first = false
		}
		return nil
	})
	if end {
		c.mu.Lock()
		c.removeLocked(st)
		c.mu.Unlock()
	}
	return err
}

// writeData sends p as DATA frames within the send windows (§6.9),
// waiting for the client to grow them, each time for at most
// WriteTimeout: a client that keeps a window shut
// (SETTINGS_INITIAL_WINDOW_SIZE 0, say) would otherwise keep the writer
// waiting for good. The stream is then reset (CANCEL, §8.7).
func (c *conn) writeData(st *stream, p []byte, end bool) error {
	var stall *time.Timer // runs while the writer waits for a window
	stalled := false      // it ran out; guarded by c.mu
	defer func() {
		if stall != nil {
			stall.Stop()
		}
	}()
	for first := true; first || len(p) > 0; first = false {
		c.mu.Lock()
		for len(p) > 0 && (c.outflow <= 0 || st.outflow <= 0) && !st.reset && !c.closed && !stalled {
			if stall == nil {
				stall = time.AfterFunc(c.srv.writeTimeout(), func() {
					c.mu.Lock()
					stalled = true
					st.wakeLocked()
					c.cond.Broadcast()
					c.mu.Unlock()
				})
			}
			if c.outflow <= 0 {
				c.cond.Wait()
			} else {
				st.waitLocked()
			}
		}
		if stall != nil && !stalled {
			stall.Stop() // a window opened in time
			stall = nil
		}
		if stalled && !st.reset && !c.closed && !st.sentEnd {
			c.mu.Unlock()
			c.resetStream(st.id, http2.ErrCodeCancel)
			return errStreamReset
		}
		if st.reset || c.closed || st.sentEnd {
			c.mu.Unlock()
			return errStreamReset
		}
		n := min(int64(len(p)), c.outflow, st.outflow, int64(c.maxFrame))
		c.outflow -= n
		st.outflow -= n
		last := end && n == int64(len(p))
		if last {
			st.sentEnd = true
		}
		c.mu.Unlock()
		chunk := p[:n]
		p = p[n:]
		err := c.write(func() error { c.dataFrame(st.id, last, chunk); return nil })
		if last {
			c.mu.Lock()
			c.removeLocked(st)
			c.mu.Unlock()
		}
		if err != nil {
			return err
		}
	}
	return nil
}
