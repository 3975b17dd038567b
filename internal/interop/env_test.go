package interop

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/prosodytest"
	"github.com/httpbind/httpbind/internal/syncbuf"
	"github.com/httpbind/httpbind/xmppstream"
)

// domain is the test domain Prosody serves.
const domain = "example.test"

// Test accounts.
const (
	alicePass = "alice-pässword"
	bobPass   = "bob password"
)

// env is Prosody with two accounts and a BOSH handler with the TCP
// upstream in front of it.
type env struct {
	prosody *prosodytest.Server
	handler *bosh.Handler
	url     string // the handler's BOSH endpoint
	logs    *syncbuf.Buffer
}

// newEnv starts Prosody and the connection manager, with the upstream on
// Prosody's STARTTLS port or, with directTLS, its direct TLS port; both
// stop when the test ends.
func newEnv(t testing.TB, directTLS ...bool) *env {
	t.Helper()
	p := prosodytest.Start(t, prosodytest.Config{Domain: domain})
	p.Register("alice", alicePass)
	p.Register("bob", bobPass)
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := xmppstream.TCPConfig{
		Addr:       p.C2SAddr,
		Domains:    []string{domain},
		TLSConfig:  &tls.Config{RootCAs: p.CAPool},
		RequireTLS: true,
		Logger:     log,
	}
	if len(directTLS) > 0 && directTLS[0] {
		cfg.Addr, cfg.DirectTLS = p.C2STLSAddr, true
	}
	up, err := xmppstream.NewTCPUpstream(cfg)
	require.NoError(t, err)
	h, srv := serve(t, up, log)
	return &env{prosody: p, handler: h, url: srv.URL, logs: logs}
}

// serve runs a bosh.Handler for up on a loopback test server, shut down
// when the test ends.
func serve(t testing.TB, up bosh.Upstream, log *slog.Logger) (*bosh.Handler, *httptest.Server) {
	t.Helper()
	h, err := bosh.NewHandler(up, bosh.Config{Logger: log})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		srv.Close()
	})
	return h, srv
}

// dialBob connects bob to Prosody directly, binding resource (or one the
// server chooses, for "").
func (e *env) dialBob(ctx context.Context, t testing.TB, resource string) *prosodytest.TCPClient {
	t.Helper()
	bob, err := prosodytest.Dial(ctx, e.prosody.C2SAddr, domain, "bob", bobPass, e.prosody.CAPool, resource)
	require.NoError(t, err)
	t.Cleanup(func() { bob.Close() })
	return bob
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkGoroutines fails the test if, once everything it started has
// stopped, more goroutines run than before it started. Register it first
// (t.Cleanup runs last-in first-out). The wait for exiting goroutines is
// bounded.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // a bounded poll, not a timing rule
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines left behind (%d before):\n%s", n-before, before, buf)
		}
	})
}

// restartFeatures returns the first response body, in a boshtest trace,
// after the request that restarted the stream (XEP-0206 §5) that carries
// stream features: the held request or the restart request itself.
func restartFeatures(trace string) string {
	lines := strings.Split(trace, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "→ ") || !strings.Contains(l, "restart='true'") {
			continue
		}
		for _, r := range lines[i+1:] {
			if strings.HasPrefix(r, "← ") && strings.Contains(r, "features") {
				return r
			}
		}
	}
	return ""
}
