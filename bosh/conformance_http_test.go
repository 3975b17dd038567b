package bosh

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance tests for XEP-0124 §5 (HTTP), §6 (the <body/> wrapper) and the
// handling of bad input on session creation requests, GET (XEP-0252), and
// the HTTP features around them (compression, CORS, body limits). Session
// creation proper (§7) is in conformance_create_test.go.

// ccOpen is the start tag of a valid creation request, for hand-written
// bodies.
const ccOpen = "<body rid='1000' to='example.com' wait='60' hold='1' ver='1.11' xmlns='" + NS + "'>"

// ccMsg is a payload.
const ccMsg = "<message xmlns='jabber:client' to='a@example.com'><body>hi</body></message>"

// ccOpens returns how many streams the upstream was asked to open.
func (x *tester) ccOpens() int {
	x.up.mu.Lock()
	defer x.up.mu.Unlock()
	return len(x.up.opens)
}

// ccWire sends one raw HTTP request over a real connection to srv and
// returns the response as read off the wire, with its body parsed.
func ccWire(t *testing.T, srv *httptest.Server, head, body string) (*http.Response, *resp) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(conn, "%sContent-Length: %d\r\n\r\n%s", head, len(body), body)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Empty(t, res.TransferEncoding, "§5: no chunked transfer coding")
	assert.Equal(t, int64(len(data)), res.ContentLength, "§5: framed by Content-Length")
	r := &resp{Status: res.StatusCode, Header: res.Header, Raw: string(data), Attrs: map[string]string{}}
	parseBodyInto(t, data, r)
	return res, r
}

// TestHTTP10Request: a session created and used over HTTP/1.0 works
// (XEP-0124 §5, §2 requirement 4).
func TestHTTP10Request(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	http10 := func(body string) *resp {
		r := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(body))
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
		r.Host = ""
		return x.do(r).wait()
	}
	c := http10(createBody(1000, ""))
	require.Equal(t, http.StatusOK, c.Status, c.Raw)
	s := &sess{x: x, sid: c.Attr("sid"), rid: 1000, created: c}
	require.NotEmpty(t, s.sid)
	r := http10(s.body(1, "", ccMsg))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, []string{ccMsg}, r.Children)
}

// TestOverTheWire: over a real connection, an HTTP/1.0 request with
// no Host and no keep-alive gets a valid response framed by Content-Length,
// and HTTP/1.1 responses (creation, a 100 KiB payload, a terminate body)
// are never chunked (XEP-0124 §5).
func TestOverTheWire(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	srv := httptest.NewServer(x.h)
	t.Cleanup(srv.Close)

	res, c := ccWire(t, srv, "POST /http-bind HTTP/1.0\r\n", createBody(1000, ""))
	require.Equal(t, http.StatusOK, c.Status, c.Raw)
	assert.Equal(t, 1, res.ProtoMajor)
	sid := c.Attr("sid")
	require.NotEmpty(t, sid)
	s := &sess{x: x, sid: sid, rid: 1000}
	_, r := ccWire(t, srv, "POST /http-bind HTTP/1.0\r\n", s.body(1, "", ccMsg))
	assert.Equal(t, []string{ccMsg}, r.Children, "the session works over HTTP/1.0")

	big := "<message xmlns='jabber:client'><body>" + strings.Repeat("x", 100<<10) + "</body></message>"
	require.True(t, x.up.stream(t, 0).sink.Deliver([]byte(big)))
	h11 := "POST /http-bind HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\nContent-Type: text/xml; charset=utf-8\r\n"
	res, r = ccWire(t, srv, h11, s.body(2, "", ""))
	assert.Equal(t, 1, res.ProtoMinor)
	assert.Equal(t, []string{big}, r.Children, "a 100 KiB response in one Content-Length body")

	_, r = ccWire(t, srv, h11, s.body(3, "type='terminate'", ""))
	assert.Equal(t, "terminate", r.Type(), r.Raw)
	_, r = ccWire(t, srv, h11, "<body rid='5' sid='nosuchsid' xmlns='"+NS+"'/>")
	assert.True(t, r.IsTerm("item-not-found"), r.Raw)
}

