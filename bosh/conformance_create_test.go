package bosh

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance tests for XEP-0124 §7.1 and §7.2, session creation, and the
// schema's ranges (§22), plus Config validation, routes and charsets.

// ccCreateWith returns a creation body with raw attribute text added (for
// values splitAttrs cannot carry, such as ones with spaces).
func ccCreateWith(rid uint64, extra, raw string) string {
	return strings.Replace(createBody(rid, extra), "<body ", "<body "+raw+" ", 1)
}

// ccSess wraps a creation response as a session.
func (x *tester) ccSess(t *testing.T, rid uint64, r *resp) *sess {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.NotEmpty(t, r.Attr("sid"), r.Raw)
	return &sess{x: x, sid: r.Attr("sid"), rid: rid, created: r}
}

// ccOpen returns the i-th OpenRequest the upstream got.
func (x *tester) ccOpenReq(t *testing.T, i int) *OpenRequest {
	t.Helper()
	x.up.mu.Lock()
	defer x.up.mu.Unlock()
	require.Greater(t, len(x.up.opens), i)
	return x.up.opens[i]
}

// TestCreationWithoutSID: a request without 'sid' creates a session
// (XEP-0124 §7.1) and the upstream is asked to open its stream with the
// request's values.
func TestCreationWithoutSID(t *testing.T) {
	x := newTester(t, Config{})
	r := x.send(createBody(1000, "xml:lang='de' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'"))
	require.Equal(t, http.StatusOK, r.Status)
	require.NotEmpty(t, r.Attr("sid"))
	o := x.ccOpenReq(t, 0)
	assert.Equal(t, "example.com", o.To)
	assert.Equal(t, "de", o.Lang)
	assert.Equal(t, r.Attr("sid"), o.SID)
	v, ok := o.Attr(NSXBOSH, "version")
	assert.True(t, ok)
	assert.Equal(t, "1.0", v)
	assert.Equal(t, int64(1), x.h.Stats().Sessions)
}

// TestUnknownSID: an unknown or ended sid gets HTTP 200 and
// item-not-found, with or without 'ver', since there is no session to say
// it is legacy (XEP-0124 §7.1, §17.2).
func TestUnknownSID(t *testing.T) {
	x := newTester(t, Config{})
	r := x.send("<body rid='1' sid='nosuchsid' xmlns='" + NS + "'/>")
	assert.True(t, r.IsTerm("item-not-found"), "%d %s", r.Status, r.Raw)
	assert.Equal(t, contentDefault, r.Header.Get("Content-Type"))
	s := x.create(1000, "-ver")
	r = s.send(1, "type='terminate'", "")
	assert.Equal(t, "terminate", r.Type())
	r = s.send(2, "", "")
	assert.True(t, r.IsTerm("item-not-found"), "an ended legacy session's sid is unknown too: %d %s", r.Status, r.Raw)
}

// TestNoTo: a creation request without 'to', or with an empty one, gets
// improper-addressing and opens nothing (XEP-0124 §7.1, §17.2).
func TestNoTo(t *testing.T) {
	for _, extra := range []string{"-to", "to=''"} {
		t.Run(""+extra+" (§7.1)", func(t *testing.T) {
			x := newTester(t, Config{})
			r := x.send(createBody(1000, extra))
			assert.True(t, r.IsTerm("improper-addressing"), r.Raw)
			assert.Zero(t, x.ccOpens())
			assert.Zero(t, x.h.Stats().Sessions)
		})
	}
}

// TestUpstreamRefuses: the upstream decides which domains it serves; its
// error's condition is what the client sees, and no session is left behind
// (XEP-0124 §7.1, §17.2).
func TestUpstreamRefuses(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		extra  string
		want   string
		status int
	}{
		{"host-unknown (§17.2)", HostUnknown, "to='unknown.invalid'", "host-unknown", http.StatusOK},
		{"host-gone as *Error (§17.2)", &Error{Condition: HostGone, Err: errors.New("retired")}, "", "host-gone", http.StatusOK},
		{"legacy host-unknown stays 200 (§17.1)", HostUnknown, "-ver", "host-unknown", http.StatusOK},
		{"remote-connection-failed (§17.2)", RemoteConnectionFailed, "", "remote-connection-failed", http.StatusOK},
		{"plain error: internal-server-error (§17.2)", errors.New("dial: refused"), "", "internal-server-error", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, Config{})
			x.up.openErr = tc.err
			r := x.send(createBody(1000, tc.extra))
			assert.Equal(t, tc.status, r.Status)
			assert.Equal(t, "terminate", r.Type(), r.Raw)
			assert.Equal(t, tc.want, r.Condition())
			assert.Empty(t, r.Attr("sid"))
			assert.NotContains(t, r.Raw, "refused", "the cause is not sent")
			assert.Zero(t, x.h.Stats().Sessions)
		})
	}
}

