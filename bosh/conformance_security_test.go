package bosh

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance tests for XEP-0124 §18 (pipelining) and §19 (security); and
// Handler.Stats.

// ridPipelineRead reads one HTTP response from br and parses its body.
func ridPipelineRead(t *testing.T, br *bufio.Reader, req *http.Request) *resp {
	t.Helper()
	res, err := http.ReadResponse(br, req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	for k, v := range res.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(res.StatusCode)
	rec.Write(raw)
	return parseResp(t, rec)
}

func TestPipelining(t *testing.T) {
	// XEP-0124 §18.1: pipelined requests on one connection are answered in
	// order and never deadlock: REQ 1 is held until its wait ends (REQ 2
	// is not read before), then REQ 2 is answered.
	x := newTester(t, Config{})
	x.up.echo = true
	srv := httptest.NewServer(x.h)
	defer srv.Close()
	r := x.send(createBody(1000, "wait='1'"))
	require.NotEmpty(t, r.Attr("sid"))
	s := &sess{x: x, sid: r.Attr("sid"), rid: 1000, created: r}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	post := func(body string) string {
		return fmt.Sprintf("POST /http-bind HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s",
			srv.Listener.Addr(), len(body), body)
	}
	start := time.Now()
	_, err = io.WriteString(conn, post(s.body(1, "", ""))+post(s.body(2, "", ridMsgA)))
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	get := &http.Request{Method: http.MethodPost}
	r1 := ridPipelineRead(t, br, get)
	r2 := ridPipelineRead(t, br, get)
	elapsed := time.Since(start)
	assert.Equal(t, http.StatusOK, r1.Status)
	assert.True(t, r1.IsEmpty(), "REQ 1 first: %s", r1.Raw)
	assert.Equal(t, []string{ridMsgA}, r2.Children, "then REQ 2: %s", r2.Raw)
	assert.Less(t, elapsed, 2*time.Second+500*time.Millisecond, "no hang beyond 2·wait")
}

// ridTLSRequest is a POST as if it came over TLS (§19.1).
func ridTLSRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://example.com/http-bind", strings.NewReader(body))
	r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	return r
}

func TestSecureSessionOverPlainConnection(t *testing.T) {
	// XEP-0124 §19.1: every request of a session created over TLS must be
	// encrypted; one that is not makes the CM close the connection without
	// a BOSH body and without terminating the session.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.echo = true
		c := x.do(ridTLSRequest(createBody(1000, "")))
		created := c.wait()
		sid := created.Attr("sid")
		require.NotEmpty(t, sid, created.Raw)
		assert.True(t, x.up.opens[0].Secure)
		s := &sess{x: x, sid: sid, rid: 1000, created: created}

		rec := httptest.NewRecorder()
		plain := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(s.body(1, "", ridMsgB)))
		require.PanicsWithValue(t, http.ErrAbortHandler, func() { x.h.ServeHTTP(rec, plain) },
			"§19.1: the connection is closed")
		assert.Empty(t, rec.Body.String(), "no BOSH body")
		assert.Empty(t, x.up.stream(t, 0).payloads(), "the request is not processed")
		assert.Equal(t, int64(1), x.h.Stats().Sessions, "the session is not terminated")
		// Nor by a plain request that is refused before the session sees it
		// (it is answered with bad-request or its connection is closed).
		func() {
			defer func() { _ = recover() }()
			plain = httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader("<body rid='abc' sid='"+sid+"' xmlns='"+NS+"'/>"))
			x.h.ServeHTTP(httptest.NewRecorder(), plain)
		}()
		assert.Equal(t, int64(1), x.h.Stats().Sessions, "the session is not terminated")

		r := x.do(ridTLSRequest(s.body(1, "", ridMsgA))).wait()
		assert.Equal(t, []string{ridMsgA}, r.Children, "the same rid over TLS works: %s", r.Raw)
		assert.Equal(t, []string{ridMsgA}, x.up.stream(t, 0).payloads())
	})
}

func TestPlainSessionAcceptsTLS(t *testing.T) {
	// XEP-0124 §19.1 only binds sessions created over TLS: a session
	// created in the clear may continue over TLS or not.
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.echo = true
		s := x.create(1000, "")
		assert.False(t, x.up.opens[0].Secure)
		r := x.do(ridTLSRequest(s.body(1, "", ridMsgA))).wait()
		assert.Equal(t, []string{ridMsgA}, r.Children)
		r = s.send(2, "", ridMsgB)
		assert.Equal(t, []string{ridMsgB}, r.Children)
	})
}

func TestPlainConnectionOverRealServer(t *testing.T) {
	// XEP-0124 §19.1 over a real HTTP server: the plain request of a secure
	// session sees its connection closed with no response.
	x := newTester(t, Config{})
	srv := httptest.NewServer(x.h)
	defer srv.Close()
	c := x.do(ridTLSRequest(createBody(1000, "")))
	sid := c.wait().Attr("sid")
	require.NotEmpty(t, sid)
	body := "<body rid='1001' sid='" + sid + "' xmlns='" + NS + "'/>"
	res, err := srv.Client().Post(srv.URL+"/http-bind", "text/xml; charset=utf-8", strings.NewReader(body))
	if res != nil {
		res.Body.Close()
	}
	require.Error(t, err, "the connection is closed without a response")
	assert.Equal(t, int64(1), x.h.Stats().Sessions)
}

func TestStatsCountsSessionsRequestsAndEnds(t *testing.T) {
	// Handler.Stats counts open sessions, requests, held requests and ended
	// sessions by reason: terminate (§13), inactivity (§10), condition
	// (§17.2).
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{Inactivity: 5 * time.Second})
		zero := x.h.Stats()
		assert.Zero(t, zero.Sessions+zero.Held)
		assert.Zero(t, zero.Requests+zero.Created+zero.BytesIn+zero.BytesOut)
		assert.Equal(t, map[string]int{"held": 0, "idle": 0, "paused": 0}, zero.States)
		assert.Empty(t, zero.Ended)

		a := x.create(1000, "")
		b := x.create(2000, "")
		x.create(3000, "") // left alone: it ends after 5 s of inactivity (§10)
		st := x.h.Stats()
		assert.Equal(t, int64(3), st.Sessions)
		assert.Equal(t, uint64(3), st.Created)
		assert.Equal(t, uint64(3), st.Creation.Count)
		assert.Equal(t, uint64(3), st.Requests)
		assert.Positive(t, st.BytesIn)
		assert.Positive(t, st.BytesOut)
		assert.Equal(t, map[string]int{"held": 0, "idle": 3, "paused": 0}, st.States)

		held := a.post(1, "", "")
		synctest.Wait()
		assert.Equal(t, int64(1), x.h.Stats().Held)
		assert.Equal(t, map[string]int{"held": 1, "idle": 2, "paused": 0}, x.h.Stats().States)
		a.send(2, "type='terminate'", "")
		assert.Equal(t, "terminate", held.wait().Type())
		assert.Equal(t, int64(0), x.h.Stats().Held)

		r := b.send(3, "", "") // above the window
		require.True(t, r.IsTerm("item-not-found"))

		time.Sleep(5 * time.Second)
		synctest.Wait()

		st = x.h.Stats()
		assert.Equal(t, int64(0), st.Sessions)
		assert.Equal(t, uint64(6), st.Requests)
		assert.Equal(t, map[string]uint64{"terminate": 1, "item-not-found": 1, "inactivity": 1}, st.Ended)
		// The snapshot is a copy.
		st.Ended["terminate"] = 99
		assert.Equal(t, uint64(1), x.h.Stats().Ended["terminate"])
	})
}
