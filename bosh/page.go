package bosh

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
)

// A DomainLister is an Upstream that can name the target domains it serves
// (the 'to' of a session creation request, XEP-0124 §7.1). The handler
// lists them on its endpoint page (see Handler.ServeHTTP). Domains is
// called from the goroutine of a GET request, concurrently with anything
// else; it must not block, and the handler does not modify the slice.
type DomainLister interface {
	Domains() []string
}

// modulePath is the module whose version the endpoint page shows.
const modulePath = "github.com/httpbind/httpbind"

// pageStyle is the page's only style; the Content-Security-Policy allows
// it by its hash and nothing else.
const pageStyle = `body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5;color:#1d1d1f}` +
	`code,pre{font-family:ui-monospace,monospace;background:#f2f2f4;border-radius:4px}code{padding:0 .2em}` +
	`pre{padding:.7em 1em;overflow-x:auto}pre code{padding:0;background:none}footer{margin-top:2em;color:#666;font-size:.9em}`

var pageCSP = "default-src 'none'; style-src 'sha256-" + hashBase64(pageStyle) + "'; " +
	"img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func hashBase64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// pageTemplate is the endpoint page. html/template escapes every value in
// its context; the code samples get the URL and domain as JavaScript
// string literals (JSON), escaped again as HTML text.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>BOSH endpoint</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>BOSH endpoint</h1>
<p id="what">This URL is an XMPP over BOSH endpoint
(<a href="https://xmpp.org/extensions/xep-0124.html">XEP-0124</a>,
<a href="https://xmpp.org/extensions/xep-0206.html">XEP-0206</a>):
XMPP clients in web pages connect to it with HTTP POST requests.
Opening it in a browser shows only this page.</p>
{{- if .Domains}}
<h2>Domains served</h2>
<ul id="domains">
{{- range .Domains}}
<li><code>{{.}}</code></li>
{{- end}}
</ul>
{{- end}}
<h2>Connecting</h2>
<p>The endpoint URL is <code id="url">{{.URL}}</code>.</p>
<p>With <a href="https://strophe.im/strophejs/">Strophe.js</a>:</p>
<pre id="strophe"><code>const connection = new Strophe.Connection({{.URLJS}});
connection.connect("user@" + {{.DomainJS}}, password, onStatus);</code></pre>
<p>With <a href="https://conversejs.org/">converse.js</a>:</p>
<pre id="converse"><code>converse.initialize({
  bosh_service_url: {{.URLJS}},
  view_mode: "fullscreen",
});</code></pre>
<p>A page served from another origin can use the endpoint only if the
server allows that origin (CORS).</p>
<footer id="version">httpbind {{.Version}}</footer>
</body>
</html>
`))

// pageData fills pageTemplate.
type pageData struct {
	Style    template.CSS
	Domains  []string
	URL      string
	URLJS    string // URL as a JavaScript string literal
	DomainJS string // the first domain, or "example.com", likewise
	Version  string
}

// page answers a GET or HEAD without a query on the endpoint: a short HTML
// page saying what the URL is for, the domains served (when the Upstream
// is a DomainLister), how to point Strophe.js or converse.js at it, and
// httpbind's version. A HEAD gets the same headers without the body.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	d := pageData{Style: template.CSS(pageStyle), URL: h.endpointURL(r), Version: moduleVersion()}
	if dl, ok := h.up.(DomainLister); ok {
		d.Domains = dl.Domains()
	}
	domain := "example.com"
	if len(d.Domains) > 0 {
		domain = d.Domains[0]
	}
	d.URLJS, d.DomainJS = jsString(d.URL), jsString(domain)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		h.fail(w, r, nil, err) // cannot happen with this template and data
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", pageCSP)
	hdr.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// endpointURL is the endpoint's URL as the client reached it: the scheme
// of the connection and the request's Host, or, from a trusted proxy
// (Config.TrustedProxies), what its Forwarded (RFC 7239 §5.3, §5.4) or
// X-Forwarded-Proto and X-Forwarded-Host headers say.
func (h *Handler) endpointURL(r *http.Request) string {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if len(h.proxies) > 0 {
		if ip := parseHop(r.RemoteAddr); ip.IsValid() && h.proxies.trusted(ip) {
			if p := forwarded(r.Header, "proto", "X-Forwarded-Proto"); p == "http" || p == "https" {
				u.Scheme = p
			}
			if host := forwarded(r.Header, "host", "X-Forwarded-Host"); host != "" {
				u.Host = host
			}
		}
	}
	if u.Host == "" {
		u.Host = "localhost"
	}
	return u.String()
}

// forwarded returns the last value of the Forwarded parameter param, or
// without one, the last value of the header xheader: the one the trusted
// proxy nearest to the handler wrote. It returns "" when neither is there.
func forwarded(hdr http.Header, param, xheader string) string {
	if vs := forwardedParam(hdr.Values("Forwarded"), param); len(vs) > 0 {
		return strings.ToLower(vs[len(vs)-1])
	}
	vs := hdr.Values(xheader)
	if len(vs) == 0 {
		return ""
	}
	parts := strings.Split(vs[len(vs)-1], ",")
	return strings.ToLower(strings.TrimSpace(parts[len(parts)-1]))
}

// moduleVersion is httpbind's module version from the build information
// (runtime/debug), with the VCS revision when httpbind is the main module,
// and the Go version; "unknown" without build information.
var moduleVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := ""
	if bi.Main.Path == modulePath {
		v = bi.Main.Version
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" && !strings.Contains(v, rev[:min(len(rev), 12)]) {
			v += " " + rev[:min(len(rev), 12)]
			if modified == "true" {
				v += "+dirty"
			}
		}
	}
	for _, m := range bi.Deps {
		if m.Path == modulePath {
			v = m.Version
			if m.Replace != nil {
				v += " (replaced)"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v + ", " + bi.GoVersion
})