// TestRouteAllowList: with Config.Routes, a listed 'route' reaches the
// upstream parsed, and any other gets host-unknown without reaching it
// (XEP-0124 §7.1).
func TestRouteAllowList(t *testing.T) {
	x := newTester(t, Config{Routes: []string{"xmpp:example.com:5222"}})
	r := x.send(createBody(1000, "route='xmpp:example.com:5222'"))
	require.NotEmpty(t, r.Attr("sid"), r.Raw)
	assert.Equal(t, &Route{Proto: "xmpp", Host: "example.com", Port: 5222}, x.ccOpenReq(t, 0).Route)

	r = x.send(createBody(2000, "route='XMPP:Example.COM:5222'"))
	require.NotEmpty(t, r.Attr("sid"), "proto and host compare case-insensitively: %s", r.Raw)

	for _, route := range []string{"xmpp:example.com:9999", "xmpp:evil.example:5222", "xmpp:127.0.0.1:22", "garbage", "xmpp://example.com:5222"} {
		r := x.send(createBody(3000, "route='"+route+"'"))
		assert.True(t, r.IsTerm("host-unknown"), "%s: %s", route, r.Raw)
	}
	assert.Equal(t, 2, x.ccOpens())

	r = x.send(createBody(4000, ""))
	require.NotEmpty(t, r.Attr("sid"), r.Raw)
	assert.Nil(t, x.ccOpenReq(t, 2).Route, "no route asked for")
}

// TestRouteIgnoredWithoutRoutes: without Config.Routes, 'route' is
// ignored (XEP-0124 §7.1: MAY).
func TestRouteIgnoredWithoutRoutes(t *testing.T) {
	x := newTester(t, Config{})
	for i, route := range []string{"xmpp:example.com:9999", "not-a-route"} {
		r := x.send(createBody(uint64(1000*(i+1)), "route='"+route+"'"))
		require.NotEmpty(t, r.Attr("sid"), r.Raw)
		assert.Nil(t, x.ccOpenReq(t, i).Route)
	}
}

// TestParseRoute: 'route' is proto:host:port, not a URI: no
// percent-decoding, no authority syntax; IPv6 hosts in brackets (XEP-0124
// §7.1 footnote).
func TestParseRoute(t *testing.T) {
	ok := []struct {
		in   string
		want Route
	}{
		{"xmpp:example.com:5222", Route{"xmpp", "example.com", 5222}},
		{"XMPP:Example.COM:5269", Route{"xmpp", "example.com", 5269}},
		{"xmpp:[::1]:5222", Route{"xmpp", "::1", 5222}},
		{"xmpp:192.0.2.1:1", Route{"xmpp", "192.0.2.1", 1}},
		{"xmpp:example.com:65535", Route{"xmpp", "example.com", 65535}},
		{"xmpp:ex%61mple.com:5222", Route{"xmpp", "ex%61mple.com", 5222}},
		{"x-proto+1.0:h:7", Route{"x-proto+1.0", "h", 7}},
	}
	for _, tc := range ok {
		t.Run(""+tc.in+" (§7.1)", func(t *testing.T) {
			got, err := parseRoute(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, *got)
		})
	}
	for _, in := range []string{
		"xmpp:example.com", "xmpp:example.com:", "xmpp:example.com:0", "xmpp:example.com:70000",
		"xmpp:example.com:+5222", "xmpp:example.com:-1", "xmpp:example.com:52a",
		"xmpp://example.com:5222", "xmpp:user@example.com:5222", "xmpp:example.com/x:5222",
		":example.com:5222", "xmpp::5222", "example.com:5222", "xmpp:[::1:5222",
		"xmpp:exa mple.com:5222", "x mpp:example.com:5222", "",
	} {
		t.Run(fmt.Sprintf("%q is refused (§7.1)", in), func(t *testing.T) {
			_, err := parseRoute(in)
			assert.Error(t, err)
		})
	}
}

