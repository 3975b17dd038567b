// Package h2serve is the HTTP/2 server (RFC 9113) that bosh.Serve puts
// behind an http.Server's HTTP/2 connections (h2c with prior knowledge,
// and h2 over TLS), so that a held BOSH request (XEP-0124 §8) waits on a
// multiplexed connection without a goroutine.
//
// Go's own HTTP/2 server runs a handler goroutine with its buffers for as
// long as a stream is open, and cannot answer a stream after its handler
// has returned. Here a handler may Detach its stream instead: it returns,
// and whoever has the answer later calls Stream.Respond from any
// goroutine. A detached stream costs its small struct; a connection costs
// one goroutine that reads its frames, and each request a goroutine only
// while its handler runs. Frames, HPACK and their limits come from
// golang.org/x/net/http2; this package keeps the streams, flow control
// (RFC 9113 §5.2, §6.9) and the request and response mapping (§8).
//
// Any http.Handler can be served (request bodies, streaming responses with
// Flush); response trailers, server push and extended CONNECT are not
// supported. Start with Server.Install.
package h2serve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/httpbind/httpbind/internal/netpark"
)

// Defaults of Server's fields.
const (
	DefaultMaxConcurrentStreams = 250
	DefaultWriteTimeout         = 10 * time.Second
	DefaultWatchAfter           = time.Second
	// connWindow is the connection's receive window that a server
	// announces (§6.9.2); a stream's stays the default 65,535.
	connWindow = 1 << 20
	// prefaceTimeout bounds reading the client's preface and SETTINGS.
	prefaceTimeout = 10 * time.Second
	// maxReadFrame is the largest frame a client may send: the server
	// announces no SETTINGS_MAX_FRAME_SIZE, which stays 16,384 (§4.2, §6.5.2).
	maxReadFrame = 16384
)

// A Server serves HTTP/2 connections. Its zero value is ready to use.
type Server struct {
	// MaxConcurrentStreams is announced to clients and enforced (§5.1.2):
	// detached streams count until they are answered. 0 means
	// DefaultMaxConcurrentStreams.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize bounds a request's header fields (§6.5.2); 0
	// means http.DefaultMaxHeaderBytes.
	MaxHeaderListSize uint32
	// IdleTimeout closes a connection without open streams after this
	// long; 0 means never.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to a connection; 0 means
	// DefaultWriteTimeout. A connection whose write times out is closed.
	// It also bounds each wait of a response for the client to open its
	// flow-control windows (§6.9): the stream is then reset (CANCEL).
	WriteTimeout time.Duration
	// ErrorLog receives handler panics; nil means the log package's
	// standard logger.
	ErrorLog *log.Logger
	// Poller, when set, watches each connection with a file descriptor
	// (not TLS) once its client has sent nothing for WatchAfter, so that
	// an idle connection keeps no goroutine; and Install then takes h2c
	// connections off net/http's goroutine (see Install). Close it only
	// after Shutdown or Close: a connection it watches when it closes is
	// read no more (its client's going away goes unseen).
	Poller *netpark.Poller
	// WatchAfter is how long a connection's goroutine waits for the
	// client's next frame before the Poller watches the connection
	// instead: a watch costs more CPU than a wait, so a busy connection
	// keeps its goroutine. 0 means DefaultWatchAfter.
	WatchAfter time.Duration

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
}

