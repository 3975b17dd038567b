package bosh

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// namingUp is a fake upstream that names its domains (DomainLister).
type namingUp struct {
	*fakeUp
	domains []string
}

func (u namingUp) Domains() []string { return u.domains }

// page is the endpoint page as a client got it.
type page struct {
	status int
	header http.Header
	raw    string
	byID   map[string]string // text of each element with an id
}

// getPage serves r and parses the answer as HTML.
func getPage(t *testing.T, h *Handler, r *http.Request) page {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := rec.Result()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	p := page{status: res.StatusCode, header: res.Header, raw: string(raw), byID: map[string]string{}}
	doc, err := html.Parse(strings.NewReader(p.raw))
	require.NoError(t, err)
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		for _, a := range n.Attr {
			if a.Key == "id" {
				p.byID[a.Val] = textOf(n)
			}
		}
		if n.Data == "style" {
			p.byID["<style>"] = textOf(n)
		}
	}
	return p
}

// textOf is the text inside n, entities decoded.
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func TestEndpointPage(t *testing.T) {
	tests := []struct {
		name    string
		up      Upstream
		cfg     Config
		request func() *http.Request
		check   func(t *testing.T, p page)
	}{
		{
			name: "GET: what the URL is, the version, how to connect",
			up:   &fakeUp{},
			request: func() *http.Request {
				return httptest.NewRequest(http.MethodGet, "http://chat.example.com/http-bind", nil)
			},
			check: func(t *testing.T, p page) {
				assert.Contains(t, p.byID["what"], "XEP-0124")
				assert.Contains(t, p.byID["what"], "XEP-0206")
				assert.Equal(t, "http://chat.example.com/http-bind", p.byID["url"])
				assert.Contains(t, p.byID["strophe"], `new Strophe.Connection("http://chat.example.com/http-bind")`)
				assert.Contains(t, p.byID["strophe"], `"user@" + "example.com"`)
				assert.Contains(t, p.byID["converse"], `bosh_service_url: "http://chat.example.com/http-bind"`)
				assert.Equal(t, "httpbind "+moduleVersion(), p.byID["version"])
				assert.NotContains(t, p.byID, "domains", "an upstream that names no domains: no list")
			},
		},
		{
			name: "the domains of a DomainLister upstream",
			up:   namingUp{&fakeUp{}, []string{"example.org", "muc.example.org"}},
			request: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "https://chat.example.org/bind", nil)
				r.TLS = &tls.ConnectionState{}
				return r
			},
			check: func(t *testing.T, p page) {
				assert.Equal(t, "\nexample.org\nmuc.example.org\n", p.byID["domains"])
				assert.Equal(t, "https://chat.example.org/bind", p.byID["url"])
				assert.Contains(t, p.byID["strophe"], `"user@" + "example.org"`)
			},
		},
		{
			name: "everything escaped: domains and Host",
			up:   namingUp{&fakeUp{}, []string{`<script>alert("d")</script>`}},
			request: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/http-bind", nil)
				r.Host = `x"><script>alert(1)</script>`
				return r
			},
			check: func(t *testing.T, p page) {
				assert.NotContains(t, p.raw, "<script")
				assert.Contains(t, p.byID["domains"], `<script>alert("d")</script>`, "shown as text")
				assert.Contains(t, p.byID["url"], `x"><script>alert(1)`, "shown as text")
			},
		},
		{
			name: "a trusted proxy's Forwarded proto and host (RFC 7239 §5.3, §5.4)",
			up:   &fakeUp{},
			cfg:  Config{TrustedProxies: []string{"192.0.2.1"}},
			request: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "http://10.0.0.5:5280/http-bind", nil)
				r.RemoteAddr = "192.0.2.1:4000"
				r.Header.Set("Forwarded", `for=198.51.100.7;proto=https;host="chat.example.com"`)
				return r
			},
			check: func(t *testing.T, p page) {
				assert.Equal(t, "https://chat.example.com/http-bind", p.byID["url"])
			},
		},
		{
			name: "a trusted proxy's X-Forwarded-Proto and X-Forwarded-Host",
			up:   &fakeUp{},
			cfg:  Config{TrustedProxies: []string{"192.0.2.0/24"}},
			request: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "http://10.0.0.5:5280/http-bind", nil)
				r.RemoteAddr = "192.0.2.1:4000"
				r.Header.Set("X-Forwarded-Proto", "https")
				r.Header.Set("X-Forwarded-Host", "chat.example.com")
				return r
			},
			check: func(t *testing.T, p page) {
				assert.Equal(t, "https://chat.example.com/http-bind", p.byID["url"])
			},
		},
		{
			name: "an untrusted peer's X-Forwarded headers are ignored",
			up:   &fakeUp{},
			cfg:  Config{TrustedProxies: []string{"192.0.2.1"}},
			request: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "http://10.0.0.5:5280/http-bind", nil)
				r.RemoteAddr = "203.0.113.9:4000"
				r.Header.Set("X-Forwarded-Proto", "https")
				r.Header.Set("X-Forwarded-Host", "evil.example")
				return r
			},
			check: func(t *testing.T, p page) {
				assert.Equal(t, "http://10.0.0.5:5280/http-bind", p.byID["url"])
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHandler(tc.up, tc.cfg)
			require.NoError(t, err)
			p := getPage(t, h, tc.request())
			require.Equal(t, http.StatusOK, p.status, p.raw)
			assert.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
			assert.Equal(t, strconv.Itoa(len(p.raw)), p.header.Get("Content-Length"))
			assert.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"))
			assert.Contains(t, p.header.Get("Content-Security-Policy"), "default-src 'none'")
			assert.Contains(t, p.header.Get("Content-Security-Policy"), "'sha256-"+hashBase64(p.byID["<style>"])+"'",
				"the policy allows the page's own style")
			tc.check(t, p)
			st := h.Stats()
			assert.Zero(t, st.Requests, "the page is not a BOSH request")
			assert.Zero(t, st.Sessions)
		})
	}
}

