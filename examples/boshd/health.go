package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/httpbind/httpbind/bosh"
)

// Paths boshd serves besides -path and -prebind.
const (
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
	varsPath    = "/debug/vars"
	metricsPath = "/metrics"
)

// reservedPaths are boshd's own paths, which -path and -prebind cannot
// take.
var reservedPaths = []string{healthzPath, readyzPath, varsPath, metricsPath, drainPath}

// reservedPath reports whether p is one of reservedPaths.
func reservedPath(p string) bool { return slices.Contains(reservedPaths, p) }

// Bounds of the readiness check of -upstream.
const (
	// probeTimeout bounds the TCP connect to the XMPP server.
	probeTimeout = time.Second
	// probeEvery is how long one answer of the XMPP server is reused, so
	// that a flood of /readyz requests cannot become a flood of
	// connections to it.
	probeEvery = time.Second
)

// healthz answers /healthz, a liveness probe: 200 whenever the process
// serves HTTP at all.
func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProbe(w, http.StatusOK, "ok")
	})
}

// readiness answers /readyz, a readiness probe: 200 when boshd accepts new
// sessions, that is when bosh.Handler.Ready says so (not shutting down,
// fewer than -max-sessions sessions) and, with -upstream, the XMPP server
// accepts a TCP connection within probeTimeout; 503 with the reason
// otherwise. Its methods are safe for concurrent use.
type readiness struct {
	// Set in newReadiness, then read-only.
	ready func() error
	probe func(context.Context) error // nil without -upstream
	now   func() time.Time
	log   *slog.Logger

	// probeMu serializes probes: a request that finds one under way waits
	// for it (at most probeTimeout) and takes its answer.
	probeMu sync.Mutex
	at      time.Time // when err was found; guarded by probeMu
	err     error     // the last probe's answer; guarded by probeMu

	mu      sync.Mutex
	lastErr string // the last reason logged, "" for ready; guarded by mu
}

// newReadiness returns the /readyz handler for h and, when probe is not
// nil, the upstream it checks.
func newReadiness(h *bosh.Handler, probe func(context.Context) error, log *slog.Logger) *readiness {
	return &readiness{ready: h.Ready, probe: probe, now: time.Now, log: log}
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reason := rd.check(r.Context())
	rd.logChange(reason)
	if reason != "" {
		writeProbe(w, http.StatusServiceUnavailable, "not ready: "+reason)
		return
	}
	writeProbe(w, http.StatusOK, "ready")
}

// check returns why boshd does not accept new sessions, or "".
func (rd *readiness) check(ctx context.Context) string {
	err := rd.ready()
	switch {
	case errors.Is(err, bosh.SystemShutdown):
		return "shutting down"
	case errors.Is(err, bosh.ErrOverloaded):
		return "at -max-sessions"
	case err != nil:
		return err.Error()
	case rd.probe == nil:
		return ""
	}
	if err := rd.upstream(ctx); err != nil {
		return "the XMPP server of -upstream does not accept connections"
	}
	return ""
}

// upstream probes the XMPP server, or returns the answer of a probe less
// than probeEvery old. A client that goes away does not cancel the probe,
// whose answer others may reuse.
func (rd *readiness) upstream(ctx context.Context) error {
	rd.probeMu.Lock()
	defer rd.probeMu.Unlock()
	if !rd.at.IsZero() && rd.now().Sub(rd.at) < probeEvery {
		return rd.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	rd.err = rd.probe(ctx)
	rd.at = rd.now()
	if rd.err != nil {
		rd.log.Debug("boshd: upstream probe failed", "err", rd.err)
	}
	return rd.err
}

// logChange logs when readiness changes, not at every probe.
func (rd *readiness) logChange(reason string) {
	rd.mu.Lock()
	changed := reason != rd.lastErr
	rd.lastErr = reason
	rd.mu.Unlock()
	switch {
	case !changed:
	case reason == "":
		rd.log.Info("boshd: ready")
	default:
		rd.log.Warn("boshd: not ready", "reason", reason)
	}
}

// writeProbe writes a probe's one-line plain-text answer, never cached.
func writeProbe(w http.ResponseWriter, status int, msg string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", fmt.Sprint(len(msg)+1))
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}
