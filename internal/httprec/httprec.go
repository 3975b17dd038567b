// Package httprec holds an http.ResponseWriter that keeps the response in
// memory: for a handler's answer that does not go straight to a
// connection. bosh writes a parked request's answer into one and then to
// the connection (bosh.Serve); internal/boshclient's HandlerTransport
// turns one into the *http.Response of an in-process request. Nothing
// else: it is what net/http/httptest.ResponseRecorder is for tests.
package httprec

import (
	"bytes"
	"net/http"
)

// A Recorder is an http.ResponseWriter that keeps the status, the header
// and the body written to it.
type Recorder struct {
	Head   http.Header // the header; New makes it, a nil one is made on first use
	Status int         // the first status written; 0 until then
	Body   bytes.Buffer
}

// New returns a Recorder whose header is h, or a new one when h is nil.
func New(h http.Header) *Recorder {
	if h == nil {
		h = make(http.Header)
	}
	return &Recorder{Head: h}
}

// Header returns the header to be written.
func (r *Recorder) Header() http.Header {
	if r.Head == nil {
		r.Head = make(http.Header)
	}
	return r.Head
}

// WriteHeader keeps the first status written.
func (r *Recorder) WriteHeader(status int) {
	if r.Status == 0 {
		r.Status = status
	}
}

// Write appends to the body, with status 200 if none was written.
func (r *Recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.Body.Write(p)
}

// Code returns the status written, 200 if none was.
func (r *Recorder) Code() int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}
