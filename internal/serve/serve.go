// Package serve runs the example programs' HTTP servers: serve until the
// context ends, then end every BOSH session with system-shutdown
// (bosh.Handler.Shutdown) before the HTTP server stops.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/httpbind/httpbind/bosh"
)

// Run serves srv on ln until ctx ends or the server fails. On the way out
// it shuts h down first, so that held requests are answered with
// system-shutdown, then srv, each within timeout.
func Run(ctx context.Context, srv *http.Server, ln net.Listener, h *bosh.Handler, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
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
