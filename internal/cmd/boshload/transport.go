package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/httpbind/httpbind/bosh/cluster"
	"github.com/httpbind/httpbind/internal/faulttest"
)

// maxResponse is the largest response body read.
const maxResponse = 1 << 20

// transport posts request bodies to the BOSH URL over a tuned
// http.Transport. It is safe for concurrent use.
type transport struct {
	url string
	hc  *http.Client
	tr  *http.Transport
	// With -cut: cutter cuts some of the requests sent through cc and
	// sends the others through tr.
	cutter *faulttest.Cutter
	cc     *http.Client
}

// dialFunc dials a TCP connection, like net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dialer returns a dialer bound to source address 127.0.0.(i+1) when
// -sources is above 1, to the system's choice otherwise.
func dialer(o *options, i int) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1, Control: control}
	if o.sources > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i%o.sources+1))}
	}
	return d
}

// sharedDial dials from the source addresses 127.0.0.1 .. 127.0.0.sources
// in turn, for the transport all sessions share over HTTP/1.1.
func sharedDial(o *options) dialFunc {
	if o.sources == 1 {
		return dialer(o, 0).DialContext
	}
	dialers := make([]*net.Dialer, o.sources)
	for i := range dialers {
		dialers[i] = dialer(o, i)
	}
	var next atomic.Uint64
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialers[next.Add(1)%uint64(len(dialers))].DialContext(ctx, network, addr)
	}
}

// newTransport returns a transport that dials with dial and speaks the
// protocol of the options: HTTP/1.1 (over TLS for an https URL), HTTP/2
// over TLS with -h2, or HTTP/2 with prior knowledge with -h2c. Over
// HTTP/1.1, idle connections are kept for every session (two each: the
// held request and the one that sends); over HTTP/2 a transport holds one
// connection, whose streams carry every request. Responses are not
// compressed, and a response must start within wait plus a grace.
func newTransport(o *options, dial dialFunc) *transport {
	var p http.Protocols
	switch {
	case o.h2c:
		p.SetUnencryptedHTTP2(true)
	case o.h2:
		p.SetHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	tr := &http.Transport{
		DialContext:           dial,
		Protocols:             &p,
		TLSClientConfig:       &tls.Config{RootCAs: o.roots, InsecureSkipVerify: o.insecure},
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          2*o.sessions + 64,
		MaxIdleConnsPerHost:   2*o.sessions + 64,
		IdleConnTimeout:       2 * time.Minute,
		DisableCompression:    true,
		ResponseHeaderTimeout: o.wait + 15*time.Second,
		WriteBufferSize:       2048,
		ReadBufferSize:        4096,
	}
	if o.perSession() {
		// Over HTTP/2 this bounds the dials under way, so that sessions
		// that share the transport start at once on one connection
		// instead of racing to dial one each.
		tr.MaxConnsPerHost = 1
	}
	return &transport{url: o.url, tr: tr, hc: &http.Client{Transport: tr}}
}

// withCuts makes the requests that post sends with cut set go through a
// faulttest.Cutter: for the fraction rate of them it writes the request on
// a connection of its own, waits until the server's TCP stack has
// acknowledged every byte, and closes the connection without reading at a
// random moment up to 10 ms later (the same request at most five times in
// a row); the others go through the transport as usual.
func (t *transport) withCuts(rate float64, seed uint64) {
	t.cutter = faulttest.NewCutter(faulttest.CutConfig{Cut: rate, Seed: seed}, t.tr)
	t.cc = &http.Client{Transport: t.cutter}
}

// close closes the idle connections, and those being cut.
func (t *transport) close() {
	t.tr.CloseIdleConnections()
	if t.cutter != nil {
		t.cutter.Close()
	}
}

// netError is an error of the HTTP exchange itself (the connection failed
// or was cut, or the response was cut short): the server may or may not
// have received the request, and the client may send it again
// (XEP-0124 §14.3).
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// httpError is a response with an HTTP status other than 200 OK.
type httpError struct {
	status int
	// retryAfter is the delay of a Retry-After header (RFC 9110 §10.2.3),
	// 0 without one.
	retryAfter time.Duration
}

func (e *httpError) Error() string { return "HTTP " + strconv.Itoa(e.status) }

// parseRetryAfter reads a Retry-After header, delay-seconds or an
// HTTP-date (RFC 9110 §10.2.3), relative to now; 0 when it is absent,
// unreadable or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 1<<20)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// bufPool holds request and response buffers.
var bufPool = sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, 1024)} }}

// buffer is a pooled byte slice. A response's buffer also says whether a
// cluster node forwarded the request to its session's owner and relayed
// the response (the cluster.HopHeader on it).
type buffer struct {
	b   []byte
	fwd bool
}

func getBuf() *buffer { b := bufPool.Get().(*buffer); b.b, b.fwd = b.b[:0], false; return b }

func putBuf(b *buffer) {
	if b != nil && cap(b.b) <= 64<<10 {
		bufPool.Put(b)
	}
}

// post sends body once and returns the response body in a pooled
// buffer, which the caller puts back with putBuf. With cut set and -cut,
// the request may be cut (a *netError wrapping faulttest.ErrCut). Errors
// of the exchange itself are *netError; a status other than 200 is an
// *httpError.
func (t *transport) post(ctx context.Context, body []byte, cut bool) (*buffer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	hc := t.hc
	if cut && t.cc != nil {
		hc = t.cc
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return nil, &httpError{status: resp.StatusCode, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	buf := getBuf()
	buf.fwd = resp.Header.Get(cluster.HopHeader) != ""
	if n := resp.ContentLength; n > maxResponse {
		putBuf(buf)
		return nil, fmt.Errorf("response of %d bytes", n)
	} else if n >= 0 {
		buf.b = grow(buf.b, int(n))
		_, err = io.ReadFull(resp.Body, buf.b)
	} else {
		err = readAll(resp.Body, buf)
	}
	if err != nil {
		putBuf(buf)
		if errors.Is(err, errTooLarge) {
			return nil, err
		}
		return nil, &netError{err}
	}
	return buf, nil
}

// errTooLarge is a response over maxResponse bytes.
var errTooLarge = errors.New("response too large")

// grow returns b resized to n bytes, reusing its array when it is big enough.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]byte, n)
}

// readAll reads r to its end into buf, up to maxResponse bytes.
func readAll(r io.Reader, buf *buffer) error {
	for {
		if len(buf.b) == cap(buf.b) {
			if len(buf.b) >= maxResponse {
				return errTooLarge
			}
			buf.b = append(buf.b, 0)[:len(buf.b)]
		}
		n, err := r.Read(buf.b[len(buf.b):cap(buf.b)])
		buf.b = buf.b[:len(buf.b)+n]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// closeTransports closes the idle connections of every transport.
func (l *load) closeTransports() {
	l.t.close()
	for _, t := range l.h2 {
		t.close()
	}
}
