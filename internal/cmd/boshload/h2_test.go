package main

import (
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counted counts what a server saw: connections accepted and requests by
// HTTP major version.
type counted struct {
	conns        atomic.Int64
	http1, http2 atomic.Int64
}

// serve starts an HTTP server in front of h whose protocols and TLS the
// case sets, counting into c.
func (c *counted) serve(t *testing.T, h http.Handler, tlsOn bool, protocols func(*http.Protocols)) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			c.http2.Add(1)
		} else {
			c.http1.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	var p http.Protocols
	protocols(&p)
	ts.Config.Protocols = &p
	if tlsOn {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts
}

// TestRunHTTP2: ten sessions exchange twenty messages each over HTTP/2,
// with prior knowledge (-h2c) and over TLS (-h2 with -ca): nothing is
// lost, every request the server saw was HTTP/2, and the server accepted
// exactly one connection per session. The same load over HTTP/1.1 takes
// at least one connection per held request.
func TestRunHTTP2(t *testing.T) {
	both := func(p *http.Protocols) { p.SetHTTP1(true); p.SetUnencryptedHTTP2(true); p.SetHTTP2(true) }
	tests := []struct {
		name      string
		tls       bool
		args      []string
		wantHTTP2 bool
		wantConns int64 // over HTTP/2
	}{
		{name: "h2c, prior knowledge", args: []string{"-h2c"}, wantHTTP2: true, wantConns: 10},
		{name: "h2c, five sessions a connection", args: []string{"-h2c", "-sessions-per-conn", "5"}, wantHTTP2: true, wantConns: 2},
		{name: "HTTP/2 over TLS", tls: true, args: []string{"-h2"}, wantHTTP2: true, wantConns: 10},
		{name: "HTTP/1.1 to the same server", args: nil, wantHTTP2: false},
		{name: "HTTP/1.1 over TLS", tls: true, args: nil, wantHTTP2: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := newServer(t, 10)
			var c counted
			ts := c.serve(t, back.Handler, tt.tls, both)
			args := append([]string{"-url", ts.URL + "/http-bind", "-sessions", "10", "-messages", "20",
				"-password-format", "pw-%d", "-idle", "0s", "-wait", "5s", "-duration", "60s"}, tt.args...)
			if tt.tls {
				ca := filepath.Join(t.TempDir(), "ca.pem")
				require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600))
				args = append(args, "-ca", ca)
			}
			res, report, err := runJSON(t, args...)
			require.NoError(t, err, report)
			assert.Equal(t, 10, res.LoggedIn, report)
			assert.Equal(t, int64(200), res.Delivered)
			assert.Zero(t, res.Lost)
			assert.Zero(t, res.Duplicated)
			assert.Zero(t, res.SessionsFailed)
			assert.Zero(t, res.SessionsStuck)
			assert.Empty(t, res.Errors)
			if tt.wantHTTP2 {
				assert.Zero(t, c.http1.Load(), "HTTP/1.1 requests")
				assert.Positive(t, c.http2.Load(), "HTTP/2 requests")
				assert.Equal(t, tt.wantConns, c.conns.Load(), "connections")
			} else {
				assert.Zero(t, c.http2.Load(), "HTTP/2 requests")
				assert.Positive(t, c.http1.Load(), "HTTP/1.1 requests")
				assert.GreaterOrEqual(t, c.conns.Load(), int64(10), "a connection per held request")
			}
		})
	}
}