// TestContentTypeOnEveryResponse: every response of a session
// (creation, empty, payload, error, terminate, an upstream's end) has
// exactly the creation request's 'content' as its Content-Type, or
// text/xml; charset=utf-8 without one (XEP-0124 §7.1).
func TestContentTypeOnEveryResponse(t *testing.T) {
	for _, content := range []string{"", "text/html; charset=utf-8", "application/xml"} {
		t.Run(fmt.Sprintf("content=%q (§7.1)", content), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				want, raw := contentDefault, ""
				if content != "" {
					want, raw = content, "content='"+content+"'"
				}
				x := newTester(t, Config{CompressMin: 1})
				x.up.echo = true
				var all []*resp
				check := func(r *resp, what string) {
					t.Helper()
					all = append(all, r)
					assert.Equal(t, []string{want}, r.Header.Values("Content-Type"), what)
				}
				s := x.ccSess(t, 1000, x.send(ccCreateWith(1000, "wait='5'", raw)))
				check(s.created, "creation")
				c := s.post(1, "", "")
				time.Sleep(5 * time.Second)
				check(c.wait(), "empty")
				check(s.send(2, "", ccMsg), "payload")
				check(x.post(s.body(3, "", ""), "Accept-Encoding", "gzip").wait(), "compressed")
				check(s.send(4, "type='terminate'", ""), "terminate")

				s = x.ccSess(t, 2000, x.send(ccCreateWith(2000, "", raw)))
				check(x.send("<body rid='abc' sid='"+s.sid+"' xmlns='"+NS+"'/>"), "bad rid")

				s = x.ccSess(t, 3000, x.send(ccCreateWith(3000, "", raw)))
				check(s.send(9, "", ""), "rid above the window")

				s = x.ccSess(t, 4000, x.send(ccCreateWith(4000, "", raw)))
				x.up.stream(t, 3).sink.End(RemoteConnectionFailed)
				check(s.send(1, "", ""), "upstream ended")

				check(x.send(ccCreateWith(5000, "-to", raw)), "failed creation")
				check(x.send(ccCreateWith(6000, "-ver -to", raw)), "failed legacy creation")

				assert.True(t, all[1].IsEmpty(), all[1].Raw)
				assert.Equal(t, []string{ccMsg}, all[2].Children)
				assert.Equal(t, "gzip", all[3].Header.Get("Content-Encoding"))
				assert.Equal(t, "terminate", all[4].Type())
				assert.True(t, all[5].IsTerm("bad-request"), all[5].Raw)
				assert.True(t, all[6].IsTerm("item-not-found"), all[6].Raw)
				assert.True(t, all[7].IsTerm("remote-connection-failed"), all[7].Raw)
				assert.True(t, all[8].IsTerm("improper-addressing"), all[8].Raw)
			})
		})
	}
}

// TestInvalidContent: a 'content' that is not a media type, or that
// would split the header, is a bad-request (XEP-0124 §7.1).
func TestInvalidContent(t *testing.T) {
	for _, v := range []string{"html", "text/", "text/html&#13;&#10;X-Evil: 1", "text/html&#10;", "text/html; charset", "/xml", "text/html; =x"} {
		t.Run(fmt.Sprintf("content=%q (§7.1)", v), func(t *testing.T) {
			x := newTester(t, Config{})
			r := x.send(ccCreateWith(1000, "", "content='"+v+"'"))
			assert.True(t, r.IsTerm("bad-request"), r.Raw)
			assert.Equal(t, contentDefault, r.Header.Get("Content-Type"))
			assert.Empty(t, r.Header.Get("X-Evil"))
			assert.Zero(t, x.ccOpens())
		})
	}
}

