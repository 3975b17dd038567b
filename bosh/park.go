package bosh

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/httpbind/httpbind/internal/httprec"
	"github.com/httpbind/httpbind/internal/netpark"
	"github.com/httpbind/httpbind/session"
)

// parkWriteTimeout bounds writing a parked request's reply.
const parkWriteTimeout = 10 * time.Second

// A parked is a held request (§8) taken off its connection by Serve: no
// goroutine waits for it. Its session calls ready when the reply is
// there; the Poller calls hangup when the client goes away first. One of
// the two answers it.
type parked struct {
	h      *Handler
	l      *parkListener
	conn   net.Conn
	s      *bsession
	p      session.Pending
	watch  *netpark.Parked
	hdr    http.Header // set before the request was parked (CORS); nil when empty
	accept string      // the request's Accept-Encoding
}

// parkListener returns the listener of Serve that r came through, when
// its held request p may be parked: over HTTP/1.1 with keep-alive, and
// not a retransmission waiting for another request's reply; or nil.
func (h *Handler) parkListener(r *http.Request, p session.Pending) *parkListener {
	l, ok := r.Context().Value(parkKey{}).(*parkListener)
	if !ok || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Close || !p.CanPark() {
		return nil
	}
	return l
}

// park takes a held request off its connection and reports whether it
// did (not when the connection cannot be hijacked). The request then
// counts as held (and parked) until its reply is there, and as in flight
// until that is written.
func (h *Handler) park(l *parkListener, w http.ResponseWriter, r *http.Request, s *bsession, p session.Pending) bool {
	hdr := w.Header()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false // HTTP/2, or a wrapper that cannot hijack
	}
	h.stats.parked.Add(1)
	k := &parked{h: h, l: l, conn: conn, s: s, p: p, accept: r.Header.Get("Accept-Encoding")}
	if len(hdr) > 0 {
		k.hdr = hdr
	}
	if brw.Reader.Buffered() > 0 {
		// The client sent more (pipelining) before the reply: answer on
		// this goroutine and close, so that nothing read is lost.
		go k.answerAndClose()
		return true
	}
	if k.watch, err = l.poller.Park(conn, k.hangup); err != nil {
		go k.answerAndClose()
		return true
	}
	if !p.Park(k.ready) {
		k.ready() // answered meanwhile
	}
	return true
}

// ready is called by the session, locked, when the reply is there.
func (k *parked) ready() { go k.answer() }

// answer writes the reply and hands the connection back to the server
// for its next request, unless the client went away first.
func (k *parked) answer() {
	if !k.watch.Unpark() {
		return // hangup answered it
	}
	k.unhold()
	defer k.h.stats.inflight.Add(-1)
	if err := k.write(k.p.Reply()); err != nil {
		k.conn.Close()
		return
	}
	k.conn.SetDeadline(time.Time{})
	k.l.resume(k.conn)
}

// answerAndClose answers a request that could not be parked from a
// goroutine of its own, then closes the connection.
func (k *parked) answerAndClose() {
	defer k.h.stats.inflight.Add(-1)
	defer k.conn.Close()
	reply := k.p.Wait(context.Background()) // the request's context ended with its handler
	k.unhold()
	if reply == nil {
		return
	}
	if k.hdr == nil {
		k.hdr = http.Header{}
	}
	k.hdr.Set("Connection", "close")
	k.write(reply)
}

// hangup is called by the Poller when the client went away.
func (k *parked) hangup() {
	k.p.Abandon()
	k.conn.Close()
	k.unhold()
	k.h.stats.inflight.Add(-1)
}

// unhold ends what park counted as held and parked.
func (k *parked) unhold() {
	k.h.stats.held.Add(-1)
	k.h.stats.parked.Add(-1)
}

// write writes the HTTP/1.1 response carrying reply, as Handler.reply
// writes it through a ResponseWriter, within parkWriteTimeout.
func (k *parked) write(reply *session.Reply) error {
	rec := httprec.New(k.hdr)
	k.h.reply(rec, k.accept, &k.s.info, reply)
	k.conn.SetWriteDeadline(time.Now().Add(parkWriteTimeout))
	_, err := k.conn.Write(http1(rec))
	return err
}

// http1 formats rec as an HTTP/1.1 response (RFC 9112 §4, §6), with Date
// and Content-Length, for one write to the connection.
func http1(rec *httprec.Recorder) []byte {
	status, hdr := rec.Code(), rec.Header()
	if hdr.Get("Date") == "" {
		hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	if hdr.Get("Content-Length") == "" {
		hdr.Set("Content-Length", strconv.Itoa(rec.Body.Len()))
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
	out.Write(rec.Body.Bytes())
	return out.Bytes()
}