// Install makes srv serve its HTTP/2 connections with s: unencrypted ones
// (h2c with prior knowledge, when srv.Protocols allows them) and, when
// srv negotiates "h2" by ALPN, those over TLS; and has srv.Shutdown end
// them gracefully (Server.Shutdown). With a Poller, an h2c connection
// leaves srv once its preface is read: s serves a duplicate of its
// descriptor and srv closes the original, which frees the goroutine and
// buffers srv keeps for a connection. srv then no longer counts it
// (ConnState reports it closed; srv.Shutdown and srv.Close do not wait for
// it or close it): call s.Shutdown or s.Close for it. A connection whose
// descriptor cannot be duplicated (no File method, or too many open
// files) stays with srv and is served without being watched. It takes
// s's bounds from srv where s leaves them zero (IdleTimeout,
// MaxHeaderBytes, HTTP2.MaxConcurrentStreams, ErrorLog). srv must have been configured
// for HTTP/2 already, as srv.Serve does before its first Accept: Install
// replaces the "unencrypted_http2" and "h2" entries of srv.TLSNextProto
// and reports whether there was either.
func (s *Server) Install(srv *http.Server) bool {
	_, h2c := srv.TLSNextProto["unencrypted_http2"]
	_, h2 := srv.TLSNextProto["h2"]
	if !h2c && !h2 {
		return false
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = srv.IdleTimeout
	}
	if s.MaxHeaderListSize == 0 && srv.MaxHeaderBytes > 0 {
		s.MaxHeaderListSize = uint32(srv.MaxHeaderBytes)
	}
	if s.MaxConcurrentStreams == 0 && srv.HTTP2 != nil && srv.HTTP2.MaxConcurrentStreams > 0 {
		s.MaxConcurrentStreams = uint32(srv.HTTP2.MaxConcurrentStreams)
	}
	if s.ErrorLog == nil {
		s.ErrorLog = srv.ErrorLog
	}
	if h2c {
		srv.TLSNextProto["unencrypted_http2"] = func(_ *http.Server, tc *tls.Conn, h http.Handler) {
			nc, ok := tc.NetConn().(interface{ UnencryptedNetConn() net.Conn })
			if !ok {
				tc.Close()
				return
			}
			c := nc.UnencryptedNetConn()
			if s.Poller != nil {
				if own, err := dupConn(c); err == nil {
					// srv cancels the connection's context as it lets go.
					go s.ServeConn(context.WithoutCancel(baseContext(h)), own, h, true)
					return // srv closes c, not own
				}
			}
			// srv closes c and cancels its context once this returns:
			// serve it to the end here, never watched.
			s.serveConn(baseContext(h), c, h, true, false)
		}
	}
	if h2 {
		srv.TLSNextProto["h2"] = func(_ *http.Server, tc *tls.Conn, h http.Handler) {
			s.serveConn(baseContext(h), tc, h, false, false)
		}
	}
	srv.RegisterOnShutdown(s.Shutdown)
	return true
}

// baseContext is the context net/http gives the handler of a connection
// it hands over, with its server and addresses.
func baseContext(h http.Handler) context.Context {
	if b, ok := h.(interface{ BaseContext() context.Context }); ok {
		return b.BaseContext()
	}
	return context.Background()
}

// dupConn returns a connection on a duplicate of c's descriptor.
func dupConn(c net.Conn) (net.Conn, error) {
	fc, ok := c.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, errors.New("h2serve: the connection has no descriptor")
	}
	f, err := fc.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileConn(f)
}

// ServeConn serves HTTP/2 on nc until the client closes it, an error or
// Shutdown ends it, and closes it. sawPreface says that the client's
// connection preface (§3.4) has been read already, as net/http has for
// h2c with prior knowledge. Requests' contexts derive from ctx. With a
// Poller, ServeConn may return while nc is still served: once it waits
// for its client's next frame.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn, h http.Handler, sawPreface bool) {
	s.serveConn(ctx, nc, h, sawPreface, true)
}

// serveConn is ServeConn; unless watch, nc is never watched, and
// serveConn returns only once nc is done with.
func (s *Server) serveConn(ctx context.Context, nc net.Conn, h http.Handler, sawPreface, watch bool) {
	c := s.newConn(ctx, nc, h)
	c.noWatch = !watch
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if c.serve(sawPreface) {
		c.finish()
	}
}

// finish ends c's streams, closes it and forgets it.
func (c *conn) finish() {
	c.close()
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
}