// TestFromForwarded: the creation request's 'from' reaches the upstream
// (XEP-0124 §7.1, XEP-0206 §3).
func TestFromForwarded(t *testing.T) {
	x := newTester(t, Config{})
	x.create(1000, "from='user@example.com'")
	assert.Equal(t, "user@example.com", x.ccOpenReq(t, 0).From)
	x.create(2000, "")
	assert.Empty(t, x.ccOpenReq(t, 1).From)
}

// TestCreationAttributesLaterTolerated: creation-only attributes on a
// later request are tolerated and change nothing: no new stream, the same
// Content-Type (XEP-0124 §7.1, §16.3).
func TestCreationAttributesLaterTolerated(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	s := x.create(1000, "")
	r := s.send(1, "to='other.example' xml:lang='fr' ver='1.6' wait='1' hold='5' content='text/plain' route='xmpp:x:1' from='a@b' secure='true'", ccMsg)
	assert.Equal(t, []string{ccMsg}, r.Children, r.Raw)
	assert.Equal(t, contentDefault, r.Header.Get("Content-Type"))
	assert.Equal(t, 1, x.ccOpens())
	assert.Equal(t, []string{ccMsg}, x.up.stream(t, 0).payloads())
}

// TestSIDsUniqueAndLong: 1000 creations give 1000 distinct sids of at
// least 128 bits with no common prefix (XEP-0124 §7.2, §19.3).
func TestSIDsUniqueAndLong(t *testing.T) {
	// 1000 creations at once from one address: above the default
	// SessionBurst, so the bucket is made big enough.
	x := newTester(t, Config{SessionBurst: 1000})
	seen := make(map[string]bool)
	prefixes := make(map[string]bool)
	for i := range 1000 {
		r := x.send(createBody(uint64(1000+i), ""))
		sid := r.Attr("sid")
		require.NotEmpty(t, sid, r.Raw)
		require.False(t, seen[sid], "sid %q repeated", sid)
		seen[sid] = true
		require.GreaterOrEqual(t, len(sid), 22, "128 bits are at least 22 base64 characters")
		for _, c := range sid {
			require.True(t, c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_', "sid %q is not base64url", sid)
		}
		prefixes[sid[:4]] = true
	}
	assert.Greater(t, len(prefixes), 950, "no shared prefix or counter")
}

// ccAttrs lists the attributes of a creation response, "" meaning absent
// and "*" present with any value.
type ccAttrs map[string]string

// TestCreationAttributes: the creation response has sid, wait and
// requests, and hold, ver, polling, inactivity, maxpause and accept, bounded
// by the request and the Config (XEP-0124 §7.2, §10, §12).
func TestCreationAttributes(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		extra string
		want  ccAttrs
	}{
		{"defaults (§7.2)", Config{}, "",
			ccAttrs{"sid": "*", "wait": "45", "requests": "2", "hold": "1", "ver": "1.11", "polling": "2", "inactivity": "60", "maxpause": "120", "accept": "gzip,deflate", "charsets": "", "secure": "", "from": ""}},
		{"wait='10' (§7.2)", Config{}, "wait='10'", ccAttrs{"wait": "10"}},
		{"wait='3600' capped by MaxWait (§7.2)", Config{}, "wait='3600'", ccAttrs{"wait": "45"}},
		{"Strophe.js's wait='60' capped by the default MaxWait, 45s (§7.2)", Config{}, "wait='60'", ccAttrs{"wait": "45"}},
		{"Config.MaxWait 30s (§7.2)", Config{MaxWait: 30 * time.Second}, "wait='45'", ccAttrs{"wait": "30"}},
		{"no wait: MaxWait (§7.2)", Config{MaxWait: 20 * time.Second}, "-wait", ccAttrs{"wait": "20"}},
		{"hold='0': requests='1' (§7.2, §12)", Config{}, "hold='0'", ccAttrs{"hold": "0", "requests": "1", "inactivity": "64"}},
		{"hold='3' capped by MaxHold (§7.2)", Config{MaxHold: 2}, "hold='3'", ccAttrs{"hold": "2", "requests": "3"}},
		{"hold='2' granted (§7.2)", Config{MaxHold: 16}, "hold='2'", ccAttrs{"hold": "2", "requests": "3"}},
		{"no hold (§7.2)", Config{MaxHold: 4}, "-hold", ccAttrs{"hold": "1", "requests": "2"}},
		{"wait='0' polls: hold='0' (§12)", Config{}, "wait='0'", ccAttrs{"wait": "0", "hold": "0", "requests": "1"}},
		{"NoPause: no maxpause (§7.2, §10)", Config{NoPause: true}, "", ccAttrs{"maxpause": "", "polling": "2"}},
		{"NoPolling: no polling (§7.2, §11)", Config{NoPolling: true}, "hold='0'", ccAttrs{"polling": "", "maxpause": "120", "inactivity": "60"}},
		{"configured values (§7.2)", Config{Inactivity: 30 * time.Second, Polling: 5 * time.Second, MaxPause: 300 * time.Second}, "",
			ccAttrs{"inactivity": "30", "polling": "5", "maxpause": "300"}},
		{"charsets advertised (§7.2)", Config{Charsets: []string{"ISO-8859-1", "windows-1252"}}, "", ccAttrs{"charsets": "ISO-8859-1 windows-1252"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, tc.cfg)
			s := x.create(1000, tc.extra)
			for k, v := range tc.want {
				got, ok := s.created.Attrs[k]
				switch v {
				case "":
					assert.False(t, ok, "%s=%q should be absent", k, got)
				case "*":
					assert.True(t, ok, "%s should be present", k)
				default:
					assert.Equal(t, v, got, k)
				}
			}
			// Invariants of §7.2 whatever the case.
			num := func(k string) int {
				n, err := strconv.Atoi(s.created.Attr(k))
				require.NoError(t, err, "%s=%q", k, s.created.Attr(k))
				return n
			}
			req := splitAttrs("wait='60' hold='1' " + tc.extra)
			asked := map[string]int{}
			for _, kv := range req {
				if n, err := strconv.Atoi(kv[1]); err == nil {
					asked[kv[0]] = n
				}
			}
			if w, ok := asked["wait"]; ok {
				assert.LessOrEqual(t, num("wait"), w, "wait ≤ requested")
			}
			if h, ok := asked["hold"]; ok {
				assert.LessOrEqual(t, num("hold"), h, "hold ≤ requested")
			}
			maxWait := tc.cfg.MaxWait
			if maxWait == 0 {
				maxWait = DefaultMaxWait
			}
			assert.LessOrEqual(t, time.Duration(num("wait"))*time.Second, maxWait, "wait ≤ Config.MaxWait")
			assert.Equal(t, num("hold")+1, num("requests"), "requests = hold+1")
		})
	}
}

