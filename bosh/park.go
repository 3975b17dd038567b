package bosh

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/httpbind/httpbind/internal/gostack"
	"github.com/httpbind/httpbind/internal/h2serve"
	"github.com/httpbind/httpbind/internal/httprec"
	"github.com/httpbind/httpbind/internal/netpark"
	"github.com/httpbind/httpbind/session"
)

// parkWriteTimeout bounds writing a response on a connection Serve
// holds (a parked request's reply, a kept connection's), when the
// http.Server has no WriteTimeout.
const parkWriteTimeout = 10 * time.Second

// A parked is a held request (§8) taken off its connection by Serve: no
// goroutine waits for it. Its session calls ready when the reply is
// there; the client going away first calls hangup. One of the two
// answers it.
type parked struct {
	h      *Handler
	s      *bsession
	p      session.Pending
	wire   parkedWire
	hdr    http.Header // set before the request was parked (CORS); nil when empty
	accept string      // the request's Accept-Encoding
}

// A parkedWire is where a parked request's reply goes: its HTTP/1.1
// connection or its HTTP/2 stream.
type parkedWire interface {
	// claim takes the request for its reply; false when hangup took it.
	claim() bool
	// send writes the reply that rec recorded.
	send(rec *httprec.Recorder)
}

// park takes a held request off its connection (HTTP/1.1) or its stream
// (HTTP/2), when it was served by Serve and may be parked (not a
// retransmission waiting for another request's reply), and reports
// whether it did. The request then counts as held (and parked) until its
// reply is there, and as in flight until that is written.
func (h *Handler) park(w http.ResponseWriter, r *http.Request, s *bsession, p session.Pending) bool {
	cc, ok := r.Context().Value(parkKey{}).(*connContext)
	if !ok || !p.CanPark() {
		return false
	}
	l := cc.l
	k := &parked{h: h, s: s, p: p, accept: r.Header.Get("Accept-Encoding")}
	if hdr := w.Header(); len(hdr) > 0 {
		k.hdr = hdr
	}
	switch {
	case r.ProtoMajor == 2:
		h.stats.parked.Add(1) // before hangup may run
		st := h2serve.Detach(w, k.hangup)
		if st == nil {
			h.stats.parked.Add(-1)
			return false
		}
		k.wire = h2Wire{st}
		if !p.Park(k.ready) {
			k.ready() // answered meanwhile
		}
		return true
	case r.ProtoMajor == 1 && r.ProtoMinor == 1 && !r.Close:
		return k.parkConn(l, w, r)
	}
	return false
}

// parkConn takes a held HTTP/1.1 request off its connection (not when the
// connection cannot be hijacked).
func (k *parked) parkConn(l *parkListener, w http.ResponseWriter, r *http.Request) bool {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false // a wrapper that cannot hijack
	}
	k.h.stats.parked.Add(1)
	hw := &h1Wire{kc: keptFor(l, r, conn)}
	k.wire = hw
	if brw.Reader.Buffered() > 0 {
		// The client sent more (pipelining) before the reply: answer on
		// this goroutine and close, so that nothing read is lost.
		go k.answerAndClose(l, conn)
		return true
	}
	if hw.watch, err = l.poller.Park(conn, func() { conn.Close(); k.hangup() }); err != nil {
		go k.answerAndClose(l, conn)
		return true
	}
	if !k.p.Park(k.ready) {
		k.ready() // answered meanwhile
	}
	return true
}

// ready is called by the session, locked, when the reply is there.
func (k *parked) ready() { go k.answer() }

// answer writes the reply, unless the client went away first.
func (k *parked) answer() {
	gostack.Grow() // a new goroutine: the reply is encoded and written deep
	if !k.wire.claim() {
		return // hangup answered it
	}
	k.unhold()
	defer k.h.stats.inflight.Add(-1)
	rec := httprec.New(k.hdr)
	k.h.reply(rec, k.accept, &k.s.info, k.p.Reply())
	k.wire.send(rec)
}

