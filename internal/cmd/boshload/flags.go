package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Load modes (-mode).
const (
	modeClosed = "closed" // each session sends its next message when one arrives from its partner
	modePaced  = "paced"  // each session sends one message every -interval
)

// maxSessions bounds -sessions: four ephemeral ports per session and a
// source address per 500 sessions stay well inside what loopback offers.
const maxSessions = 200000

// options are boshload's parsed flags (see the package doc).
type options struct {
	url            string
	domain         string
	userFormat     string
	first          int
	password       string
	passwordFormat string
	sessions       int
	messages       int
	mode           string
	window         int
	interval       time.Duration
	loginRate      float64
	loginConc      int
	wait           time.Duration
	idle           time.Duration
	drain          time.Duration
	duration       time.Duration
	pid            int
	sources        int
	json           bool
	h2c            bool           // -h2c: HTTP/2 with prior knowledge, one connection per session
	h2             bool           // -h2: HTTP/2 over TLS, one connection per session
	insecure       bool           // -insecure: no certificate verification
	roots          *x509.CertPool // -ca; nil: the system's roots
	perConn        int            // -sessions-per-conn: sessions sharing one HTTP/2 connection
	cut            float64        // -cut: probability that a steady-state request's connection is cut
	cutSeed        uint64         // -cut-seed
	relogin        bool           // -relogin: a session the server ended logs in again
}

// perSession reports whether every session has a transport, and so a
// connection, of its own: over HTTP/2, as a browser holds one connection
// per origin.
func (o *options) perSession() bool { return o.h2c || o.h2 }

// conns returns how many connections the sessions may have open at once:
// two per session over HTTP/1.1 (the held request and the one that sends),
// one per -sessions-per-conn sessions over HTTP/2.
func (o *options) conns() int {
	if o.perSession() {
		return (o.sessions + o.perConn - 1) / o.perConn
	}
	return 2 * o.sessions
}

// parseFlags parses the command line and checks the values against each other.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("boshload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.url, "url", "http://127.0.0.1:5280/http-bind", "BOSH endpoint `URL`, http or https")
	fs.StringVar(&o.domain, "domain", "localhost", "XMPP `domain` of the accounts (the session's 'to')")
	fs.StringVar(&o.userFormat, "user-format", "user%d", "account name `format`, given the account number")
	fs.IntVar(&o.first, "first", 1, "`number` of the first account: sessions use first .. first+sessions-1")
	fs.StringVar(&o.password, "password", "", "the `password` of every account")
	fs.StringVar(&o.passwordFormat, "password-format", "", "password `format`, given the account number (instead of -password)")
	fs.IntVar(&o.sessions, "sessions", 1000, "`number` of sessions, an even number: session 2k chats with 2k+1")
	fs.IntVar(&o.messages, "messages", 20, "messages each session sends to its partner (`count`)")
	fs.StringVar(&o.mode, "mode", modeClosed, "message `mode`: closed (send the next message when one arrives) or paced (one every -interval)")
	fs.IntVar(&o.window, "window", 1, "closed mode: messages each session keeps in flight (`count`)")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "paced mode: time between two messages of one session")
	fs.Float64Var(&o.loginRate, "login-rate", 0, "session logins started per second (`rate`); 0: as fast as -login-concurrency allows")
	fs.IntVar(&o.loginConc, "login-concurrency", 50, "logins in progress at once (`count`)")
	fs.DurationVar(&o.wait, "wait", 30*time.Second, "the BOSH 'wait' asked for: longest time a request is held (whole seconds)")
	fs.DurationVar(&o.idle, "idle", 2*time.Second, "time all sessions stay idle, each holding a request, before the idle figures are read")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "message phase: give up when nothing has arrived for this long")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "hard bound on the whole run")
	fs.IntVar(&o.pid, "pid", 0, "server process `id` whose CPU time and RSS are read from /proc; 0: no server figures")
	fs.IntVar(&o.sources, "sources", 0, "spread connections over source addresses 127.0.0.1 .. 127.0.0.`N`; 0: one per 500 sessions")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON line on stdout (the report goes to stderr)")
	fs.BoolVar(&o.h2c, "h2c", false, "speak HTTP/2 with prior knowledge (h2c) to an http URL, one connection per session")
	fs.BoolVar(&o.h2, "h2", false, "speak HTTP/2 over TLS to an https URL, one connection per session")
	fs.IntVar(&o.perConn, "sessions-per-conn", 1, "with -h2c or -h2: `sessions` that share one HTTP/2 connection, as behind a reverse proxy that multiplexes clients (default 1: one connection per session, as a browser)")
	fs.BoolVar(&o.insecure, "insecure", false, "https: do not verify the server's certificate")
	fs.Float64Var(&o.cut, "cut", 0, "cut the connection of this `fraction` of the requests after login, client side, and resend them (XEP-0124 §14.3; see the package doc); 0: none")
	fs.Uint64Var(&o.cutSeed, "cut-seed", 1, "`seed` of the cuts' random choices")
	fs.BoolVar(&o.relogin, "relogin", false, "a session the server ends with a terminate (item-not-found, system-shutdown, …) logs in again as the same account and carries on")
	ca := fs.String("ca", "", "https: PEM `file` of CA certificates trusted for the server; default: the system's")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.sources == 0 {
		o.sources = (o.sessions + 499) / 500
	}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		o.roots = x509.NewCertPool()
		if !o.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", *ca)
		}
	}
	return o, o.check()
}

