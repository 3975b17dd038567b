package xmppstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/netpark"
	"github.com/httpbind/httpbind/internal/xmlscan"
)

// tcpStream is the XMPP stream to the server of one BOSH session. Its
// bosh.Stream methods are called as package bosh documents; its reader
// (read) is the only other goroutine. While the server says nothing, the
// reader is parked: no goroutine, no read buffer, no parser scratch, and
// TCPUpstream's netpark.Poller starts a reader goroutine again when bytes
// arrive or the server hangs up.
type tcpStream struct {
	// Set in Open, then read-only.
	up     *TCPUpstream
	sink   bosh.Sink
	domain string
	done   chan struct{} // closed when the reader stops for good

	// Owned by Open, then by the reader: the reader and what it needs.
	conn     net.Conn // the TLS connection once TLS is on
	rd       *streamReader
	hdr      *streamHeader
	doc      *xmlscan.Doc  // parser scratch, from xmlscan.GetDoc; nil while parked
	restarts *atomic.Int32 // stream headers sent whose answer read has not seen; shared with Send

	// parked is the reader's netpark watch while it is parked, and
	// closing is set once end closes the connection, after which the
	// reader never parks. Both guarded by parkMu.
	parkMu  sync.Mutex
	parked  *netpark.Parked
	closing bool

	// Set in Open; then owned by Send (never concurrent for one session).
	header  []byte // the stream header a restart sends again
	version string // its version (XEP-0206 §3)

	// authed is set by read when the server sends SASL <success/>, and
	// cleared by Send when it restarts the stream: a restart is only
	// expected after SASL success on the current stream (RFC 6120
	// §6.4.6). sasl stays set once SASL succeeded. features is the last
	// <stream:features/> the client got, set by Open and read; Send
	// answers an unexpected restart after SASL success with it.
	authed   atomic.Bool
	sasl     atomic.Bool
	features atomic.Pointer[[]byte]

	writing chan struct{} // a one-slot lock held while writing: Send, and Close's </stream:stream>
	ended   atomic.Bool   // the stream is ending: read stops reporting, Send stops writing
	// halfClosed: CloseSend sent </stream:stream>; Send writes nothing
	// more, and the server's end of the stream does not end the session.
	halfClosed atomic.Bool
	inSink     atomic.Bool // read is inside a Sink call, which may call Close (bosh.Config.MaxQueue)
	closed     sync.Once   // closes conn
}

// Send writes the client's payloads to the server as the client's bytes,
// or restarts the stream (XEP-0206 §5). A write error ends the session
// with remote-connection-failed.
func (s *tcpStream) Send(ctx context.Context, req *bosh.Request) error {
	if s.ended.Load() || s.halfClosed.Load() {
		return nil
	}
	var out []byte
	if restartRequested(req) {
		// payloads of a restart request are ignored; a new
		// stream on the same connection, whose features read relays.
		if len(req.Payloads) > 0 {
			s.up.log.Debug("xmppstream: ignoring payloads of a restart request", "count", len(req.Payloads))
		}
		if !s.authed.Swap(false) {
			s.unexpectedRestart()
			return nil
		}
		if from, ok := req.Attr("", "from"); ok && from != "" {
			s.header = streamHeaderBytes(s.domain, from, langOf(req), s.version)
		}
		s.restarts.Add(1)
		out = s.header
	} else {
		out = bytes.Join(req.Payloads, nil)
	}
	if len(out) == 0 {
		return nil
	}
	if err := s.write(out); err != nil {
		s.end()
		if s.ended.Swap(true) {
			return nil // closed meanwhile: not a failure of the server
		}
		return &bosh.Error{Condition: bosh.RemoteConnectionFailed, Err: fmt.Errorf("xmppstream: write to the server: %w", err)}
	}
	return nil
}

// unexpectedRestart answers a restart request that comes before SASL
// success on the current stream, as node-xmpp-client sends one right after
// the session creation response. A server reads a new stream header there
// as not-well-formed XML (RFC 6120 §4.3.1: only after TLS or SASL does a
// new stream begin) and ends the stream, so none is sent. Before SASL
// success the request is answered as an empty one, as by Server: the
// client has the features already (see stream.restart). After it (a
// second restart), the client gets the current stream's features again.
func (s *tcpStream) unexpectedRestart() {
	if !s.sasl.Load() {
		s.up.log.Debug("xmppstream: restart before SASL success answered with nothing", "domain", s.domain)
		return
	}
	s.up.log.Debug("xmppstream: restart answered with the current features", "domain", s.domain)
	if f := s.features.Load(); f != nil {
		s.sink.SetAttrs(streamPrefix)
		s.sink.Deliver(*f)
	}
}

// nsXMLLang is the namespace of xml:lang.
const nsXMLLang = "http://www.w3.org/XML/1998/namespace"

// langOf returns a restart request's xml:lang, or "en".
func langOf(req *bosh.Request) string {
	if l, ok := req.Attr(nsXMLLang, "lang"); ok && l != "" {
		return l
	}
	return "en"
}