// TestLaterResponsesCarryNoCreationAttributes: after the creation
// response, no response repeats sid, wait, requests, ver, polling,
// inactivity, hold, maxpause, accept or charsets (XEP-0124 §7.2).
func TestLaterResponsesCarryNoCreationAttributes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{Charsets: []string{"ISO-8859-1"}})
		x.up.echo = true
		s := x.create(1000, "wait='5'")
		for _, k := range []string{"sid", "wait", "requests", "ver", "polling", "inactivity", "hold", "maxpause", "accept", "charsets"} {
			require.NotEmpty(t, s.created.Attr(k), "the creation response has %s", k)
		}
		c1 := s.post(1, "", "")
		synctest.Wait()
		c2 := s.post(2, "", ccMsg)
		r1 := c1.wait()
		require.Equal(t, []string{ccMsg}, r1.Children)
		time.Sleep(5 * time.Second)
		r2 := c2.wait()
		require.True(t, r2.IsEmpty(), r2.Raw)
		r3 := s.send(3, "type='terminate'", "")
		for i, r := range []*resp{r1, r2, r3} {
			for _, k := range []string{"sid", "wait", "requests", "ver", "polling", "inactivity", "hold", "maxpause", "accept", "charsets", "from"} {
				assert.NotContains(t, r.Attrs, k, "response %d: %s", i+1, r.Raw)
			}
		}
	})
}

