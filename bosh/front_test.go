package bosh

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

// TestPeekSID: the sid of a request, found through its compression (§7.2
// 'accept') and charset, and the body as it came.
func TestPeekSID(t *testing.T) {
	big := "<body rid='1' sid='a' xmlns='" + NS + "'>" + strings.Repeat("x", 2048) + "</body>"
	for _, tc := range []struct {
		name, body string
		headers    []string
		sid        string
		raw        bool // the body is returned
		err        Condition
	}{
		{"a creation request (§7.1)", createBody(1, ""), nil, "", true, ""},
		{"a session's request", "<body rid='2' sid='n2.abc' xmlns='" + NS + "'/>", nil, "n2.abc", true, ""},
		{"gzip (§7.2 accept)", gzipped("<body rid='2' sid='n1.x' xmlns='" + NS + "'/>"), []string{"Content-Encoding", "gzip"}, "n1.x", true, ""},
		{"not a body", "<foo/>", nil, "", true, BadRequest},
		{"too large", big, nil, "", false, PolicyViolation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, Config{MaxBodySize: 1024})
			r := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(tc.body))
			for i := 0; i+1 < len(tc.headers); i += 2 {
				r.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			sid, raw, err := x.h.PeekSID(r)
			assert.Equal(t, tc.sid, sid)
			assert.Equal(t, tc.err, ConditionOf(err))
			if tc.raw {
				assert.Equal(t, tc.body, string(raw), "the body as it came")
			} else {
				assert.Nil(t, raw)
			}
		})
	}
}

// TestSecureFromTrustedProxy: proto=https in the last Forwarded element
// makes a request secure only from a trusted proxy; a session created so is
// secure (§19.1), and its plain requests lose their connection.
func TestSecureFromTrustedProxy(t *testing.T) {
	req := func(proto string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/http-bind", nil) // from 192.0.2.1
		r.Header.Set("Forwarded", `for="198.51.100.7";proto=http, for="192.0.2.9:4000";proto=`+proto)
		return r
	}
	trusting := newTester(t, Config{TrustedProxies: []string{"192.0.2.0/24"}})
	assert.True(t, trusting.h.Secure(req("https")))
	assert.False(t, trusting.h.Secure(req("http")), "the last hop's proto")
	assert.False(t, newTester(t, Config{}).h.Secure(req("https")), "an untrusted peer")

	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{TrustedProxies: []string{"192.0.2.1"}})
		r := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(createBody(1000, "")))
		r.Header.Set("Forwarded", `for="198.51.100.7";proto=https`)
		created := x.do(r).wait()
		require.NotEmpty(t, created.Attr("sid"), created.Raw)
		assert.True(t, x.up.opens[0].Secure)
		assert.Equal(t, "198.51.100.7", x.up.opens[0].RemoteAddr)
		s := &sess{x: x, sid: created.Attr("sid"), rid: 1000, created: created}
		plain := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(s.body(1, "", "")))
		plain.Header.Set("Forwarded", `for="198.51.100.7";proto=http`)
		require.PanicsWithValue(t, http.ErrAbortHandler, func() { x.h.ServeHTTP(httptest.NewRecorder(), plain) })
		assert.Equal(t, int64(1), x.h.Stats().Sessions, "the session is not terminated")
	})
}

// TestDrain: readiness goes off, a creation gets HTTP 503 with
// Retry-After, a session goes on and Drain returns when it ends.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.echo = true
		s := x.create(1000, "")
		done := make(chan error, 1)
		go func() { done <- x.h.Drain(context.Background()) }()
		synctest.Wait()
		assert.ErrorIs(t, x.h.Ready(), ErrDraining)
		r := x.send(createBody(2000, ""))
		assert.Equal(t, http.StatusServiceUnavailable, r.Status)
		assert.Equal(t, "1", r.Header.Get("Retry-After"))
		echoed := s.send(1, "", "<message xmlns='jabber:client'/>")
		assert.Equal(t, []string{"<message xmlns='jabber:client'/>"}, echoed.Children, "the session goes on")
		select {
		case <-done:
			t.Fatal("Drain returned with a session open")
		default:
		}
		s.send(2, "type='terminate'", "")
		assert.NoError(t, <-done)
	})
}