// answerAndClose answers a request that could not be parked from a
// goroutine of its own, then closes its connection.
func (k *parked) answerAndClose(l *parkListener, conn net.Conn) {
	defer k.h.stats.inflight.Add(-1)
	defer conn.Close()
	reply := k.p.Wait(context.Background()) // the request's context ended with its handler
	k.unhold()
	if reply == nil {
		return
	}
	if k.hdr == nil {
		k.hdr = http.Header{}
	}
	k.hdr.Set("Connection", "close")
	rec := httprec.New(k.hdr)
	k.h.reply(rec, k.accept, &k.s.info, reply)
	l.write(conn, rec, false)
}

// hangup is called when the client went away (its connection is closed,
// its stream reset).
func (k *parked) hangup() {
	k.p.Abandon()
	k.unhold()
	k.h.stats.inflight.Add(-1)
}

// unhold ends what park counted as held and parked.
func (k *parked) unhold() {
	k.h.stats.held.Add(-1)
	k.h.stats.parked.Add(-1)
}

// An h1Wire is a parked request's HTTP/1.1 connection, watched by the
// Poller meanwhile and kept for the next request after the reply
// (keepalive.go).
type h1Wire struct {
	kc    *keptConn
	watch *netpark.Parked
}

func (w *h1Wire) claim() bool { return w.watch.Unpark() }

func (w *h1Wire) send(rec *httprec.Recorder) {
	if w.kc.l.write(w.kc.c, rec, false) != nil {
		w.kc.c.Close()
		return
	}
	w.kc.next()
}

// write writes the HTTP/1.1 response rec recorded to conn (http1), within
// the server's WriteTimeout (parkWriteTimeout without one); head: the
// response to a HEAD request.
func (l *parkListener) write(conn net.Conn, rec *httprec.Recorder, head bool) error {
	return l.send(conn, http1(rec, head))
}

// send writes b to conn within the server's WriteTimeout
// (parkWriteTimeout without one).
func (l *parkListener) send(conn net.Conn, b []byte) error {
	conn.SetWriteDeadline(time.Now().Add(l.writeTimeout()))
	_, err := conn.Write(b)
	return err
}

// An h2Wire is a parked request's HTTP/2 stream, detached from its
// handler (internal/h2serve).
type h2Wire struct{ st *h2serve.Stream }

func (w h2Wire) claim() bool { return w.st.Claim() }

// send sends the reply as Handler.write recorded it, Content-Length
// included.
func (w h2Wire) send(rec *httprec.Recorder) {
	w.st.Respond(rec.Code(), rec.Header(), rec.Body.Bytes())
}

// http1 formats rec as an HTTP/1.1 response (RFC 9112 §4, §6), with Date,
// Content-Length and, for a body without one, a sniffed Content-Type, for
// one write to the connection. A response to HEAD has no body; a 1xx,
// 204 or 304 response neither body nor Content-Length (RFC 9110 §8.6,
// §15.3.5, §15.4.5). The body goes out whole: its Content-Length is its
// length, whatever the handler set (but for HEAD), and there is no
// Transfer-Encoding, lest the client read the response otherwise than
// it is sent.
func http1(rec *httprec.Recorder, head bool) []byte {
	status, hdr := rec.Code(), rec.Header()
	bodyless := status < 200 || status == http.StatusNoContent || status == http.StatusNotModified
	if hdr.Get("Date") == "" {
		hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	hdr.Del("Transfer-Encoding")
	switch {
	case bodyless:
		hdr.Del("Content-Length")
	case !head || hdr.Get("Content-Length") == "":
		hdr.Set("Content-Length", strconv.Itoa(rec.Body.Len()))
	}
	if _, ok := hdr["Content-Type"]; !ok && rec.Body.Len() > 0 && !bodyless {
		hdr.Set("Content-Type", http.DetectContentType(rec.Body.Bytes()))
	}
	var out bytes.Buffer
	out.Grow(256 + rec.Body.Len())
	out.WriteString("HTTP/1.1 ")
	out.WriteString(strconv.Itoa(status))
	out.WriteByte(' ')
	out.WriteString(http.StatusText(status))
	out.WriteString("\r\n")
	hdr.Write(&out)
	out.WriteString("\r\n")
	if !head && !bodyless {
		out.Write(rec.Body.Bytes())
	}
	return out.Bytes()
}
