package bosh

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/httpbind/httpbind/internal/xmlscan"
	"github.com/httpbind/httpbind/session"
)

const typicalRequest = `<body rid='1573741821' sid='Z3Ht6bA1Ks9RmcP0aBcDeFgHiJkLmNoP' ack='1573741820' xmlns='http://jabber.org/protocol/httpbind'><message to='juliet@example.com' type='chat' xmlns='jabber:client'><body>Wherefore art thou, Romeo?</body></message></body>`

func BenchmarkDecodeBody(b *testing.B) {
	data := []byte(typicalRequest)
	var doc xmlscan.Doc
	var bd body
	lim := xmlscan.Limits{MaxDepth: DefaultMaxDepth, MaxAttrs: DefaultMaxAttrs}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeBody(data, lim, &doc, &bd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeReplyThreeStanzas(b *testing.B) {
	st := []byte(`<message from='romeo@example.net/orchard' to='juliet@example.com/balcony' type='chat' xmlns='jabber:client'><body>Neither, fair saint, if either thee dislike.</body></message>`)
	r := &session.Reply{Ack: 1573741821, Payloads: [][]byte{st, st, st}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendBody(buf[:0], r)
	}
	b.SetBytes(int64(len(buf)))
}

// benchWriter is a reusable http.ResponseWriter.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// reusableBody is a request body reset for each iteration.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

// BenchmarkRoundTripQueuedPoll measures a full request → response through
// the Handler: the upstream has queued one stanza, the client's poll takes
// it at once.
func BenchmarkRoundTripQueuedPoll(b *testing.B) {
	up := &fakeUp{}
	h, err := NewHandler(up, Config{NoPolling: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(createBody(1000, "")))))
	created := string(rec.Body.Bytes())
	i := bytes.Index([]byte(created), []byte("sid='"))
	sid := created[i+5 : i+5+32]
	sink := up.streams[0].sink
	stanza := []byte(`<message from='romeo@example.net/orchard' to='juliet@example.com/balcony' type='chat' xmlns='jabber:client'><body>Neither, fair saint.</body></message>`)

	req := httptest.NewRequest(http.MethodPost, "/http-bind", nil)
	body := &reusableBody{}
	w := &benchWriter{h: make(http.Header)}
	buf := make([]byte, 0, 256)
	rid := uint64(1000)
	b.ReportAllocs()
	for b.Loop() {
		rid++
		buf = append(buf[:0], "<body rid='"...)
		buf = strconv.AppendUint(buf, rid, 10)
		buf = append(buf, "' sid='"+sid+"' xmlns='http://jabber.org/protocol/httpbind'/>"...)
		body.Reset(buf)
		req.Body, req.ContentLength = body, int64(len(buf))
		clear(w.h)
		sink.Deliver(stanza)
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK || w.n == 0 {
			b.Fatalf("status %d", w.code)
		}
	}
	_ = io.Discard
}
