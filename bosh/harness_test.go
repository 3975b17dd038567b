package bosh

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/xmlscan"
)

// This file is the shared harness of the package's tests: a recording fake
// upstream, a client that posts bodies to a Handler through
// httptest.NewRecorder, and a parser for response bodies. Timing tests run
// inside testing/synctest bubbles, where time.Sleep advances a fake clock
// and synctest.Wait returns once every goroutine is blocked.

// fakeUp is an Upstream that records what it is given.
type fakeUp struct {
	mu      sync.Mutex
	opens   []*OpenRequest
	streams []*fakeStream
	// openErr, when set, is returned by Open.
	openErr error
	// onOpen, when set, runs inside Open (for example to deliver stream
	// features for the creation response).
	onOpen func(req *OpenRequest, sink Sink)
	// echo makes every stream deliver each payload back to the client.
	echo bool
	// gate, when set, makes Send wait until it receives from gate (or the
	// gate is closed), so that a test can act while a request is being
	// forwarded.
	gate chan struct{}
}

type fakeStream struct {
	up   *fakeUp
	sink Sink
	req  *OpenRequest

	mu      sync.Mutex
	reqs    []*Request // every Send, in order
	closed  []Closing  // every Close
	sendErr error
}

func (u *fakeUp) Open(ctx context.Context, req *OpenRequest, sink Sink) (Stream, error) {
	u.mu.Lock()
	u.opens = append(u.opens, req)
	err, onOpen := u.openErr, u.onOpen
	u.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if onOpen != nil {
		onOpen(req, sink)
	}
	st := &fakeStream{up: u, sink: sink, req: req}
	u.mu.Lock()
	u.streams = append(u.streams, st)
	u.mu.Unlock()
	return st, nil
}

func (s *fakeStream) Send(ctx context.Context, req *Request) error {
	if s.up.gate != nil {
		<-s.up.gate
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	err := s.sendErr
	s.mu.Unlock()
	if err == nil && s.up.echo && !req.Terminate && len(req.Payloads) > 0 {
		s.sink.Deliver(req.Payloads...)
	}
	return err
}

func (s *fakeStream) Close(c Closing) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = append(s.closed, c)
}

// stream returns the i-th stream opened.
func (u *fakeUp) stream(t *testing.T, i int) *fakeStream {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	require.Greater(t, len(u.streams), i, "stream %d was not opened", i)
	return u.streams[i]
}

// newest returns the stream opened last.
func (u *fakeUp) newest(t *testing.T) *fakeStream {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	require.NotEmpty(t, u.streams, "no stream was opened")
	return u.streams[len(u.streams)-1]
}

// payloads returns every payload the stream received, in order.
func (s *fakeStream) payloads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		for _, p := range r.Payloads {
			out = append(out, string(p))
		}
	}
	return out
}

// requests returns every request the stream received.
func (s *fakeStream) requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.reqs...)
}

// closings returns every Close call.
func (s *fakeStream) closings() []Closing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Closing(nil), s.closed...)
}

// tester drives a Handler.
type tester struct {
	t  *testing.T
	h  *Handler
	up *fakeUp
}

// newTester returns a handler over a fakeUp with cfg.
func newTester(t *testing.T, cfg Config) *tester {
	t.Helper()
	up := &fakeUp{}
	h, err := NewHandler(up, cfg)
	require.NoError(t, err)
	x := &tester{t: t, h: h, up: up}
	// Release held requests, so that a synctest bubble can end.
	t.Cleanup(func() { x.h.Shutdown(context.Background()) })
	return x
}

// call is one request in flight.
type call struct {
	t    *testing.T
	rec  *httptest.ResponseRecorder
	done chan struct{}
	at   time.Time // when ServeHTTP returned
}

// Done reports whether the handler has answered.
func (c *call) Done() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait returns the response once the handler has answered. Outside a
// synctest bubble it gives up after 10 s of real time, failing the test,
// so that a bug shows as a failure rather than a hang.
func (c *call) wait() *resp {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Fatal("request was not answered")
	}
	return parseResp(c.t, c.rec)
}

// post sends a request with the given body and headers (pairs of name,
// value) without waiting for the answer.
func (x *tester) post(body string, headers ...string) *call {
	return x.do(httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(body)), headers...)
}

// do serves r in its own goroutine.
func (x *tester) do(r *http.Request, headers ...string) *call {
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	c := &call{t: x.t, rec: httptest.NewRecorder(), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		x.h.ServeHTTP(c.rec, r)
		c.at = time.Now()
	}()
	return c
}

// send posts a request and waits for its answer.
func (x *tester) send(body string, headers ...string) *resp {
	x.t.Helper()
	return x.post(body, headers...).wait()
}

// create opens a session with the creation attributes given (appended to
// rid, to, wait='60', hold='1', ver='1.11'; a later attribute of the same
// name replaces an earlier one) and returns it.
func (x *tester) create(rid uint64, extra string) *sess {
	x.t.Helper()
	r := x.send(createBody(rid, extra))
	require.Equal(x.t, http.StatusOK, r.Status, r.Raw)
	require.NotEmpty(x.t, r.Attr("sid"), "no session: %s", r.Raw)
	return &sess{x: x, sid: r.Attr("sid"), rid: rid, created: r}
}

// createBody is a session creation request.
func createBody(rid uint64, extra string) string {
	attrs := map[string]string{"rid": strconv.FormatUint(rid, 10), "to": "example.com", "wait": "60", "hold": "1", "ver": "1.11"}
	order := []string{"rid", "to", "wait", "hold", "ver"}
	for _, kv := range splitAttrs(extra) {
		if _, ok := attrs[kv[0]]; !ok {
			order = append(order, kv[0])
		}
		attrs[kv[0]] = kv[1]
	}
	var b strings.Builder
	b.WriteString("<body")
	for _, k := range order {
		if v := attrs[k]; v != "\x00" {
			b.WriteString(" " + k + "='" + v + "'")
		}
	}
	b.WriteString(" xmlns='" + NS + "'/>")
	return b.String()
}