// TestForeignHeadersIgnored: headers BOSH does not define change nothing
// (XEP-0124 §5); without Config.AllowOrigins that includes Origin.
func TestForeignHeadersIgnored(t *testing.T) {
	x := newTester(t, Config{})
	r := x.send(createBody(1000, ""), "X-Junk", "1", "Cookie", "a=b", "Origin", "https://x", "Referer", "https://x/page")
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.NotEmpty(t, r.Attr("sid"))
	assert.Empty(t, r.Header.Get("Access-Control-Allow-Origin"), "no CORS without AllowOrigins")
	assert.Empty(t, r.Header.Get("Set-Cookie"))
}

// TestRequestContentTypeIgnored: the request's Content-Type does not
// matter (XEP-0124 §5), with or without Config.Charsets.
func TestRequestContentTypeIgnored(t *testing.T) {
	for _, cfg := range []Config{{}, {Charsets: []string{"ISO-8859-1"}}} {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json", "text/xml; charset=utf-8", "nonsense;;"} {
			t.Run(fmt.Sprintf("Content-Type %q charsets %v (§5)", ct, cfg.Charsets), func(t *testing.T) {
				x := newTester(t, cfg)
				var hdr []string
				if ct != "" {
					hdr = []string{"Content-Type", ct}
				}
				r := x.send(createBody(1000, ""), hdr...)
				require.Equal(t, http.StatusOK, r.Status, r.Raw)
				assert.NotEmpty(t, r.Attr("sid"), r.Raw)
				assert.Equal(t, contentDefault, r.Header.Get("Content-Type"))
			})
		}
	}
}

// TestResponsesAreBareBodies: every kind of response is one <body/>
// in the httpbind namespace (parseResp checks the root, the absence of
// character data, comments and PIs), with no XML declaration, DOCTYPE,
// comment, entity reference or white space between payloads, and every
// prefix declared (XEP-0124 §6).
func TestResponsesAreBareBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := newTester(t, Config{})
		x.up.echo = true
		x.up.onOpen = func(req *OpenRequest, sink Sink) {
			sink.SetAttrs(Attr{Name: "xmlns:stream", Value: "http://etherx.jabber.org/streams"})
			sink.Deliver([]byte("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"))
		}
		s := x.create(1000, "wait='5'")
		all := []*resp{s.created}
		all = append(all, s.send(1, "", ccMsg+ccMsg))
		c := s.post(2, "", "")
		time.Sleep(5 * time.Second)
		all = append(all, c.wait())
		all = append(all, s.send(3, "type='terminate'", ""))
		all = append(all, s.send(4, "", ""))
		all = append(all, x.send("<body/>"))

		assert.Equal(t, []string{"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"}, s.created.Children)
		assert.Equal(t, "http://etherx.jabber.org/streams", s.created.Attr("stream"), "the stream prefix is declared")
		assert.Equal(t, []xml.Name{{Space: NS, Local: "body"}, {Space: "http://etherx.jabber.org/streams", Local: "features"}, {Space: "urn:ietf:params:xml:ns:xmpp-bind", Local: "bind"}},
			ccNames(t, s.created.Raw), "every prefix resolves")
		assert.Equal(t, []string{ccMsg, ccMsg}, all[1].Children)
		assert.True(t, all[2].IsEmpty(), all[2].Raw)
		assert.True(t, all[4].IsTerm("item-not-found"), all[4].Raw)
		assert.True(t, all[5].IsTerm("bad-request"), all[5].Raw)
		for i, r := range all {
			assert.True(t, strings.HasPrefix(r.Raw, "<body "), "response %d starts with <body, no XML declaration: %s", i, r.Raw)
			assert.True(t, strings.HasSuffix(r.Raw, ">"), "nothing after the root: %s", r.Raw)
			for _, bad := range []string{"<?", "<!--", "<!DOCTYPE", "<!ENTITY", "> <", ">\n<", "&nbsp;"} {
				assert.NotContains(t, r.Raw, bad, "response %d", i)
			}
		}
	})
}

// ccNames returns the resolved names of the elements in doc, in order.
func ccNames(t *testing.T, doc string) []xml.Name {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var out []xml.Name
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			out = append(out, se.Name)
		}
	}
}

// TestPrefixesStayDeclared: a payload that uses a prefix declared on the
// request <body/> reaches the upstream with the declaration, and comes back
// to the client (echo) still namespace-well-formed (XEP-0124 §6).
func TestPrefixesStayDeclared(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	s := x.create(1000, "")
	body := "<body rid='1001' sid='" + s.sid + "' xmlns='" + NS + "' xmlns:j='jabber:client'><j:message to='a@example.com'><j:body>hi</j:body></j:message></body>"
	r := x.send(body)
	want := "<j:message xmlns:j='jabber:client' to='a@example.com'><j:body>hi</j:body></j:message>"
	assert.Equal(t, []string{want}, x.up.stream(t, 0).payloads())
	assert.Equal(t, []string{want}, r.Children)
}