// TestVersionNegotiation: 'ver' is the lower of the client's and 1.11,
// comparing major and minor as integers; a malformed one is a bad-request
// (XEP-0124 §7.1, §7.2).
func TestVersionNegotiation(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1.6", "1.6"}, {"1.9", "1.9"}, {"1.10", "1.10"}, {"1.11", "1.11"}, {"1.0", "1.0"},
		{"1.100", "1.11"}, {"1.12", "1.11"}, {"2.0", "1.11"}, {"10.1", "1.11"},
	} {
		t.Run(fmt.Sprintf("ver=%q gets %q (§7.2)", tc.in, tc.want), func(t *testing.T) {
			x := newTester(t, Config{})
			s := x.create(1000, "ver='"+tc.in+"'")
			assert.Equal(t, tc.want, s.created.Attr("ver"))
			assert.Equal(t, tc.want, x.ccOpenReq(t, 0).Version)
		})
	}
	t.Run("no ver: legacy, ver='1.11' (§7.2, §17.1)", func(t *testing.T) {
		x := newTester(t, Config{})
		s := x.create(1000, "-ver")
		assert.Equal(t, "1.11", s.created.Attr("ver"))
	})
	for _, in := range []string{"abc", "1", "1.", ".6", "1.6.1", "1.-1", "-1.6", "1,6", "+1.6", "1.6 ", "99999999.1"} {
		t.Run(fmt.Sprintf("ver=%q is a bad-request (§7.1)", in), func(t *testing.T) {
			x := newTester(t, Config{})
			r := x.send(createBody(1000, ""))
			require.NotEmpty(t, r.Attr("sid"))
			r = x.send(strings.Replace(createBody(2000, "-ver"), "<body ", "<body ver='"+in+"' ", 1))
			assert.True(t, r.IsTerm("bad-request"), "%d %s", r.Status, r.Raw)
			assert.Equal(t, 1, x.ccOpens())
		})
	}
}

// TestFromInCreationResponse: a 'from' the upstream sets while it opens
// the stream is in the creation response, and only there (XEP-0124 §7.2).
func TestFromInCreationResponse(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	x.up.onOpen = func(req *OpenRequest, sink Sink) {
		sink.SetAttrs(Attr{Name: "from", Value: req.To})
	}
	s := x.create(1000, "")
	assert.Equal(t, "example.com", s.created.Attr("from"))
	r := s.send(1, "", ccMsg)
	assert.NotContains(t, r.Attrs, "from")
}

// TestFromLater: a 'from' set after creation goes on the next response
// that carries payloads, once (XEP-0124 §7.2).
func TestFromLater(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	s := x.create(1000, "")
	assert.NotContains(t, s.created.Attrs, "from")
	x.up.stream(t, 0).sink.SetAttrs(Attr{Name: "from", Value: "example.com"})
	r := s.send(1, "", ccMsg)
	assert.Equal(t, "example.com", r.Attr("from"), r.Raw)
	r = s.send(2, "", ccMsg)
	assert.NotContains(t, r.Attrs, "from")
}

// TestUTF8RoundTrip: non-ASCII text reaches the upstream and comes back
// as the same UTF-8 (XEP-0124 §7.2).
func TestUTF8RoundTrip(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	s := x.create(1000, "")
	msg := "<message xmlns='jabber:client'><body>héllo ✓ 😀 日本</body></message>"
	r := s.send(1, "", msg)
	assert.True(t, utf8.ValidString(r.Raw))
	assert.Equal(t, []string{msg}, r.Children)
	assert.Equal(t, []string{msg}, x.up.stream(t, 0).payloads())
}

