package boshclient

import (
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptrace"
	"strconv"

	"github.com/httpbind/httpbind/internal/httprec"
)

// HandlerTransport is an http.RoundTripper that serves each request in
// process by calling Handler.ServeHTTP, with no network in between, so
// that the Client talks to a *bosh.Handler in the same process (as
// coder/websocket's tests run its client against its handler). The
// handler sees a server-side request with RemoteAddr, TLS and Header's
// fields added, and the client request's context: a held request ends
// when that context does.
type HandlerTransport struct {
	// Handler serves the requests. Required.
	Handler http.Handler
	// RemoteAddr is the requests' client address, "ip:port" or "ip".
	// Default "127.0.0.1".
	RemoteAddr string
	// TLS, when set, makes the requests arrive as if over TLS (XEP-0124
	// §19.1 then makes the session a secure one).
	TLS *tls.ConnectionState
	// Header holds header fields added to every request, such as the end
	// user's Forwarded and X-Forwarded-For.
	Header http.Header
}

// RoundTrip serves r with the Handler and returns what it wrote. It
// reports the request as written (httptrace.ClientTrace.WroteRequest)
// before the handler runs, and returns once the handler has returned. A
// handler that aborts (panics with http.ErrAbortHandler, as bosh.Handler
// does to close a connection, XEP-0124 §19.1) is an error, as a closed
// connection is.
func (t *HandlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	sr := r.Clone(r.Context())
	sr.RequestURI = r.URL.RequestURI()
	sr.Host = r.URL.Host
	sr.Proto, sr.ProtoMajor, sr.ProtoMinor = "HTTP/1.1", 1, 1
	sr.RemoteAddr, sr.TLS = t.RemoteAddr, t.TLS
	if sr.RemoteAddr == "" {
		sr.RemoteAddr = "127.0.0.1"
	}
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	maps.Copy(sr.Header, t.Header)
	if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && tr.WroteRequest != nil {
		tr.WroteRequest(httptrace.WroteRequestInfo{})
	}
	w := httprec.New(nil)
	if err := serve(t.Handler, w, sr); err != nil {
		return nil, err
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	status := w.Code()
	w.Head.Set("Content-Length", strconv.Itoa(w.Body.Len()))
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.Head,
		Body:          io.NopCloser(&w.Body),
		ContentLength: int64(w.Body.Len()),
		Request:       r,
	}, nil
}

// serve calls h, turning a panic with http.ErrAbortHandler into an error.
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			err = errors.New("boshclient: the BOSH endpoint closed the connection")
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}