// Shutdown sends GOAWAY on every connection (§6.8): each then takes no
// new stream and closes once its open streams, detached ones too, are
// answered. Connections that arrive later are closed at once. It does
// not wait. A connection going away is read by a goroutine until it
// ends, not watched: the Poller may be closed after Shutdown.
func (s *Server) Shutdown() {
	for _, c := range s.shutDown() {
		c.goAway(http2.ErrCodeNo)
	}
}

// Close closes every connection at once: their streams end as if their
// clients had gone away (one that ended on a connection error closes
// once it has lingered, within a second). Connections that arrive later
// are closed too.
func (s *Server) Close() {
	for _, c := range s.shutDown() {
		c.shut()
	}
}

// shutDown refuses connections from now on and returns those there are.
func (s *Server) shutDown() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	return slices.Collect(maps.Keys(s.conns))
}

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams == 0 {
		return DefaultMaxConcurrentStreams
	}
	return s.MaxConcurrentStreams
}

func (s *Server) maxHeaderList() uint32 {
	if s.MaxHeaderListSize == 0 {
		return http.DefaultMaxHeaderBytes
	}
	return s.MaxHeaderListSize
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout == 0 {
		return DefaultWriteTimeout
	}
	return s.WriteTimeout
}

func (s *Server) watchAfter() time.Duration {
	if s.WatchAfter == 0 {
		return DefaultWatchAfter
	}
	return s.WatchAfter
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// errStreamReset is a body read's or response write's error once the
// client has reset the stream.
var errStreamReset = errors.New("h2serve: stream reset by the client")

// A conn is one HTTP/2 connection: frames are read on the goroutine of
// serve, and written by whoever holds wmu.
type conn struct {
	srv *Server
	nc  net.Conn
	h   http.Handler
	ctx context.Context
	tls *tls.ConnectionState

	rd *reader
	fr *http2.Framer // reads on serve's goroutine, writes under wmu

	wmu  sync.Mutex // the writing half: out, fr's writes, henc and hbuf
	out  []byte     // frames to write, in a pooled buffer while wmu is held
	henc *hpack.Encoder
	hbuf []byte

	mu         sync.Mutex
	cond       sync.Cond // on mu: the connection's send window opened, a stream or the connection ended
	streams    map[uint32]*stream
	lastID     uint32 // the highest stream the client opened
	inflow     int32  // what the client may still send on the connection
	unacked    int32  // read or dropped, not yet given back to the client
	outflow    int64  // what the server may still send on the connection
	initWindow int64  // the client's SETTINGS_INITIAL_WINDOW_SIZE
	maxFrame   uint32 // the client's SETTINGS_MAX_FRAME_SIZE
	goingAway  bool
	sentGoAway bool
	lastServed uint32 // the last stream the first GOAWAY sent named
	closed     bool
	linger     bool            // close lingers: a connection error was sent
	shutting   bool            // shut was called: no more watching
	noWatch    bool            // never watched: served on serveConn's goroutine to the end
	watched    *netpark.Parked // the Poller watches for the client's next frame
	idle       *time.Timer     // runs while the connection has no streams; nil without IdleTimeout
}

func (s *Server) newConn(ctx context.Context, nc net.Conn, h http.Handler) *conn {
	c := &conn{srv: s, nc: nc, h: h, ctx: ctx,
		streams: make(map[uint32]*stream), inflow: connWindow,
		outflow: 65535, initWindow: 65535, maxFrame: 16384}
	c.cond.L = &c.mu
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tls = &st
	}
	c.rd = newReader(nc)
	c.fr = http2.NewFramer(appender{&c.out}, c.rd)
	c.fr.SetMaxReadFrameSize(maxReadFrame) // the framer keeps a buffer of the largest frame read
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = s.maxHeaderList()
	c.henc = hpack.NewEncoder(appender{&c.hbuf})
	return c
}

// An appender collects what is written to it in a slice: the framer's
// frames in conn.out, the HPACK encoder's output in conn.hbuf.
type appender struct{ b *[]byte }