// ccBillionLaughs is the classic entity-expansion attack.
const ccBillionLaughs = `<?xml version="1.0"?>
<!DOCTYPE body [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
` + ccOpen + `<message xmlns='jabber:client'><body>&lol9;</body></message></body>`

// TestBadCreationRequests: a creation request that breaks §6 or has
// no valid rid gets a terminate body with its condition, HTTP 200 as it
// carries ver (XEP-0124 §6, §14.1, §17.2), and opens no session. Input over
// the configured limits gets policy-violation.
func TestBadCreationRequests(t *testing.T) {
	attrs := "to='example.com' wait='60' hold='1' ver='1.11' xmlns='" + NS + "'"
	deep := ccOpen + strings.Repeat("<a>", 20000) + strings.Repeat("</a>", 20000) + "</body>" // under MaxBodySize
	cases := []struct {
		name string
		body string
		cfg  Config
		want Condition
	}{
		{"malformed XML: unclosed start tag (§6)", "<body rid='1000' " + attrs, Config{}, BadRequest},
		{"truncated body (§6)", ccOpen + "<message xmlns='jabber:client'><body>hi</bo", Config{}, BadRequest},
		{"body cut before its end tag (§6)", ccOpen + ccMsg, Config{}, BadRequest},
		{"empty HTTP body (§6)", "", Config{}, BadRequest},
		{"root <body/> in jabber:client (§6)", "<body rid='1000' to='example.com' ver='1.11' xmlns='jabber:client'/>", Config{}, BadRequest},
		{"root <body/> in no namespace (§6)", "<body rid='1000' to='example.com' ver='1.11'/>", Config{}, BadRequest},
		{"root <foo/> in the httpbind namespace (§6)", "<foo rid='1000' " + attrs + "/>", Config{}, BadRequest},
		{"text directly in <body/> (§6)", ccOpen + "hello</body>", Config{}, BadRequest},
		{"text between payloads (§6)", ccOpen + ccMsg + "hello" + ccMsg + "</body>", Config{}, BadRequest},
		{"CDATA text directly in <body/> (§6)", ccOpen + "<![CDATA[hello]]></body>", Config{}, BadRequest},
		{"DOCTYPE with an internal entity (§6)", "<!DOCTYPE body [<!ENTITY a 'aaaa'>]>" + ccOpen + "<m xmlns='x'>&a;</m></body>", Config{}, BadRequest},
		{"billion laughs (§6)", ccBillionLaughs, Config{}, BadRequest},
		{"external entity (§6)", "<!DOCTYPE body [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>" + ccOpen + "<m xmlns='x'>&x;</m></body>", Config{}, BadRequest},
		{"undefined entity reference (§6)", ccOpen + "<m xmlns='x'>&nbsp;</m></body>", Config{}, BadRequest},
		{"comment before <body/> (§6)", "<!-- hi -->" + ccOpen + "</body>", Config{}, BadRequest},
		{"comment inside <body/> (§6)", ccOpen + "<!-- hi --></body>", Config{}, BadRequest},
		{"comment inside a payload (§6)", ccOpen + "<m xmlns='x'><!-- hi --></m></body>", Config{}, BadRequest},
		{"processing instruction before <body/> (§6)", "<?foo bar?>" + ccOpen + "</body>", Config{}, BadRequest},
		{"processing instruction in a payload (§6)", ccOpen + "<m xmlns='x'><?foo bar?></m></body>", Config{}, BadRequest},
		{"invalid UTF-8 in a payload (§6, §7.2)", ccOpen + "<m xmlns='x'>caf\xe9</m></body>", Config{}, BadRequest},
		{"invalid UTF-8 in an attribute (§6)", "<body rid='1000' to='ex\xffample.com' ver='1.11' xmlns='" + NS + "'/>", Config{}, BadRequest},
		{"content after the root (§6)", createBody(1000, "") + createBody(1001, ""), Config{}, BadRequest},
		{"undeclared prefix (§6, Namespaces in XML)", ccOpen + "<foo:x/></body>", Config{}, BadRequest},
		{"duplicate attribute (§6)", "<body rid='1000' rid='1001' " + attrs + "/>", Config{}, BadRequest},
		{"nesting past MaxDepth (§6, Config.MaxDepth)", ccOpen + "<a><b><c><d/></c></b></a></body>", Config{MaxDepth: 4}, PolicyViolation},
		{"20000 nested elements (§6, Config.MaxDepth)", deep, Config{}, PolicyViolation},
		{"too many attributes (§6, Config.MaxAttrs)", ccOpen + "<m xmlns='x' a1='' a2='' a3='' a4='' a5='' a6='' a7='' a8=''/></body>", Config{MaxAttrs: 8}, PolicyViolation},
		{"no rid (§6, §14.1)", createBody(1000, "-rid"), Config{}, BadRequest},
		{"rid='0' (§14.1)", createBody(1000, "rid='0'"), Config{}, BadRequest},
		{"rid='-5' (§14.1)", createBody(1000, "rid='-5'"), Config{}, BadRequest},
		{"rid='abc' (§14.1)", createBody(1000, "rid='abc'"), Config{}, BadRequest},
		{"rid='' (§14.1)", createBody(1000, "rid=''"), Config{}, BadRequest},
		{"rid='1e3' (§14.1)", createBody(1000, "rid='1e3'"), Config{}, BadRequest},
		{"rid='+5' (§14.1)", createBody(1000, "rid='+5'"), Config{}, BadRequest},
		{"rid=' 5' (§14.1)", "<body rid=' 5' " + attrs + "/>", Config{}, BadRequest},
		{"rid=2^53 above 2^53-1 (§14.1)", createBody(1000, "rid='9007199254740992'"), Config{}, BadRequest},
		{"rid=2^64 (§14.1)", createBody(1000, "rid='18446744073709551616'"), Config{}, BadRequest},
		{"wait='abc' (§7.1, §22)", createBody(1000, "wait='abc'"), Config{}, BadRequest},
		{"hold='-1' (§7.1, §22)", createBody(1000, "hold='-1'"), Config{}, BadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, tc.cfg)
			r := x.send(tc.body)
			assert.True(t, r.IsTerm(string(tc.want)), "want TERM(%s), got %d %s", tc.want, r.Status, r.Raw)
			assert.Equal(t, contentDefault, r.Header.Get("Content-Type"))
			assert.Zero(t, x.ccOpens(), "no session is opened")
			assert.Zero(t, x.h.Stats().Sessions)
		})
	}
}

