package bosh

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// createFrom posts a creation request from the peer remote with headers
// (pairs of name, value) and waits for the answer.
func (x *tester) createFrom(remote, extra string, headers ...string) *resp {
	x.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(createBody(1000, extra)))
	r.RemoteAddr = remote
	return x.do(r, headers...).wait()
}

// TestTrustedProxiesClientAddress: Forwarded (RFC 7239) and X-Forwarded-For
// are believed only from a trusted peer; the client is the right-most hop
// not trusted, and is what the upstream sees as OpenRequest.RemoteAddr.
func TestTrustedProxiesClientAddress(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "2001:db8:ffff::1"}
	tests := []struct {
		name    string
		trusted []string
		peer    string
		headers []string
		want    string
	}{
		{"no list: headers ignored", nil, "10.0.0.1:5000", []string{"X-Forwarded-For", "203.0.113.7", "Forwarded", "for=203.0.113.8"}, "10.0.0.1:5000"},
		{"untrusted peer: headers ignored", proxies, "198.51.100.1:5000", []string{"X-Forwarded-For", "203.0.113.7"}, "198.51.100.1:5000"},
		{"trusted peer, no header", proxies, "10.0.0.1:5000", nil, "10.0.0.1:5000"},
		{"X-Forwarded-For one hop", proxies, "10.0.0.1:5000", []string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
		{"X-Forwarded-For: right-most untrusted, spoofed left hop ignored", proxies, "10.0.0.1:5000", []string{"X-Forwarded-For", "1.2.3.4, 203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"X-Forwarded-For every hop trusted: left-most", proxies, "10.0.0.1:5000", []string{"X-Forwarded-For", "10.0.0.9, 10.0.0.5"}, "10.0.0.9"},
		{"X-Forwarded-For garbage: the peer", proxies, "10.0.0.1:5000", []string{"X-Forwarded-For", "not-an-ip"}, "10.0.0.1:5000"},
		{"Forwarded with other parameters", proxies, "10.0.0.1:5000", []string{"Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60"},
		{"Forwarded quoted, bracketed IPv6 with port", proxies, "10.0.0.1:5000", []string{"Forwarded", `for="[2001:db8:cafe::17]:4711"`}, "[2001:db8:cafe::17]:4711"},
		{"Forwarded quoted IPv4 with port", proxies, "10.0.0.1:5000", []string{"Forwarded", `For="192.0.2.43:47011"`}, "192.0.2.43:47011"},
		{"Forwarded several elements", proxies, "10.0.0.1:5000", []string{"Forwarded", "for=1.2.3.4, for=198.51.100.17, for=10.0.0.5"}, "198.51.100.17"},
		{"Forwarded beats X-Forwarded-For", proxies, "10.0.0.1:5000", []string{"Forwarded", "for=198.51.100.17", "X-Forwarded-For", "203.0.113.7"}, "198.51.100.17"},
		{"Forwarded obfuscated: walk stops at the last trusted hop", proxies, "10.0.0.1:5000", []string{"Forwarded", "for=198.51.100.17, for=_hidden, for=10.0.0.5"}, "10.0.0.5"},
		{"Forwarded unknown right-most: the peer", proxies, "10.0.0.1:5000", []string{"Forwarded", "for=198.51.100.17, for=unknown"}, "10.0.0.1:5000"},
		{"IPv6 peer trusted", proxies, "[2001:db8:ffff::1]:443", []string{"X-Forwarded-For", "2001:db8::42"}, "2001:db8::42"},
		{"IPv4-mapped peer trusted by an IPv4 prefix", proxies, "[::ffff:10.0.0.1]:443", []string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newTester(t, Config{TrustedProxies: tt.trusted})
			r := x.createFrom(tt.peer, "", tt.headers...)
			require.NotEmpty(t, r.Attr("sid"), r.Raw)
			assert.Equal(t, tt.want, x.up.opens[0].RemoteAddr)
		})
	}
}

func TestTrustedProxiesConfig(t *testing.T) {
	for _, tt := range []struct {
		list []string
		ok   bool
	}{
		{nil, true},
		{[]string{"10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", " 192.0.2.1 "}, true},
		{[]string{"10.0.0.0/33"}, false},
		{[]string{"proxy.example.com"}, false},
		{[]string{""}, false},
	} {
		_, err := NewHandler(&fakeUp{}, Config{TrustedProxies: tt.list})
		assert.Equal(t, tt.ok, err == nil, "%q: %v", tt.list, err)
	}
}

func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:1", "for=\"[2001:db8::1]:80\", for=_x;proto=https", "1.2.3.4, 10.0.0.2")
	f.Add("[::1]:1", "for=unknown", "")
	h, err := NewHandler(&fakeUp{}, Config{TrustedProxies: []string{"10.0.0.0/8", "::1"}})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, peer, fwd, xff string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("Forwarded", fwd)
		r.Header.Set("X-Forwarded-For", xff)
		addr, ip := h.clientAddr(r)
		if ip.IsValid() {
			// The address written parses back to the IP counted.
			assert.Equal(t, ip, parseHop(addr))
		}
	})
}