// write writes b with a deadline.
func (s *tcpStream) write(b []byte) error {
	s.writing <- struct{}{}
	defer func() { <-s.writing }()
	s.conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
	_, err := s.conn.Write(b)
	return err
}

// Close ends the stream when the session ends on the BOSH side: it sends
// </stream:stream> (RFC 6120 §4.4) after any write in progress, waiting
// for it at most tcpCloseTimeout, closes the connection and waits a little
// for the reader goroutine, which the closed connection stops.
func (s *tcpStream) Close(c bosh.Closing) {
	s.ended.Store(true)
	t := time.NewTimer(tcpCloseTimeout)
	defer t.Stop()
	if !s.halfClosed.Load() {
		s.writeEnd(t.C)
	}
	s.end()
	if len(c.Undelivered) > 0 {
		s.up.log.Debug("xmppstream: payloads from the server never reached the client", "count", len(c.Undelivered), "domain", s.domain)
	}
	if s.inSink.Load() {
		return // possibly called from read itself, through a Sink call: it returns right after
	}
	t.Reset(tcpCloseTimeout)
	select {
	case <-s.done:
	case <-t.C:
		s.up.log.Warn("xmppstream: upstream reader did not stop", "domain", s.domain)
	}
}

// writeEnd writes </stream:stream> after any write in progress, unless
// that write is still stuck (on a server that stopped reading) when stop
// fires.
func (s *tcpStream) writeEnd(stop <-chan time.Time) {
	select {
	case s.writing <- struct{}{}:
		s.conn.SetWriteDeadline(time.Now().Add(tcpCloseTimeout))
		s.conn.Write([]byte("</stream:stream>"))
		<-s.writing
	case <-stop:
	}
}