// TestLimitsAreExact: a request at Config.MaxDepth and Config.MaxAttrs
// is accepted; one more is refused (§6).
func TestLimitsAreExact(t *testing.T) {
	x := newTester(t, Config{MaxDepth: 4, MaxAttrs: 8})
	x.up.echo = true
	s := x.create(1000, "")
	ok := "<m xmlns='x' a1='' a2='' a3='' a4='' a5='' a6='' a7=''><b><c/></b></m>"
	r := s.send(1, "", ok)
	assert.Equal(t, []string{ok}, r.Children)
	r = s.send(2, "", "<m xmlns='x'><b><c><d/></c></b></m>")
	assert.True(t, r.IsTerm("policy-violation"), r.Raw)
}

// TestPayloadBytesPassThrough: entity and character references are not
// expanded or re-encoded: the upstream gets the client's bytes (§6).
func TestPayloadBytesPassThrough(t *testing.T) {
	x := newTester(t, Config{})
	x.up.echo = true
	s := x.create(1000, "")
	p := "<message xmlns='jabber:client'><body>a &amp; b &lt;&#233;&#x41;&quot;<![CDATA[<x>]]></body></message>"
	r := s.send(1, "", p)
	assert.Equal(t, []string{p}, x.up.stream(t, 0).payloads())
	assert.Equal(t, []string{p}, r.Children)
}