// TestCharsets: with Config.Charsets, a request in an advertised charset,
// named in the Content-Type or in the XML declaration, reaches the upstream
// as UTF-8; without it, or when the named charset is UTF-8, non-UTF-8
// bytes are a bad-request (XEP-0124 §7.2).
func TestCharsets(t *testing.T) {
	latin1 := "<message xmlns='jabber:client'><body>caf\xe9 \xfc</body></message>"
	utf8Msg := "<message xmlns='jabber:client'><body>café ü</body></message>"
	const decl = "<?xml version='1.0' encoding='ISO-8859-1'?>"
	latin := Config{Charsets: []string{"ISO-8859-1"}}
	cases := []struct {
		name        string
		cfg         Config
		prefix, ct  string
		wantPayload bool
	}{
		{"charset in Content-Type (§7.2)", latin, "", "text/xml; charset=ISO-8859-1", true},
		{"charset alias in Content-Type (§7.2)", latin, "", "text/xml; charset=latin1", true},
		{"charset in the XML declaration (§7.2)", latin, decl, "text/xml", true},
		{"charset in the XML declaration, no Content-Type (§7.2)", latin, decl, "", true},
		{"without Config.Charsets: invalid UTF-8 (§7.2)", Config{}, "", "text/xml; charset=ISO-8859-1", false},
		{"without Config.Charsets, declaration: invalid UTF-8 (§7.2)", Config{}, decl, "", false},
		{"Content-Type says utf-8: invalid UTF-8 (§7.2)", latin, "", "text/xml; charset=utf-8", false},
		{"charset not advertised: taken as UTF-8 (§7.2)", latin, "", "text/xml; charset=Shift_JIS", false},
		{"no charset named: taken as UTF-8 (§7.2)", latin, "", "text/xml", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, tc.cfg)
			x.up.echo = true
			s := x.create(1000, "")
			var hdr []string
			if tc.ct != "" {
				hdr = []string{"Content-Type", tc.ct}
			}
			r := x.send(tc.prefix+s.body(1, "", latin1), hdr...)
			if !tc.wantPayload {
				assert.True(t, r.IsTerm("bad-request"), r.Raw)
				assert.Empty(t, x.up.stream(t, 0).payloads())
				return
			}
			assert.Equal(t, []string{utf8Msg}, x.up.stream(t, 0).payloads())
			assert.Equal(t, []string{utf8Msg}, r.Children, "responses are UTF-8")
			assert.Equal(t, contentDefault, r.Header.Get("Content-Type"))
		})
	}
	t.Run("Latin-1 attribute on creation (§7.2)", func(t *testing.T) {
		x := newTester(t, latin)
		r := x.send(createBody(1000, "to='caf\xe9.example'"), "Content-Type", "text/xml; charset=iso-8859-1")
		require.NotEmpty(t, r.Attr("sid"), r.Raw)
		assert.Equal(t, "café.example", x.ccOpenReq(t, 0).To)
	})
}

// TestSecureAttribute: the removed 'secure' attribute is tolerated on
// requests and never sent (XEP-0124 v1.8).
func TestSecureAttribute(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	s := x.create(1000, "secure='false'")
	assert.NotContains(t, s.created.Attrs, "secure")
	r := s.send(1, "secure='true'", ccMsg)
	assert.Equal(t, []string{ccMsg}, r.Children)
	assert.NotContains(t, r.Attrs, "secure")
}

// TestSchemaRanges: values beyond the schema's ranges are clamped or
// refused, and the creation response only carries in-range values, even
// with every Config limit at its maximum (XEP-0124 §22).
func TestSchemaRanges(t *testing.T) {
	x := newTester(t, Config{})
	s := x.create(1000, "wait='70000' hold='300'")
	assert.Equal(t, "45", s.created.Attr("wait"), "wait clamped to MaxWait")
	assert.Equal(t, "1", s.created.Attr("hold"), "hold clamped to MaxHold")
	for _, extra := range []string{"wait='99999999999'", "hold='99999999999'", "wait='-1'"} {
		r := x.send(createBody(2000, extra))
		assert.True(t, r.IsTerm("bad-request"), "%s: %s", extra, r.Raw)
	}

	max := Config{MaxWait: maxUnsignedShort, MaxHold: 16, Inactivity: maxUnsignedShort, Polling: maxUnsignedShort, MaxPause: maxUnsignedShort}
	for _, extra := range []string{"wait='65535' hold='16'", "hold='0'", "wait='0'"} {
		t.Run(""+extra+" with maximal Config (§22)", func(t *testing.T) {
			x := newTester(t, max)
			s := x.create(1000, extra)
			ranges := map[string]int{"wait": 65535, "inactivity": 65535, "polling": 65535, "maxpause": 65535, "hold": 255, "requests": 255}
			for k, hi := range ranges {
				n, err := strconv.Atoi(s.created.Attr(k))
				require.NoError(t, err, k)
				assert.True(t, n >= 0 && n <= hi, "%s=%d outside [0, %d]", k, n, hi)
			}
		})
	}
}