// check validates the options against each other.
func (o *options) check() error {
	u, err := url.Parse(o.url)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("-url %q: want http://host:port/path or https://…", o.url)
	case o.perConn < 1:
		return errors.New("-sessions-per-conn must be at least 1")
	case o.perConn > 1 && !o.perSession():
		return errors.New("-sessions-per-conn needs -h2c or -h2")
	case o.h2c && u.Scheme != "http":
		return errors.New("-h2c needs an http -url")
	case o.h2 && u.Scheme != "https":
		return errors.New("-h2 needs an https -url")
	case (o.insecure || o.roots != nil) && u.Scheme != "https":
		return errors.New("-insecure and -ca need an https -url")
	case o.insecure && o.roots != nil:
		return errors.New("give at most one of -insecure and -ca")
	case o.domain == "":
		return errors.New("-domain is empty")
	case !strings.Contains(o.userFormat, "%d"):
		return fmt.Errorf("-user-format %q has no %%d", o.userFormat)
	case (o.password == "") == (o.passwordFormat == ""):
		return errors.New("give exactly one of -password and -password-format")
	case o.passwordFormat != "" && !strings.Contains(o.passwordFormat, "%d"):
		return fmt.Errorf("-password-format %q has no %%d", o.passwordFormat)
	case o.sessions < 2 || o.sessions%2 != 0 || o.sessions > maxSessions:
		return fmt.Errorf("-sessions %d: want an even number from 2 to %d", o.sessions, maxSessions)
	case o.messages < 0 || o.messages > 1e6:
		return fmt.Errorf("-messages %d: want 0 to 1000000", o.messages)
	case o.mode != modeClosed && o.mode != modePaced:
		return fmt.Errorf("-mode %q: want closed or paced", o.mode)
	case o.window < 1:
		return fmt.Errorf("-window %d: want at least 1", o.window)
	case o.interval <= 0:
		return errors.New("-interval must be positive")
	case o.loginRate < 0 || o.loginConc < 1:
		return errors.New("-login-rate must not be negative, -login-concurrency at least 1")
	case o.wait < time.Second || o.wait%time.Second != 0 || o.wait > time.Hour:
		return fmt.Errorf("-wait %v: want whole seconds from 1s to 1h", o.wait)
	case o.idle < 0 || o.drain <= 0 || o.duration <= 0:
		return errors.New("-idle must not be negative, -drain and -duration positive")
	case o.pid < 0:
		return fmt.Errorf("-pid %d is not a process id", o.pid)
	case o.cut < 0 || o.cut >= 1:
		return fmt.Errorf("-cut %v: want a fraction from 0 to below 1", o.cut)
	case o.cut > 0 && (o.perSession() || u.Scheme != "http"):
		return errors.New("-cut needs HTTP/1.1 to an http URL (it writes the requests it cuts on plain TCP connections of its own)")
	case o.sources < 1 || o.sources > 254:
		return fmt.Errorf("-sources %d: want 1 to 254", o.sources)
	}
	if o.sources > 1 {
		ip := net.ParseIP(u.Hostname())
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			return fmt.Errorf("-sources %d needs an IPv4 loopback -url host, not %q", o.sources, u.Hostname())
		}
	}
	return nil
}

// user returns the account name of account number n.
func (o *options) user(n int) string { return fmt.Sprintf(o.userFormat, n) }

// pass returns the password of account number n.
func (o *options) pass(n int) string {
	if o.passwordFormat != "" {
		return fmt.Sprintf(o.passwordFormat, n)
	}
	return o.password
}
