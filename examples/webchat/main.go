package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/serve"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
	"github.com/httpbind/httpbind/xmppstream/prebind"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "webchat:", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	listen, domain, usersFile, assets string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("webchat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "`address` to listen on")
	fs.StringVar(&o.domain, "domain", "localhost", "the XMPP `domain`")
	fs.StringVar(&o.usersFile, "users", "", "`file` of the site's accounts, one name:password a line; default: demo accounts alice and bob")
	fs.StringVar(&o.assets, "assets", "examples/webchat/node_modules/converse.js/dist", "converse.js's dist `directory`")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	j, err := xmppstream.NewJID("", o.domain, "")
	if err != nil {
		return nil, fmt.Errorf("-domain %q is not a domain name: %w", o.domain, err)
	}
	o.domain = j.Domain
	return o, nil
}

// run serves until ctx ends or SIGINT/SIGTERM arrives, then shuts down
// gracefully (Handler.Shutdown, then http.Server.Shutdown). It prints the
// URL it serves and, without -users, the demo accounts to stdout, and logs
// to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	list, err := loadAccounts(o.usersFile)
	if err != nil {
		return err
	}
	core, err := memcore.New(memcore.Config{Domain: o.domain, Logger: log})
	if err != nil {
		return err
	}
	users := make(accounts)
	for _, a := range list {
		if err := core.AddUser(a.name, a.xmpp); err != nil {
			return fmt.Errorf("account %q: %w", a.name, err)
		}
		users[a.name] = a
	}
	up, err := xmppstream.NewServer(core, xmppstream.ServerConfig{Domains: []string{o.domain}, Logger: log})
	if err != nil {
		return err
	}
	h, err := bosh.NewHandler(up, bosh.Config{Logger: log})
	if err != nil {
		return err
	}
	p, err := prebind.New(prebind.Config{Handler: h, Logger: log})
	if err != nil {
		return err
	}
	app := &app{domain: o.domain, users: users, logins: newLogins(), assets: o.assets, log: log}
	mux := app.routes(h, p)

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := serve.NewServer(mux, log)
	fmt.Fprintf(stdout, "webchat: serving http://%s/ for %s\n", ln.Addr(), o.domain)
	if o.usersFile == "" {
		for _, a := range list {
			fmt.Fprintf(stdout, "webchat: demo account %s password %s\n", a.name, a.password)
		}
	} else {
		fmt.Fprintf(stdout, "webchat: %d accounts from %s\n", len(list), o.usersFile)
	}
	if _, err := os.Stat(o.assets); err != nil {
		fmt.Fprintf(stdout, "webchat: %s is missing: run npm ci --prefix examples/webchat\n", o.assets)
	}

	return serve.Run(ctx, "webchat", srv, ln, h, log)
}