func (a appender) Write(p []byte) (int, error) {
	*a.b = append(*a.b, p...)
	return len(p), nil
}

// outPool holds the buffers that frames are written into: a connection
// has one only while it writes.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// serve starts the connection and reads and handles frames until it ends
// (true), or until it waits for its client watched by the Poller (false).
func (c *conn) serve(sawPreface bool) bool {
	c.nc.SetReadDeadline(time.Now().Add(prefaceTimeout))
	if !sawPreface {
		var p [len(http2.ClientPreface)]byte
		if _, err := io.ReadFull(c.rd, p[:]); err != nil || string(p[:]) != http2.ClientPreface {
			return true
		}
	}
	err := c.write(func() error {
		if err := c.fr.WriteSettings(
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.srv.maxStreams()},
			http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: c.srv.maxHeaderList()},
		); err != nil {
			return err
		}
		return c.fr.WriteWindowUpdate(0, connWindow-65535)
	})
	if err != nil {
		return true
	}
	if d := c.srv.IdleTimeout; d > 0 {
		c.mu.Lock()
		c.idle = time.AfterFunc(d, c.idleTimeout)
		c.mu.Unlock()
	}
	return c.readFrames(true)
}

// readFrames reads and handles frames until the connection ends (true) or
// waits for its client watched (false). first says that the client's
// SETTINGS frame is next (§3.4).
func (c *conn) readFrames(first bool) bool {
	for ; ; first = false {
		if !first && c.watch() {
			return false
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.resetStream(se.StreamID, se.Code)
				continue
			}
			c.fail(err)
			return true
		}
		if first {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				c.fail(http2.ConnectionError(http2.ErrCodeProtocol)) // §3.4
				return true
			}
			c.nc.SetReadDeadline(time.Time{})
		}
		if err := c.handle(f); err != nil {
			c.fail(err)
			return true
		}
		if c.done() {
			return true
		}
	}
}

// fail ends the connection after err: a connection error is sent as
// GOAWAY (§5.4.1) first, a frame too large as FRAME_SIZE_ERROR, and the
// connection's close lingers so that the client reads it.
func (c *conn) fail(err error) {
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &ce):
		c.goAway(http2.ErrCode(ce))
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.goAway(http2.ErrCodeFrameSize)
	default:
		return
	}
	c.mu.Lock()
	c.linger = true
	c.mu.Unlock()
}

// done reports whether a connection going away has no streams left.
func (c *conn) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goingAway && len(c.streams) == 0
}

// handle handles one frame read; an error it returns ends the connection.
func (c *conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		return c.settings(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		return c.write(func() error { return c.fr.WritePing(true, f.Data) })
	case *http2.WindowUpdateFrame:
		return c.windowUpdate(f)
	case *http2.MetaHeadersFrame:
		return c.headers(f)
	case *http2.DataFrame:
		return c.data(f)
	case *http2.RSTStreamFrame:
		return c.rstStream(f)
	case *http2.GoAwayFrame:
		c.mu.Lock()
		c.goingAway = true // the client opens no more streams (§6.8)
		c.mu.Unlock()
		return nil
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // §8.4
	}
	return nil // PRIORITY, unknown and extension frames are ignored (§5.5)
}

// settings applies the client's settings (§6.5) and acknowledges them.
func (c *conn) settings(f *http2.SettingsFrame) error {
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.wmu.Lock()
			c.henc.SetMaxDynamicTableSizeLimit(s.Val)
			c.wmu.Unlock()
		case http2.SettingInitialWindowSize:
			c.mu.Lock()
			delta := int64(s.Val) - c.initWindow
			c.initWindow = int64(s.Val)
			for _, st := range c.streams {
				st.outflow += delta
				if st.outflow > 1<<31-1 {
					c.mu.Unlock()
					return http2.ConnectionError(http2.ErrCodeFlowControl) // §6.9.2
				}
				if delta > 0 {
					st.wakeLocked()
				}
			}
			c.mu.Unlock()
		case http2.SettingMaxFrameSize:
			c.mu.Lock()
			c.maxFrame = s.Val
			c.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.write(c.fr.WriteSettingsAck)
}