// TestEndpointPageHead: HEAD gets the page's headers without its body
// (RFC 9110 §9.3.2).
func TestEndpointPageHead(t *testing.T) {
	h, err := NewHandler(&fakeUp{}, Config{})
	require.NoError(t, err)
	get := getPage(t, h, httptest.NewRequest(http.MethodGet, "/http-bind", nil))
	head := getPage(t, h, httptest.NewRequest(http.MethodHead, "/http-bind", nil))
	assert.Equal(t, http.StatusOK, head.status)
	assert.Empty(t, head.raw)
	assert.Equal(t, get.header, head.header)
}

// TestEndpointPageNotForScriptSyntax: a GET or HEAD with a query is the
// script syntax (XEP-0252, removed from XEP-0124 in v1.7), not a person:
// HTTP 405 with a terminate body as before, never the page.
func TestEndpointPageNotForScriptSyntax(t *testing.T) {
	x := newTester(t, Config{})
	for _, target := range []string{
		"/http-bind?%3Cbody%20rid='1'%20to='example.com'%20xmlns='http://jabber.org/protocol/httpbind'/%3E",
		"/http-bind?anything",
	} {
		r := x.do(httptest.NewRequest(http.MethodGet, target, nil)).wait()
		assert.Equal(t, http.StatusMethodNotAllowed, r.Status, target)
		assert.Equal(t, "terminate", r.Type(), target)
		assert.Equal(t, "bad-request", r.Condition(), target)
		assert.Equal(t, "GET, HEAD, POST, OPTIONS", r.Header.Get("Allow"))
	}
	c := x.do(httptest.NewRequest(http.MethodHead, "/http-bind?x", nil))
	<-c.done
	assert.Equal(t, http.StatusMethodNotAllowed, c.rec.Code)
	assert.Zero(t, x.ccOpens())
}