// TestLegacyCreationStatus: a creation request without 'ver' comes
// from a legacy client, which gets HTTP 400/403 instead of the marked
// conditions (§17.1 Table 2, §17.2); other conditions stay HTTP 200 bodies.
func TestLegacyCreationStatus(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		cfg    Config
		status int
		cond   Condition
	}{
		{"no rid, no ver: 400 (§17.1)", createBody(1000, "-ver -rid"), Config{}, http.StatusBadRequest, BadRequest},
		{"rid='abc', no ver: 400 (§17.1)", createBody(1000, "-ver rid='abc'"), Config{}, http.StatusBadRequest, BadRequest},
		{"ver after a bad rid still counts (§17.1)", "<body rid='abc' to='example.com' ver='1.11' xmlns='" + NS + "'/>", Config{}, http.StatusOK, BadRequest},
		{"rid='0', no ver: 400 (§17.1)", createBody(1000, "-ver rid='0'"), Config{}, http.StatusBadRequest, BadRequest},
		{"wait='x', no ver: 400 (§17.1)", createBody(1000, "-ver wait='x'"), Config{}, http.StatusBadRequest, BadRequest},
		{"bad content, no ver: 400 (§17.1)", createBody(1000, "-ver content='html'"), Config{}, http.StatusBadRequest, BadRequest},
		{"no to, no ver: 200 improper-addressing (§17.1: no legacy code)", createBody(1000, "-ver -to"), Config{}, http.StatusOK, ImproperAddressing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, tc.cfg)
			r := x.send(tc.body)
			assert.Equal(t, tc.status, r.Status, r.Raw)
			assert.Equal(t, "terminate", r.Type(), r.Raw)
			assert.Equal(t, string(tc.cond), r.Condition(), r.Raw)
			assert.Zero(t, x.ccOpens())
		})
	}
	t.Run("policy-violation, no ver: 403 (§17.1, Config.MaxPayloadSize)", func(t *testing.T) {
		x := newTester(t, Config{MaxPayloadSize: 1024})
		big := "<m xmlns='x'>" + strings.Repeat("a", 1024) + "</m>"
		creation := func(rid int, extra string) string {
			return strings.Replace(createBody(uint64(rid), extra), "/>", ">"+big+"</body>", 1)
		}
		r := x.send(creation(2000, "-ver"))
		assert.Equal(t, http.StatusForbidden, r.Status, r.Raw)
		r = x.send(creation(3000, ""))
		assert.True(t, r.IsTerm("policy-violation"), r.Raw)
		assert.Zero(t, x.ccOpens())
	})
	t.Run("MaxSessions, no ver: HTTP 503, not a condition (OverloadError)", func(t *testing.T) {
		x := newTester(t, Config{MaxSessions: 1})
		x.create(1000, "-ver")
		assertOverloaded(t, x.send(createBody(2000, "-ver")), "5", "legacy client")
		assertOverloaded(t, x.send(createBody(3000, "")), "5", "client with ver")
		assert.Equal(t, 1, x.ccOpens())
	})
}

// TestMalformedAnswerIsStable: a request that is not even a BOSH body
// carries no 'ver' or 'sid' to go by, so it gets HTTP 200 and a terminate
// body, whatever requests came before (§17.1).
func TestMalformedAnswerIsStable(t *testing.T) {
	x := newTester(t, Config{})
	bad := []string{"<body", "<body xmlns='jabber:client'/>", ccOpen + "text</body>"}
	for _, b := range bad {
		r := x.send(b)
		assert.True(t, r.IsTerm("bad-request"), "first: %d %s", r.Status, r.Raw)
	}
	legacy := x.create(1000, "-ver content='text/html'")
	for i, b := range bad {
		x.create(uint64(2000+i), "-ver")
		r := x.send(b)
		assert.True(t, r.IsTerm("bad-request"), "after a legacy creation: %d %s", r.Status, r.Raw)
		assert.Equal(t, contentDefault, r.Header.Get("Content-Type"))
		r = x.send("<body rid='7' sid='" + legacy.sid + "' xmlns='" + NS + "'>text</body>")
		assert.True(t, r.IsTerm("bad-request"), r.Raw)
	}
}

// TestRequestWithoutRID: a session request without a valid rid is a
// bad-request, HTTP 400 in a legacy session (§14.1, §17.1).
func TestRequestWithoutRID(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v (§14.1, §17.1)", legacy), func(t *testing.T) {
			x := newTester(t, Config{})
			extra := ""
			if legacy {
				extra = "-ver"
			}
			for i, rid := range []string{"", "rid='abc'", "rid='0'", "rid='-1'"} {
				s := x.create(uint64(1000*(i+1)), extra)
				r := x.send("<body " + rid + " sid='" + s.sid + "' xmlns='" + NS + "'><m xmlns='x'/></body>")
				assert.Equal(t, "bad-request", r.Condition(), r.Raw)
				if legacy {
					assert.Equal(t, http.StatusBadRequest, r.Status)
				} else {
					assert.Equal(t, http.StatusOK, r.Status)
				}
				assert.Empty(t, x.up.stream(t, i).requests(), "nothing forwarded")
			}
		})
	}
}

