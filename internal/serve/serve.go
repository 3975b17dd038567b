// Package serve runs the example programs' HTTP servers: serve until the
// context ends, then end every BOSH session with system-shutdown
// (bosh.Handler.Shutdown) before the HTTP server stops.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/httpbind/httpbind/bosh"
)

// Timeout bounds each step of Run's graceful shutdown.
const Timeout = 10 * time.Second

// NewServer returns an HTTP server for handler with the example programs'
// bounds: request headers within 10 s (which also bounds a TLS handshake)
// and idle connections closed after 2 minutes. The server's own errors go
// to log at Warn.
func NewServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Run serves srv on ln (boshd's ln parks held requests:
// bosh.ParkListener) until ctx ends or the server fails. When ctx ends it
// logs "name: shutting down" to log, then shuts h down first, so that
// held requests, parked ones too, are answered with system-shutdown, then
// srv, each within Timeout.
func Run(ctx context.Context, name string, srv *http.Server, ln net.Listener, h *bosh.Handler, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info(name + ": shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down sessions: %w", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down the HTTP server: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
