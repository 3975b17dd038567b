package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
)

// fakeProbe is an upstream check that counts its calls.
type fakeProbe struct {
	err      error
	calls    atomic.Int32
	ctxErr   error         // ctx.Err() at the last call
	deadline time.Duration // how long ctx had left at the last call
}

func (p *fakeProbe) probe(ctx context.Context) error {
	p.calls.Add(1)
	p.ctxErr = ctx.Err()
	if d, ok := ctx.Deadline(); ok {
		p.deadline = time.Until(d)
	}
	return p.err
}

// getProbe serves one GET of a probe endpoint.
func getProbe(h http.Handler, ctx context.Context) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, readyzPath, nil))
	return rec.Code, rec.Body.String()
}

func TestReadiness(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name       string
		ready      error
		probe      *fakeProbe // nil: no -upstream
		wantStatus int
		wantBody   string
		wantProbes int32
	}{
		{name: "in-memory core, accepting sessions", wantStatus: 200, wantBody: "ready\n"},
		{name: "shutting down (bosh.Handler.Shutdown)", ready: bosh.SystemShutdown, wantStatus: 503, wantBody: "not ready: shutting down\n"},
		{name: "at -max-sessions", ready: &bosh.OverloadError{RetryAfter: time.Second}, wantStatus: 503, wantBody: "not ready: at -max-sessions\n"},
		{name: "upstream answers", probe: &fakeProbe{}, wantStatus: 200, wantBody: "ready\n", wantProbes: 1},
		{name: "upstream down", probe: &fakeProbe{err: down}, wantStatus: 503,
			wantBody: "not ready: the XMPP server of -upstream does not accept connections\n", wantProbes: 1},
		{name: "shutting down: the upstream is not even asked", ready: bosh.SystemShutdown, probe: &fakeProbe{},
			wantStatus: 503, wantBody: "not ready: shutting down\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rd := &readiness{ready: func() error { return tc.ready }, now: time.Now, log: slog.New(slog.DiscardHandler)}
			if tc.probe != nil {
				rd.probe = tc.probe.probe
			}
			status, body := getProbe(rd, t.Context())
			assert.Equal(t, tc.wantStatus, status)
			assert.Equal(t, tc.wantBody, body)
			if tc.probe != nil {
				assert.Equal(t, tc.wantProbes, tc.probe.calls.Load())
			}
		})
	}
}

// TestReadinessProbeReused: one answer of the XMPP server serves every
// /readyz request for probeEvery; a client that went away does not cancel
// the probe, which is bounded by probeTimeout.
func TestReadinessProbeReused(t *testing.T) {
	p := &fakeProbe{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rd := &readiness{ready: func() error { return nil }, probe: p.probe, now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler)}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	status, _ := getProbe(rd, gone)
	assert.Equal(t, 200, status)
	require.Equal(t, int32(1), p.calls.Load())
	assert.NoError(t, p.ctxErr, "the probe outlives the request")
	assert.Positive(t, p.deadline, "bounded")
	assert.LessOrEqual(t, p.deadline, probeTimeout)

	for range 5 {
		getProbe(rd, t.Context())
	}
	assert.Equal(t, int32(1), p.calls.Load(), "within probeEvery")
	now = now.Add(probeEvery - time.Nanosecond)
	getProbe(rd, t.Context())
	assert.Equal(t, int32(1), p.calls.Load())
	now = now.Add(time.Nanosecond)
	p.err = errors.New("down")
	status, _ = getProbe(rd, t.Context())
	assert.Equal(t, int32(2), p.calls.Load(), "probeEvery later")
	assert.Equal(t, 503, status)
}

// TestReadinessOffAfterShutdown: with a real handler.
func TestReadinessOffAfterShutdown(t *testing.T) {
	h, err := bosh.NewHandler(bosh.UpstreamFunc(func(context.Context, *bosh.OpenRequest, bosh.Sink) (bosh.Stream, error) {
		return nil, bosh.HostUnknown
	}), bosh.Config{})
	require.NoError(t, err)
	rd := newReadiness(h, nil, slog.New(slog.DiscardHandler))
	status, _ := getProbe(rd, t.Context())
	assert.Equal(t, 200, status)
	require.NoError(t, h.Shutdown(t.Context()))
	status, body := getProbe(rd, t.Context())
	assert.Equal(t, 503, status)
	assert.Equal(t, "not ready: shutting down\n", body)
}

// get fetches url with method and returns the status and body.
func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestHealthEndpoints(t *testing.T) {
	d := start(t)
	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{http.MethodGet, healthzPath, 200, "ok\n"},
		{http.MethodHead, healthzPath, 200, ""},
		{http.MethodGet, readyzPath, 200, "ready\n"},
		{http.MethodHead, readyzPath, 200, ""},
		{http.MethodPost, healthzPath, 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body := get(t, tc.method, d.base+tc.path)
			assert.Equal(t, tc.wantStatus, status)
			if tc.wantStatus == 200 {
				assert.Equal(t, tc.wantBody, body)
			}
		})
	}
}

// TestReadyzAtMaxSessions: readiness is off while -max-sessions sessions
// are open, and on again when one ends.
func TestReadyzAtMaxSessions(t *testing.T) {
	ctx := testContext(t)
	d := start(t, "-max-sessions", "1")
	c := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer c.Close()
	require.NoError(t, c.Connect(ctx, "localhost"))
	status, body := get(t, http.MethodGet, d.base+readyzPath)
	assert.Equal(t, 503, status)
	assert.Equal(t, "not ready: at -max-sessions\n", body)
	status, _ = get(t, http.MethodGet, d.base+healthzPath)
	assert.Equal(t, 200, status, "alive all the same")
	require.NoError(t, c.Terminate(ctx))
	status, _ = get(t, http.MethodGet, d.base+readyzPath)
	assert.Equal(t, 200, status)
}

// TestReadyzUpstream: with -upstream, readiness follows whether the XMPP
// server accepts TCP connections.
func TestReadyzUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	d := start(t, "-upstream", "tcp://"+ln.Addr().String(), "-domain", "example.com")
	status, body := get(t, http.MethodGet, d.base+readyzPath)
	assert.Equal(t, 200, status, body)

	ln.Close() // the XMPP server goes down
	deadline := time.Now().Add(5 * time.Second)
	for status == 200 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // the last answer is reused for probeEvery
		status, body = get(t, http.MethodGet, d.base+readyzPath)
	}
	assert.Equal(t, 503, status)
	assert.Equal(t, "not ready: the XMPP server of -upstream does not accept connections\n", body)
	status, _ = get(t, http.MethodGet, d.base+healthzPath)
	assert.Equal(t, 200, status)
	assert.True(t, strings.Contains(d.stderr.String(), "boshd: not ready"), "the change is logged: %s", d.stderr)
}