// ccBody is a request body that hands out prefix and then endless filler,
// recording how many bytes the handler read.
type ccBody struct {
	prefix []byte
	n      int64
}

func (b *ccBody) Read(p []byte) (int, error) {
	for i := range p {
		if b.n < int64(len(b.prefix)) {
			p[i] = b.prefix[b.n]
		} else {
			p[i] = ' '
		}
		b.n++
	}
	return len(p), nil
}

// TestOversizedBodyNotReadWhole: a body larger than Config.MaxBodySize
// is refused with policy-violation before it is read whole: not read at all
// when Content-Length says so, and no more than the limit when the length
// is unknown (Config.MaxBodySize).
func TestOversizedBodyNotReadWhole(t *testing.T) {
	const limit = 1024
	t.Run("Content-Length over the limit", func(t *testing.T) {
		x := newTester(t, Config{MaxBodySize: limit})
		b := &ccBody{prefix: []byte(ccOpen)}
		r := httptest.NewRequest(http.MethodPost, "/http-bind", b)
		r.ContentLength = 10 * limit
		res := x.do(r).wait()
		assert.True(t, res.IsTerm("policy-violation"), res.Raw)
		assert.Zero(t, b.n, "nothing read")
		assert.Zero(t, x.ccOpens())
	})
	t.Run("unknown length, endless body", func(t *testing.T) {
		x := newTester(t, Config{MaxBodySize: limit})
		b := &ccBody{prefix: []byte(ccOpen)}
		r := httptest.NewRequest(http.MethodPost, "/http-bind", b)
		r.ContentLength = -1
		res := x.do(r).wait()
		assert.True(t, res.IsTerm("policy-violation"), res.Raw)
		assert.LessOrEqual(t, b.n, int64(limit+1), "read no further than the limit")
	})
	t.Run("exactly the limit is accepted, one more byte is not", func(t *testing.T) {
		x := newTester(t, Config{MaxBodySize: limit})
		pad := func(n int) string {
			return ccOpen + strings.Repeat(" ", n-len(ccOpen)-len("</body>")) + "</body>"
		}
		r := x.send(pad(limit))
		assert.NotEmpty(t, r.Attr("sid"), r.Raw)
		r = x.send(pad(limit + 1))
		assert.True(t, r.IsTerm("policy-violation"), r.Raw)
	})
}

// TestResponseCompression: a response at least Config.CompressMin long
// is compressed with an encoding the request's Accept-Encoding allows, and
// only then (XEP-0124 §5, RFC 9110 §12.5.3). parseResp checks that the
// Content-Length is that of the compressed bytes and decompresses them.
func TestResponseCompression(t *testing.T) {
	cases := []struct {
		name, accept, want string
	}{
		{"gzip (§5)", "gzip", "gzip"},
		{"deflate (§5)", "deflate", "deflate"},
		{"case-insensitive coding (§5)", "GZip", "gzip"},
		{"highest q wins (§5)", "deflate;q=0.5, gzip;q=0.8", "gzip"},
		{"q=0 refuses gzip (§5)", "gzip;q=0, deflate", "deflate"},
		{"q=0 with spaces (§5)", "deflate ; q=0 , gzip", "gzip"},
		{"Q=0 is q=0 (RFC 9110 §12.4.2)", "gzip;Q=0", ""},
		{"only q=0 codings: none (§5)", "gzip;q=0, deflate;q=0.0", ""},
		{"codings we lack are never used (§5)", "br, zstd", ""},
		{"identity (§5)", "identity", ""},
		{"no Accept-Encoding: none (§5, RFC 2616 §14.3)", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, Config{CompressMin: 1})
			var hdr []string
			if tc.accept != "" {
				hdr = []string{"Accept-Encoding", tc.accept}
			}
			r := x.send(createBody(1000, ""), hdr...)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, tc.want, r.Header.Get("Content-Encoding"))
			assert.NotEmpty(t, r.Attr("sid"), "the body decompresses to the creation response")
			assert.Equal(t, contentDefault, r.Header.Get("Content-Type"))
		})
	}
	t.Run("a large payload with the default CompressMin (§5)", func(t *testing.T) {
		x := newTester(t, Config{})
		big := "<message xmlns='jabber:client'><body>" + strings.Repeat("hello ", 2000) + "</body></message>"
		x.up.onOpen = func(req *OpenRequest, sink Sink) { sink.Deliver([]byte(big)) }
		c := x.post(createBody(1000, ""), "Accept-Encoding", "gzip")
		<-c.done
		n, err := strconv.Atoi(c.rec.Header().Get("Content-Length"))
		require.NoError(t, err)
		assert.Less(t, n, len(big)/10, "compressed on the wire")
		r := c.wait()
		assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
		assert.Equal(t, []string{big}, r.Children)
	})
	t.Run("below CompressMin: not compressed (§5)", func(t *testing.T) {
		x := newTester(t, Config{CompressMin: 1 << 20})
		r := x.send(createBody(1000, ""), "Accept-Encoding", "gzip, deflate")
		assert.Empty(t, r.Header.Get("Content-Encoding"))
		assert.NotEmpty(t, r.Attr("sid"))
	})
	t.Run("error bodies follow the same rule (§5)", func(t *testing.T) {
		x := newTester(t, Config{CompressMin: 1})
		r := x.send("<body rid='1' sid='nosuchsid' xmlns='"+NS+"'/>", "Accept-Encoding", "deflate")
		assert.Equal(t, "deflate", r.Header.Get("Content-Encoding"))
		assert.True(t, r.IsTerm("item-not-found"), r.Raw)
	})
}