// TestNewHandlerRejectsInvalidConfig: invalid Config values are errors from
// NewHandler, never clamped silently (STYLE: Config).
func TestNewHandlerRejectsInvalidConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero Config: defaults", Config{}, true},
		{"negative MaxWait", Config{MaxWait: -time.Second}, false},
		{"MaxWait below 1s", Config{MaxWait: 500 * time.Millisecond}, false},
		{"MaxWait above 65535s (§22)", Config{MaxWait: 70000 * time.Second}, false},
		{"MaxHold 0 is the default", Config{MaxHold: 0}, true},
		{"MaxHold 16", Config{MaxHold: 16}, true},
		{"MaxHold 17", Config{MaxHold: 17}, false},
		{"negative MaxHold", Config{MaxHold: -1}, false},
		{"negative Inactivity", Config{Inactivity: -time.Second}, false},
		{"negative Polling", Config{Polling: -time.Second}, false},
		{"MaxPause above 65535s (§22)", Config{MaxPause: 70000 * time.Second}, false},
		{"MaxBodySize 100", Config{MaxBodySize: 100}, false},
		{"negative MaxBodySize", Config{MaxBodySize: -1}, false},
		{"MaxDepth 1", Config{MaxDepth: 1}, false},
		{"MaxAttrs 7", Config{MaxAttrs: 7}, false},
		{"negative CompressMin", Config{CompressMin: -1}, false},
		{"negative MaxSessions", Config{MaxSessions: -1}, false},
		{"origin without scheme", Config{AllowOrigins: []string{"chat.example"}}, false},
		{"origin with a path", Config{AllowOrigins: []string{"https://chat.example/app"}}, false},
		{"origin with a trailing slash: its serialization (RFC 6454 §6.1)", Config{AllowOrigins: []string{"https://chat.example/"}}, true},
		{"origin with user info", Config{AllowOrigins: []string{"https://u@chat.example"}}, false},
		{"origin with a query", Config{AllowOrigins: []string{"https://chat.example?x"}}, false},
		{"origin with a port", Config{AllowOrigins: []string{"https://chat.example:8443", "*"}}, true},
		{"unknown charset", Config{Charsets: []string{"no-such-charset"}}, false},
		{"known charsets", Config{Charsets: []string{"ISO-8859-1", "latin1", "windows-1252"}}, true},
		{"route without port", Config{Routes: []string{"xmpp:example.com"}}, false},
		{"route without proto", Config{Routes: []string{"example.com:5222"}}, false},
		{"route with port 0", Config{Routes: []string{"xmpp:example.com:0"}}, false},
		{"valid route", Config{Routes: []string{"xmpp:example.com:5222", "xmpp:[::1]:5222"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHandler(&fakeUp{}, tc.cfg)
			if tc.ok {
				require.NoError(t, err)
				assert.NotNil(t, h)
				return
			}
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "bosh: "), err.Error())
			assert.Nil(t, h)
		})
	}
	_, err := NewHandler(nil, Config{})
	assert.Error(t, err, "nil Upstream")
}

// TestNewHandlerCopiesConfig: changing the caller's Config slices after
// NewHandler does not change the handler (STYLE: Config is copied).
func TestNewHandlerCopiesConfig(t *testing.T) {
	origins := []string{"https://chat.example"}
	routes := []string{"xmpp:example.com:5222"}
	up := &fakeUp{}
	h, err := NewHandler(up, Config{AllowOrigins: origins, Routes: routes})
	require.NoError(t, err)
	t.Cleanup(func() { h.Shutdown(t.Context()) })
	origins[0], routes[0] = "https://evil.example", "xmpp:evil.example:22"
	x := &tester{t: t, h: h, up: up}
	r := x.send(createBody(1000, "route='xmpp:example.com:5222'"), "Origin", "https://chat.example")
	assert.NotEmpty(t, r.Attr("sid"), r.Raw)
	r = x.do(httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(createBody(2000, ""))), "Origin", "https://evil.example").wait()
	assert.Equal(t, http.StatusForbidden, r.Status)
}
