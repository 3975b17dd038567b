package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/serve"
	"github.com/httpbind/httpbind/internal/userfile"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "boshd:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends or SIGINT arrives, then shuts down
// gracefully: Handler.Shutdown first, so that held requests are answered
// with system-shutdown, then http.Server.Shutdown. SIGTERM or POST /drain
// drain first: readiness goes off and the sessions go on until they end or
// -drain-timeout passes. It prints the endpoint's
// URL and the demo accounts to stdout and logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := o.logger(stderr)
	// Signals are caught from before the URL is printed: whoever reads it
	// may stop the server with SIGINT, or drain it with SIGTERM.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)

	up, accounts, err := o.newUpstream(log)
	if err != nil {
		return err
	}
	cfg := o.handlerConfig()
	cfg.Logger = log
	h, err := bosh.NewHandler(up, cfg)
	if err != nil {
		return flagError(err)
	}
	ctx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	drain := &drainer{h: h, timeout: o.cluster.drainTimeout, log: log, stop: stopServing}
	mux := http.NewServeMux()
	mux.Handle("POST "+drainPath, drain)
	mux.Handle(metricsPath, metricsHandler(h, up))
	mux.Handle("GET "+healthzPath, healthz())
	mux.Handle("GET "+readyzPath, newReadiness(h, probe(up), log))
	if o.prebind != "" {
		ep, err := prebindEndpoint(h, o, log)
		if err != nil {
			return err
		}
		mux.Handle(o.prebind, ep)
	}

	srv := o.httpServer(mux, log)
	ln, err := o.openListener(srv)
	if err != nil {
		return err
	}
	nd, err := o.cluster.start(h, ln.Addr(), log)
	if err != nil {
		ln.Close()
		return err
	}
	defer nd.leave()
	if nd.handler != nil && o.upstream == nil {
		log.Warn("boshd: several nodes with the in-memory core: each node is an XMPP server of its own, whose users do not see the other nodes' users; use -upstream")
	}
	drain.changed = nd.update
	mux.Handle(o.path, nd.endpoint(h))
	mux.Handle(varsPath, varsHandler(h, nd.handler))
	fmt.Fprintf(stdout, "boshd: serving BOSH for %s at %s://%s%s\n", strings.Join(o.domains, ","), o.scheme(), ln.Addr(), o.path)
	if o.prebind != "" {
		fmt.Fprintf(stdout, "boshd: prebind endpoint at %s://%s%s (HTTP Basic with XMPP credentials)\n", o.scheme(), ln.Addr(), o.prebind)
	}
	switch {
	case o.upstream != nil:
		fmt.Fprintf(stdout, "boshd: relaying to %s\n", o.upstream.url)
	case o.usersFile == "":
		for _, a := range accounts {
			fmt.Fprintf(stdout, "boshd: demo account %s@%s password %s\n", a.Name, o.domains[0], a.Password)
		}
	default:
		fmt.Fprintf(stdout, "boshd: %d accounts from %s\n", len(accounts), o.usersFile)
	}

	go func() {
		select {
		case <-term:
			drain.start("SIGTERM")
		case <-ctx.Done():
		}
	}()
	return serve.Run(ctx, "boshd", srv, ln, h, log)
}

// newUpstream returns the upstream of -upstream: the TCP upstream to an
// XMPP server, or the in-memory core with its accounts (and the accounts,
// to print).
func (o *options) newUpstream(log *slog.Logger) (bosh.Upstream, []userfile.Account, error) {
	if u := o.upstream; u != nil {
		up, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{
			Addr:              u.addr,
			DirectTLS:         u.directTLS,
			TLSConfig:         &tls.Config{RootCAs: u.roots},
			Domains:           o.domains,
			ProxyHeader:       u.proxy,
			InsecurePlaintext: u.insecure,
			Logger:            log,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("-upstream: %w", err)
		}
		return up, nil, nil
	}
	// The accounts come from a clear-text file or are printed: keeping
	// the passwords in memory as well exposes nothing more, makes PLAIN
	// checks cheap for load tests, and serves XEP-0078 digests.
	core, err := memcore.New(memcore.Config{Domain: o.domains[0], Logger: log, DigestMD5: o.auth.digestMD5, KeepPasswords: true})
	if err != nil {
		return nil, nil, err
	}
	accounts, err := o.accounts()
	if err != nil {
		return nil, nil, err
	}
	for _, a := range accounts {
		if err := core.AddUser(a.Name, a.Password); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", a.Where, err)
		}
	}
	up, err := xmppstream.NewServer(core, o.auth.serverConfig(core.Domain(), log))
	if err != nil {
		return nil, nil, err
	}
	return up, accounts, nil
}