func ccDeflate(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// TestCompressedRequests: the creation response advertises 'accept' as
// a comma-separated list, and request bodies compressed with those
// encodings are processed as if they were not (XEP-0124 §7.2). Corrupt
// data is a bad-request; data that expands past Config.MaxBodySize is a
// policy-violation.
func TestCompressedRequests(t *testing.T) {
	x := newTester(t, Config{MaxBodySize: 4096})
	x.up.echo = true
	s := x.create(1000, "")
	assert.ElementsMatch(t, []string{"gzip", "deflate"}, strings.Split(s.created.Attr("accept"), ","), "comma-separated, no spaces")

	for i, enc := range []struct {
		name string
		zip  func([]byte) []byte
	}{{"gzip", gzipBytes}, {"deflate", ccDeflate}, {"x-gzip", gzipBytes}} {
		t.Run(""+enc.name+" request body (§7.2)", func(t *testing.T) {
			msg := "<message xmlns='jabber:client'><body>" + enc.name + "</body></message>"
			r := x.do(httptest.NewRequest(http.MethodPost, "/http-bind", bytes.NewReader(enc.zip([]byte(s.body(uint64(i+1), "", msg))))), "Content-Encoding", enc.name).wait()
			assert.Equal(t, []string{msg}, r.Children, r.Raw)
		})
	}
	t.Run("gzip creation request (§7.2)", func(t *testing.T) {
		r := x.do(httptest.NewRequest(http.MethodPost, "/http-bind", bytes.NewReader(gzipBytes([]byte(createBody(5000, ""))))), "Content-Encoding", "gzip").wait()
		assert.NotEmpty(t, r.Attr("sid"), r.Raw)
	})

	bomb := gzipBytes([]byte(ccOpen + "<m xmlns='x'>" + strings.Repeat("a", 2<<20) + "</m></body>"))
	require.Less(t, len(bomb), 4096, "the compressed bomb itself is under the limit")
	corrupt := gzipBytes([]byte(createBody(6000, "")))
	corrupt[len(corrupt)/2] ^= 0xff
	bad := []struct {
		name string
		body []byte
		enc  string
		want string
	}{
		{"corrupt gzip: bad-request (§7.2)", corrupt, "gzip", "bad-request"},
		{"not gzip at all: bad-request (§7.2)", []byte(createBody(6000, "")), "gzip", "bad-request"},
		{"truncated deflate: bad-request (§7.2)", ccDeflate([]byte(createBody(6000, "")))[:20], "deflate", "bad-request"},
		{"encoding not in 'accept': bad-request (§7.2)", []byte(createBody(6000, "")), "br", "bad-request"},
		{"gzip bomb: policy-violation (Config.MaxBodySize)", bomb, "gzip", "policy-violation"},
	}
	for _, tc := range bad {
		t.Run(""+tc.name, func(t *testing.T) {
			r := x.do(httptest.NewRequest(http.MethodPost, "/http-bind", bytes.NewReader(tc.body)), "Content-Encoding", tc.enc).wait()
			assert.True(t, r.IsTerm(tc.want), r.Raw)
		})
	}
	assert.Equal(t, 2, x.ccOpens(), "no session from a bad body")
}

// TestCORSListedOrigin: with Config.AllowOrigins, a preflight from a listed
// origin gets 204 with the CORS headers, and its POSTs carry them too
// .
func TestCORSListedOrigin(t *testing.T) {
	const origin = "https://chat.example"
	x := newTester(t, Config{AllowOrigins: []string{origin}})
	pre := httptest.NewRequest(http.MethodOptions, "/http-bind", nil)
	c := x.do(pre, "Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	<-c.done
	res := c.rec.Result()
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Equal(t, origin, res.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", res.Header.Get("Access-Control-Allow-Credentials"))
	assert.Contains(t, res.Header.Get("Access-Control-Allow-Methods"), "POST")
	assert.Contains(t, strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "content-type")
	assert.Contains(t, res.Header.Values("Vary"), "Origin")

	r := x.send(createBody(1000, ""), "Origin", origin)
	require.NotEmpty(t, r.Attr("sid"), r.Raw)
	assert.Equal(t, origin, r.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", r.Header.Get("Access-Control-Allow-Credentials"))
}

// TestCORSOtherOriginRefused: an origin not on the list is refused with
// HTTP 403 and a terminate body, and gets no CORS headers; the handler's
// own origin needs none.
func TestCORSOtherOriginRefused(t *testing.T) {
	x := newTester(t, Config{AllowOrigins: []string{"https://chat.example"}})
	for _, m := range []string{http.MethodPost, http.MethodOptions} {
		r := x.do(httptest.NewRequest(m, "/http-bind", strings.NewReader(createBody(1000, ""))), "Origin", "https://evil.example").wait()
		assert.Equal(t, http.StatusForbidden, r.Status, m)
		assert.Equal(t, "terminate", r.Type(), m)
		assert.Empty(t, r.Header.Get("Access-Control-Allow-Origin"), m)
		assert.Empty(t, r.Header.Get("Access-Control-Allow-Credentials"), m)
	}
	assert.Zero(t, x.ccOpens())
	// httptest.NewRequest's Host is example.com: a same-origin page.
	r := x.send(createBody(1000, ""), "Origin", "https://example.com")
	assert.NotEmpty(t, r.Attr("sid"), r.Raw)
	assert.Empty(t, r.Header.Get("Access-Control-Allow-Origin"))
}

// TestCORSWildcard: "*" allows any origin and never with credentials
// (Fetch standard: "*" and credentials do not mix).
func TestCORSWildcard(t *testing.T) {
	x := newTester(t, Config{AllowOrigins: []string{"*"}})
	c := x.do(httptest.NewRequest(http.MethodOptions, "/http-bind", nil), "Origin", "https://any.example", "Access-Control-Request-Method", "POST")
	<-c.done
	res := c.rec.Result()
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Equal(t, "*", res.Header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, res.Header.Values("Access-Control-Allow-Credentials"))
	assert.Contains(t, res.Header.Get("Access-Control-Allow-Methods"), "POST")

	r := x.send(createBody(1000, ""), "Origin", "https://any.example")
	require.NotEmpty(t, r.Attr("sid"), r.Raw)
	assert.Equal(t, "*", r.Header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, r.Header.Values("Access-Control-Allow-Credentials"))
}

// TestGetRefused: XEP-0252 Script Syntax (GET) is not served: 405 with
// an Allow header and a BOSH terminate body, not an HTML page (XEP-0252, the script syntax XEP-0124 no longer has).
func TestGetRefused(t *testing.T) {
	x := newTester(t, Config{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		q := "/http-bind?%3Cbody%20rid='1'%20to='example.com'%20wait='10'%20hold='1'%20xmlns='http://jabber.org/protocol/httpbind'/%3E"
		r := x.do(httptest.NewRequest(m, q, nil)).wait()
		assert.Equal(t, http.StatusMethodNotAllowed, r.Status, m)
		assert.Contains(t, r.Header.Get("Allow"), "POST", m)
		assert.Equal(t, "terminate", r.Type(), m)
		assert.Equal(t, contentDefault, r.Header.Get("Content-Type"), m)
		assert.NotContains(t, r.Raw, "_BOSH_(")
	}
	assert.Zero(t, x.ccOpens())
}