// windowUpdate grows a send window (§6.9.1).
func (c *conn) windowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	overflow := false
	if f.StreamID == 0 {
		blocked := c.outflow <= 0
		c.outflow += int64(f.Increment)
		if c.outflow > 1<<31-1 {
			c.mu.Unlock()
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		if blocked && c.outflow > 0 {
			c.cond.Broadcast() // only writers waiting for the connection's window wait on cond
		}
	} else if st := c.streams[f.StreamID]; st != nil {
		st.outflow += int64(f.Increment)
		overflow = st.outflow > 1<<31-1
		st.wakeLocked()
	} else if f.StreamID > c.lastID {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeProtocol) // an idle stream (§5.1)
	}
	c.mu.Unlock()
	if overflow {
		c.resetStream(f.StreamID, http2.ErrCodeFlowControl)
	}
	return nil
}

// rstStream ends a stream the client reset (§6.4).
func (c *conn) rstStream(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	if f.StreamID > c.lastID {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeProtocol) // an idle stream (§5.1)
	}
	st := c.streams[f.StreamID]
	var gone func()
	if st != nil {
		gone = c.endLocked(st)
	}
	c.mu.Unlock()
	if gone != nil {
		gone()
	}
	return nil
}

// resetStream resets stream id (§5.4.2), as the server's stream error.
func (c *conn) resetStream(id uint32, code http2.ErrCode) {
	c.mu.Lock()
	var gone func()
	if st := c.streams[id]; st != nil {
		gone = c.endLocked(st)
		st.sentEnd = true
	}
	c.mu.Unlock()
	if gone != nil {
		gone()
	}
	c.write(func() error { return c.fr.WriteRSTStream(id, code) })
}

// write runs fn, which writes frames, with the writing half, and writes
// them to the connection within WriteTimeout; a failed write closes the
// connection.
func (c *conn) write(fn func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	bp := outPool.Get().(*[]byte)
	c.out = (*bp)[:0]
	err := fn()
	if err == nil && len(c.out) > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout()))
		_, err = c.nc.Write(c.out)
	}
	if cap(c.out) <= 64<<10 {
		*bp = c.out[:0]
		outPool.Put(bp)
	}
	c.out = nil
	if err != nil {
		c.shut()
	}
	return err
}

// dataFrame appends a DATA frame (§6.1) to out, with wmu held: the
// framer would keep a buffer of the largest frame it wrote.
func (c *conn) dataFrame(id uint32, end bool, p []byte) {
	flags := byte(0)
	if end {
		flags = byte(http2.FlagDataEndStream)
	}
	n := len(p)
	c.out = append(c.out, byte(n>>16), byte(n>>8), byte(n), byte(http2.FrameData), flags,
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	c.out = append(c.out, p...)
}

// goAway sends GOAWAY with code (§6.8): no stream above the last one
// opened will be processed. With NO_ERROR the connection closes once its
// streams are done (read by a goroutine meanwhile, not watched); with an
// error, when serve returns (fail). A GOAWAY after the first names the
// same last stream: streams opened since were refused, and the last
// stream identifier must not increase (§6.8).
func (c *conn) goAway(code http2.ErrCode) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.goingAway = true
	if !c.sentGoAway {
		c.sentGoAway, c.lastServed = true, c.lastID
	}
	last, idle := c.lastServed, len(c.streams) == 0
	c.mu.Unlock()
	c.write(func() error { return c.fr.WriteGoAway(last, code, nil) })
	if code == http2.ErrCodeNo && idle {
		c.shut()
		return
	}
	c.unwatch()
}

// shut closes the connection from outside its reading: the read fails and
// ends the streams; a connection the Poller watches (no read waits) is
// taken from it and ended here. A connection already ended is left to
// close, which may be lingering (a stream it ends, the last of a
// connection going away, calls shut).
func (c *conn) shut() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.shutting = true
	k := c.watched
	c.watched = nil
	c.mu.Unlock()
	c.nc.Close()
	if k != nil && k.Unpark() {
		go c.finish()
	}
}