// splitAttrs splits "a='1' b='2'" into pairs; "-a" removes a.
func splitAttrs(s string) [][2]string {
	var out [][2]string
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "-") {
			out = append(out, [2]string{f[1:], "\x00"})
			continue
		}
		k, v, _ := strings.Cut(f, "=")
		out = append(out, [2]string{k, strings.Trim(v, `'"`)})
	}
	return out
}

// sess is a session under test.
type sess struct {
	x       *tester
	sid     string
	rid     uint64 // the creation rid: request n has rid+n
	created *resp
}

// body returns request n of the session with extra attributes and payload.
func (s *sess) body(n uint64, extra, payload string) string {
	b := "<body rid='" + strconv.FormatUint(s.rid+n, 10) + "' sid='" + s.sid + "' xmlns='" + NS + "'"
	if extra != "" {
		b += " " + extra
	}
	if payload == "" {
		return b + "/>"
	}
	return b + ">" + payload + "</body>"
}

// post sends request n without waiting.
func (s *sess) post(n uint64, extra, payload string) *call {
	return s.x.post(s.body(n, extra, payload))
}

// send sends request n and waits for its answer.
func (s *sess) send(n uint64, extra, payload string) *resp {
	s.x.t.Helper()
	return s.post(n, extra, payload).wait()
}

// resp is a parsed response.
type resp struct {
	Status   int
	Header   http.Header
	Raw      string            // the body as received (decompressed)
	Attrs    map[string]string // attributes of <body/>, by local name; prefixed ones as "prefix:local" and by "{ns}local"
	Children []string          // the child elements, as raw XML
}

func (r *resp) Attr(name string) string { return r.Attrs[name] }

// Type and Condition of the body.
func (r *resp) Type() string      { return r.Attrs["type"] }
func (r *resp) Condition() string { return r.Attrs["condition"] }

// IsEmpty reports an empty body without type .
func (r *resp) IsEmpty() bool { return r.Status == 200 && len(r.Children) == 0 && r.Type() == "" }

// IsTerm reports a terminal binding condition: HTTP 200 with a
// terminate body carrying cond.
func (r *resp) IsTerm(cond string) bool {
	return r.Status == 200 && r.Type() == "terminate" && r.Condition() == cond
}

// parseResp checks that a response is one well-formed <body/> in the BOSH
// namespace (§6) with a Content-Length, and parses it.
func parseResp(t *testing.T, rec *httptest.ResponseRecorder) *resp {
	t.Helper()
	return parseHTTPResp(t, rec.Result())
}

// parseHTTPResp is parseResp for a response read from a connection.
func parseHTTPResp(t *testing.T, res *http.Response) *resp {
	t.Helper()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	r := &resp{Status: res.StatusCode, Header: res.Header, Attrs: map[string]string{}}
	if res.StatusCode == http.StatusNoContent {
		return r
	}
	if res.StatusCode == http.StatusServiceUnavailable {
		// Overload (OverloadError): no <body/>, a line of text.
		require.Equal(t, "text/plain; charset=utf-8", res.Header.Get("Content-Type"))
		r.Raw = string(raw)
		return r
	}
	require.NotEmpty(t, res.Header.Get("Content-Length"), "§5: every response has a Content-Length")
	require.Equal(t, strconv.Itoa(len(raw)), res.Header.Get("Content-Length"))
	raw = decompressForTest(t, res.Header.Get("Content-Encoding"), raw)
	r.Raw = string(raw)
	parseBodyInto(t, raw, r)
	return r
}

// parseBodyInto parses a response <body/> with encoding/xml.
func parseBodyInto(t *testing.T, raw []byte, r *resp) {
	t.Helper()
	// xmlscan also rejects what encoding/xml lets through: duplicate
	// attributes, undeclared prefixes (§6).
	var doc xmlscan.Doc
	require.NoError(t, xmlscan.Parse(raw, xmlscan.Limits{MaxDepth: 1024, MaxAttrs: 1024, NoRootText: true}, &doc), "response: %s", raw)
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	depth, start := 0, int64(0)
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "response is not well-formed: %s", raw)
		switch tk := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				require.Equal(t, xml.Name{Space: NS, Local: "body"}, tk.Name, "§6: root is {httpbind}body")
				for _, a := range tk.Attr {
					r.Attrs[a.Name.Local] = a.Value
					if a.Name.Space != "" {
						r.Attrs["{"+a.Name.Space+"}"+a.Name.Local] = a.Value
					}
				}
			}
			if depth == 2 {
				start = off
			}
		case xml.EndElement:
			if depth == 2 {
				r.Children = append(r.Children, string(raw[start:d.InputOffset()]))
			}
			depth--
		case xml.CharData:
			if depth == 1 {
				require.Empty(t, strings.TrimSpace(string(tk)), "§6: no character data in <body/>")
			}
		default:
			t.Fatalf("§6: response holds %T: %s", tok, raw)
		}
	}
}

func decompressForTest(t *testing.T, enc string, raw []byte) []byte {
	t.Helper()
	if enc == "" {
		return raw
	}
	var zr io.Reader
	var err error
	switch enc {
	case "gzip":
		zr, err = gzipReader(raw)
	case "deflate":
		zr, err = zlibReader(raw)
	default:
		t.Fatalf("unexpected Content-Encoding %q", enc)
	}
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}
