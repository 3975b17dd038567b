// Command echo is the smallest embedding of the bosh package: an
// http.ServeMux with the BOSH handler at /http-bind and an Upstream that
// sends every payload straight back to the client. It allows any origin
// (CORS "*", without credentials) so that a browser page can try it.
//
//	go run ./examples/echo -listen 127.0.0.1:5280
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/httpbind/httpbind/bosh"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// echo is an Upstream whose streams send each payload back to the client.
var echo = bosh.UpstreamFunc(func(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
	return &echoStream{sink: sink}, nil
})

type echoStream struct{ sink bosh.Sink }

func (e *echoStream) Send(ctx context.Context, req *bosh.Request) error {
	if len(req.Payloads) > 0 && !req.Terminate {
		e.sink.Deliver(req.Payloads...)
	}
	return nil
}

func (e *echoStream) Close(bosh.Closing) {}

// run serves until ctx ends or SIGINT/SIGTERM arrives, then shuts down
// gracefully: held requests get system-shutdown.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:5280", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, err := bosh.NewHandler(echo, bosh.Config{AllowOrigins: []string{"*"}})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/http-bind", h)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "echo: serving BOSH at http://%s/http-bind\n", ln.Addr())

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("echo: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		return err
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
