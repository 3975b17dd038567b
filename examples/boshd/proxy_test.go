package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/proxytest"
)

// proxyCycles is how many times the idle session's empty request is held
// for its whole 'wait' behind each proxy: about 45 s each with boshd's
// default MaxWait, all proxies at once.
var proxyCycles = flag.Int("proxy.cycles", 2, "idle long-poll cycles behind each reverse proxy (TestBehindReverseProxy)")

// proxyHost is the public name of the README's configurations.
const proxyHost = "chat.example.com"

// readmeConfig returns the configuration in ../../README.md that follows
// the marker <!-- proxytest:name --> in a fenced block, with each pair of
// replace (old, new) applied; every old must be in it.
func readmeConfig(t *testing.T, name string, replace ...string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- proxytest:" + name + " -->\\s*```[a-z]*\\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README.md has no configuration marked proxytest:%s", name)
	conf := string(m[1])
	for i := 0; i+1 < len(replace); i += 2 {
		require.Contains(t, conf, replace[i], "README.md's %s configuration", name)
		conf = strings.ReplaceAll(conf, replace[i], replace[i+1])
	}
	return conf
}

// proxySetup is one reverse proxy in front of boshd.
type proxySetup struct {
	name string
	// readme: the README's configuration (TLS, X-Forwarded-For,
	// keep-alive to boshd); otherwise the proxy's defaults.
	readme bool
	start  func(t *testing.T, addr, boshd string, cert *proxytest.Certificate) *proxytest.Proxy
}

var proxySetups = []proxySetup{
	{name: "nginx defaults", start: func(t *testing.T, addr, boshd string, _ *proxytest.Certificate) *proxytest.Proxy {
		// A plain proxy_pass: nginx's defaults for everything else
		// (proxy_read_timeout 60s, HTTP/1.0 to boshd, buffering on).
		return proxytest.Nginx(t, addr, fmt.Sprintf("server {\n\tlisten %s;\n\tlocation /http-bind {\n\t\tproxy_pass http://%s;\n\t}\n}\n", addr, boshd))
	}},
	{name: "nginx README", readme: true, start: func(t *testing.T, addr, boshd string, cert *proxytest.Certificate) *proxytest.Proxy {
		return proxytest.Nginx(t, addr, readmeConfig(t, "nginx",
			"server 127.0.0.1:5280;", "server "+boshd+";",
			"listen 443 ssl http2;", "listen "+addr+" ssl http2;",
			"/etc/ssl/certs/chat.example.com.pem", cert.CertFile,
			"/etc/ssl/private/chat.example.com.key", cert.KeyFile))
	}},
	{name: "haproxy defaults", start: func(t *testing.T, addr, boshd string, _ *proxytest.Certificate) *proxytest.Proxy {
		// Debian's haproxy.cfg defaults (timeout server 50s) and a plain
		// frontend and backend.
		return proxytest.HAProxy(t, addr, fmt.Sprintf("frontend bosh\n\tbind %s\n\tdefault_backend boshd\n\nbackend boshd\n\tserver boshd %s\n", addr, boshd))
	}},
	{name: "haproxy README", readme: true, start: func(t *testing.T, addr, boshd string, cert *proxytest.Certificate) *proxytest.Proxy {
		return proxytest.HAProxy(t, addr, readmeConfig(t, "haproxy",
			"bind :443 ", "bind "+addr+" ",
			"/etc/haproxy/certs/chat.example.com.pem", cert.Combined,
			"server boshd 127.0.0.1:5280", "server boshd "+boshd))
	}},
}

// TestBehindReverseProxy: through Debian's nginx and HAProxy, with their
// defaults and with the README's configurations, a session that stays
// idle sees only HTTP 200: boshd's default MaxWait answers each held
// request before the proxy's timeout (nginx 60s, HAProxy 50s as Debian
// configures it). With the README's configurations boshd also gets the
// client's address (X-Forwarded-For with -trusted-proxies) and the
// public URL for its endpoint page, over HTTP/1.1 connections that the
// proxy keeps open. The four run at once; the test takes about
// -proxy.cycles × 45 s.
func TestBehindReverseProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("idle cycles of 45 s; skipped with -short")
	}
	// All at once, whatever -parallel says: each waits on idle requests.
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, ps := range proxySetups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(ps.name, func(t *testing.T) { behindProxy(t, ps) })
		}()
	}
}

// behindProxy is TestBehindReverseProxy through one proxy setup.
func behindProxy(t *testing.T, ps proxySetup) {
	d := start(t, "-trusted-proxies", "127.0.0.1", "-max-sessions-per-address", "1")
	counter := proxytest.Count(t, strings.TrimPrefix(d.base, "http://"))
	cert := proxytest.Cert(t, proxyHost)
	p := ps.start(t, proxytest.FreeAddr(t), counter.Addr, cert)
	c := newProxyClient(p.Addr, ps.readme, cert)
	requests := 0
	if ps.readme {
		status, page := c.get(t, "127.0.0.2")
		requests++
		assert.Equal(t, http.StatusOK, status)
		assert.Contains(t, page, "https://"+proxyHost+"/http-bind",
			"the page names the public URL (Host, X-Forwarded-Proto)")
		assert.Equal(t, "HTTP/2.0", c.proto, "HTTP/2 from the browser to the proxy")
	}

	sid, wait := c.create(t, "127.0.0.2", 1000)
	requests++
	assert.Equal(t, bosh.DefaultMaxWait, wait, "Strophe.js's wait='60' is capped")
	if ps.readme {
		// -max-sessions-per-address 1 counts the client's address
		// from X-Forwarded-For, not the proxy's.
		status, _ := c.post(t, "127.0.0.2", proxyCreateBody(2000))
		assert.Equal(t, http.StatusServiceUnavailable, status, "a second session from 127.0.0.2")
		other, _ := c.create(t, "127.0.0.3", 3000)
		c.terminate(t, "127.0.0.3", other, 3001)
		requests += 3
	}

	for i := range *proxyCycles {
		t0 := time.Now()
		status, body := c.post(t, "127.0.0.2", fmt.Sprintf("<body rid='%d' sid='%s' xmlns='%s'/>", 1001+i, sid, bosh.NS))
		took := time.Since(t0)
		requests++
		t.Logf("%s: idle cycle %d: HTTP %d after %v", ps.name, i+1, status, took.Round(10*time.Millisecond))
		require.Equal(t, http.StatusOK, status, "cycle %d: %s", i+1, body)
		assert.NotContains(t, body, "type='terminate'", "cycle %d", i+1)
		assert.GreaterOrEqual(t, took, wait-time.Second, "held for the session's wait")
	}
	c.terminate(t, "127.0.0.2", sid, uint64(1001+*proxyCycles))
	requests++
	t.Logf("%s: %d requests over %d connections to boshd", ps.name, requests, counter.Conns())
	if ps.readme {
		assert.Less(t, counter.Conns(), requests, "HTTP/1.1 keep-alive to boshd")
	}
}

// proxyClient sends BOSH requests through a proxy from a chosen loopback
// address: over TLS to proxyHost for the README's configurations.
type proxyClient struct {
	url     string
	tls     *tls.Config
	addr    string // the proxy's
	timeout time.Duration
	proto   string // of the last response, such as "HTTP/2.0"
}

func newProxyClient(addr string, readme bool, cert *proxytest.Certificate) *proxyClient {
	c := &proxyClient{url: "http://" + addr + "/http-bind", addr: addr, timeout: 2 * bosh.DefaultMaxWait}
	if readme {
		c.url = "https://" + proxyHost + "/http-bind"
		c.tls = &tls.Config{RootCAs: cert.Roots, ServerName: proxyHost}
	}
	return c
}

// http returns a client whose connections come from the loopback address
// from and all go to the proxy. Every request gets a new client, so that
// each creation comes from the address asked for.
func (c *proxyClient) http(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: c.timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, c.addr)
			},
			TLSClientConfig:   c.tls,
			ForceAttemptHTTP2: c.tls != nil, // browsers speak HTTP/2 to the proxy
		},
	}
}

func (c *proxyClient) do(t *testing.T, from string, req *http.Request) (int, string) {
	t.Helper()
	hc := c.http(from)
	defer hc.CloseIdleConnections()
	res, err := hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	c.proto = res.Proto
	return res.StatusCode, string(body)
}

func (c *proxyClient) get(t *testing.T, from string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.url, nil)
	require.NoError(t, err)
	return c.do(t, from, req)
}

func (c *proxyClient) post(t *testing.T, from, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	return c.do(t, from, req)
}

// proxyCreateBody is a session creation request as Strophe.js sends it.
func proxyCreateBody(rid uint64) string {
	return fmt.Sprintf("<body rid='%d' to='localhost' wait='60' hold='1' ver='1.6' xml:lang='en' xmlns='%s'/>", rid, bosh.NS)
}

// create opens a session and returns its sid and wait (XEP-0124 §7.2).
func (c *proxyClient) create(t *testing.T, from string, rid uint64) (string, time.Duration) {
	t.Helper()
	status, body := c.post(t, from, proxyCreateBody(rid))
	require.Equal(t, http.StatusOK, status, body)
	sid := regexp.MustCompile(`sid='([^']+)'`).FindStringSubmatch(body)
	wait := regexp.MustCompile(`wait='(\d+)'`).FindStringSubmatch(body)
	require.NotNil(t, sid, body)
	require.NotNil(t, wait, body)
	secs, err := time.ParseDuration(wait[1] + "s")
	require.NoError(t, err)
	return sid[1], secs
}

// terminate ends a session (XEP-0124 §13).
func (c *proxyClient) terminate(t *testing.T, from, sid string, rid uint64) {
	t.Helper()
	status, body := c.post(t, from, fmt.Sprintf("<body rid='%d' sid='%s' type='terminate' xmlns='%s'/>", rid, sid, bosh.NS))
	assert.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "type='terminate'")
}