// CloseSend is the first phase of a two-phase close (RFC 6120 §4.4), which
// bosh.Handler.Shutdown runs before it ends the sessions: it sends
// </stream:stream> and returns once the server has closed its side of the
// stream, or after tcpCloseTimeout, or when ctx ends. What the server
// sends meanwhile still goes to the client; its end of the stream does not
// end the session, which Shutdown then ends with system-shutdown (Close).
func (s *tcpStream) CloseSend(ctx context.Context) {
	if s.ended.Load() || s.halfClosed.Swap(true) {
		return
	}
	t := time.NewTimer(tcpCloseTimeout)
	defer t.Stop()
	s.writeEnd(t.C)
	select {
	case <-s.done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// end closes the connection, once. A parked reader is unparked first,
// before its descriptor can be another connection's, and then stops here:
// the session is ending on the BOSH side (Close or a failed Send), so
// there is nothing to tell the sink.
func (s *tcpStream) end() {
	s.closed.Do(func() {
		s.parkMu.Lock()
		k := s.parked
		s.parked, s.closing = nil, true
		s.parkMu.Unlock()
		stopped := k != nil && k.Unpark()
		s.conn.Close()
		s.up.counts.streams.Add(-1)
		if stopped {
			s.ended.Store(true)
			s.stopped()
		}
	})
}

// tcpWakeRead bounds the first read of a reader that the Poller woke:
// bytes that are only a TLS record for crypto/tls itself (a session
// ticket, a key update; RFC 8446 §4.6) wake it without anything for the
// client, and it parks again after this long.
const tcpWakeRead = time.Second

// read is the stream's reader: it relays what the server sends until the
// stream or the connection ends, then ends the session unless the session
// ended first. It returns early when it parks; wake runs it again.
// Open starts it; from then on, until stopped, the stream counts in
// TCPUpstream's readers whether the reader runs or is parked.
func (s *tcpStream) read() { s.readFrom(false) }

// readFrom is read; woken says the Poller saw bytes (or a hangup) for it.
func (s *tcpStream) readFrom(woken bool) {
	for {
		if s.rd.idle() && s.park(woken) {
			return
		}
		woken = false
		err := s.relay()
		if err == nil {
			continue
		}
		defer s.stopped()
		defer s.end()
		if s.halfClosed.Load() || s.ended.Swap(true) {
			return // Close, a Send error or CloseSend came first
		}
		s.up.log.Debug("xmppstream: upstream stream ended", "domain", s.domain, "err", err)
		s.call(func() {
			var se *streamErrorReceived
			if errors.As(err, &se) {
				s.up.counts.streamErrors.add(streamErrorCondition(se.raw))
				s.sink.SetAttrs(streamPrefix) // on the terminate body too
			}
			s.sink.End(endError(err))
		})
		return
	}
}

// stopped is the end of the reader, running or parked: once.
func (s *tcpStream) stopped() {
	s.dropBuffers()
	close(s.done)
	s.up.readers.Done()
}

// park parks the idle reader unless bytes are there to read: those that
// crypto/tls has already taken from the kernel, or, when woken, those
// that arrive within tcpWakeRead. It reports whether the reader parked;
// if not, the bytes (or the read's error) wait in s.rd for relay.
//
// A read whose deadline has passed returns what a tls.Conn buffered, or
// a timeout without reading from the kernel; crypto/tls keeps no timeout
// as the connection's error (a net.Error that is Temporary), and a
// partial record stays buffered for the read after the wake, which the
// record's remaining bytes cause.
func (s *tcpStream) park(woken bool) bool {
	p := s.up.parker()
	if p == nil {
		return false
	}
	deadline := time.Unix(1, 0)
	if woken {
		deadline = time.Now().Add(tcpWakeRead)
	}
	s.conn.SetReadDeadline(deadline)
	err := s.rd.fill()
	s.conn.SetReadDeadline(time.Time{})
	switch {
	case err == nil:
		return false
	case !errors.Is(err, os.ErrDeadlineExceeded):
		s.rd.err = err
		return false
	}
	// Nothing for the client: drop the buffers, wait in the Poller.
	s.dropBuffers()
	s.parkMu.Lock()
	defer s.parkMu.Unlock()
	if s.closing {
		return false // the next read fails at once
	}
	k, err := p.Watch(s.conn, s.wake)
	if err != nil {
		return false // no descriptor (a custom Dial): read as before
	}
	s.parked = k
	return true
}

// wake is the parked reader's netpark.Poller callback: bytes or a hangup
// arrived. It must not block, so the reader goes on in a goroutine.
func (s *tcpStream) wake() {
	go func() {
		s.parkMu.Lock()
		s.parked = nil
		s.parkMu.Unlock()
		s.readFrom(true)
	}()
}

// dropBuffers gives the read buffer and the parser scratch back to their
// pools; the next read takes them again.
func (s *tcpStream) dropBuffers() {
	s.rd.release()
	if s.doc != nil {
		xmlscan.PutDoc(s.doc)
		s.doc = nil
	}
}

// scratch returns the parser's Doc, taken from xmlscan's pool when the
// reader has none.
func (s *tcpStream) scratch() *xmlscan.Doc {
	if s.doc == nil {
		s.doc = xmlscan.GetDoc()
	}
	return s.doc
}

// errStreamEnd is how relay reports the server's </stream:stream>.
var errStreamEnd = errors.New("xmppstream: the server closed the stream")

// relay reads the next item and passes it on, together with every item
// after it that the bytes already read complete: what the server sent in
// one burst (a result and a roster push, two disco answers) reaches the
// client in one response body, as from Prosody's own BOSH and from
// Server, instead of one stanza per response with the rest waiting for the
// client's next request.
func (s *tcpStream) relay() error {
	ev, err := s.rd.next()
	var batch [][]byte
	usesStream := false
	defer func() {
		if len(batch) > 0 {
			s.call(func() {
				if usesStream {
					s.sink.SetAttrs(streamPrefix)
				}
				s.sink.Deliver(batch...)
			})
		}
	}()
	for ok := true; ok; ev, ok, err = s.rd.nextBuffered() {
		if err != nil {
			return err
		}
		el, keep, err := s.item(ev)
		if err != nil {
			return err // after the batch so far, delivered by the deferred call
		}
		if keep {
			batch = append(batch, el.raw)
			usesStream = usesStream || el.usesStream
		}
	}
	return err
}

// item checks one item from the server: a new stream header (a restart's
// answer, XEP-0206 §5; its features follow), the end of the stream, a
// stream error, or an element for the client (keep).
func (s *tcpStream) item(ev event) (el checked, keep bool, err error) {
	switch ev.kind {
	case evHeader:
		s.hdr, err = parseHeader(ev.raw, s.rd.qname, s.scratch())
		return checked{}, false, err
	case evEnd:
		return checked{}, false, errStreamEnd
	}
	if el, err = s.hdr.element(ev, s.scratch()); err != nil {
		return checked{}, false, err
	}
	switch {
	case el.space == nsStream && el.local == "error":
		return checked{}, false, &streamErrorReceived{raw: el.raw}
	case el.space == nsStream && el.local == "features":
		el.raw, _ = stripFeatures(el.raw, s.scratch())
		features := el.raw
		s.features.Store(&features)
	case el.space == nsSASL && el.local == "success":
		s.authed.Store(true)
		s.sasl.Store(true)
	}
	return el, true, nil
}

// call runs a Sink call, marked so that a Close it causes does not wait
// for read.
func (s *tcpStream) call(f func()) {
	s.inSink.Store(true)
	defer s.inSink.Store(false)
	f()
}

// streamErrorReceived is the server's <stream:error/> (RFC 6120 §4.9).
type streamErrorReceived struct{ raw []byte }

func (e *streamErrorReceived) Error() string { return "xmppstream: stream error from the server" }

// endError returns what the client sees when read stops (XEP-0124 §17.2,
// XEP-0206 §6).
func endError(err error) error {
	var se *streamErrorReceived
	switch {
	case errors.As(err, &se):
		return &bosh.Error{Condition: bosh.RemoteStreamError, Children: [][]byte{se.raw}, Err: err}
	case errors.Is(err, errStreamEnd):
		return nil
	case errors.Is(err, errStanzaLimit):
		return &bosh.Error{Condition: bosh.PolicyViolation, Err: err}
	}
	return &bosh.Error{Condition: bosh.RemoteConnectionFailed, Err: err}
}