// watch hands the connection to the Poller when the client has sent
// nothing for WatchAfter, and reports whether it did: the connection's
// goroutine then returns, and resume reads on another once bytes come.
// c.mu is held across the Poller's Watch, so that resume, which takes it,
// runs after watched is set.
func (c *conn) watch() bool {
	if c.srv.Poller == nil || c.noWatch || !c.rd.quiet(c.srv.watchAfter()) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shutting || c.goingAway {
		return false // a connection going away is read until it ends (unwatch)
	}
	k, err := c.srv.Poller.Watch(c.nc, c.resume)
	if err != nil {
		return false // the Poller is closed: read and wait
	}
	c.watched = k
	return true
}

// resume is the Poller's call once the client sent bytes or hung up.
func (c *conn) resume() {
	go func() {
		c.mu.Lock()
		c.watched = nil
		c.mu.Unlock()
		c.read()
	}()
}

// unwatch takes a connection going away from the Poller, if it watches
// it, and reads it on a goroutine again until it ends: its client's
// frames (RST_STREAM, WINDOW_UPDATE) and its going away are still seen
// once the Poller no longer watches (a Poller closed after Shutdown).
func (c *conn) unwatch() {
	c.mu.Lock()
	k := c.watched
	c.watched = nil
	c.mu.Unlock()
	if k != nil && k.Unpark() {
		go c.read()
	}
}

// read reads and handles frames on a goroutine that resume or unwatch
// started, until the connection ends or is watched again.
func (c *conn) read() {
	if c.readFrames(false) {
		c.finish()
	}
}

// close ends every stream and closes the connection.
func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	if c.idle != nil {
		c.idle.Stop()
	}
	var gones []func()
	for _, st := range c.streams {
		if gone := c.endLocked(st); gone != nil {
			gones = append(gones, gone)
		}
	}
	c.cond.Broadcast()
	linger := c.linger
	c.mu.Unlock()
	if linger {
		go lingerClose(c.nc)
	} else {
		c.nc.Close()
	}
	for _, gone := range gones {
		gone()
	}
}

// Closing a connection with bytes unread makes TCP reset it, and a reset
// can destroy the GOAWAY that explains why before the client reads it.
// lingerClose ends nc's writing side first, then reads and drops what the
// client still sends, for at most lingerTime and lingerBytes, and closes.
func lingerClose(nc net.Conn) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		nc.Close()
		return
	}
	nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(nc, lingerBytes))
	nc.Close()
}

const (
	lingerTime  = time.Second
	lingerBytes = 256 << 10
)

// idleTimeout ends a connection that has had no streams for IdleTimeout.
func (c *conn) idleTimeout() {
	c.mu.Lock()
	idle := len(c.streams) == 0
	c.mu.Unlock()
	if idle {
		c.goAway(http2.ErrCodeNo)
	}
}

// removeLocked forgets st, so that it no longer counts toward
// MAX_CONCURRENT_STREAMS (§5.1.2), once it is closed: answered in full
// both ways, or answered and its handler returned (run resets it then),
// or reset and its handler returned, so that a client resetting streams
// cannot run more handlers than that (rapid reset). A connection left
// without streams starts idling, or closes when it is going away.
func (c *conn) removeLocked(st *stream) {
	switch {
	case st.reset:
		if !st.handlerDone {
			return
		}
	case st.sentEnd:
		if !st.handlerDone && !st.recvEnd {
			return
		}
	default:
		return
	}
	if c.streams[st.id] != st {
		return
	}
	delete(c.streams, st.id)
	if len(c.streams) > 0 {
		return
	}
	if c.goingAway {
		go c.shut()
		return
	}
	if c.idle != nil {
		c.idle.Reset(c.srv.IdleTimeout)
	}
}
