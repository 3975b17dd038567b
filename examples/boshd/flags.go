package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/httpbind/httpbind/xmppstream"
)

// options are boshd's parsed flags.
type options struct {
	listen    string
	path      string
	domain    string
	usersFile string
	origins   []string
	level     slog.Level
}

// parseFlags parses the command line (see the package doc).
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("boshd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.listen, "listen", "127.0.0.1:5280", "`address` to listen on")
	fs.StringVar(&o.path, "path", "/http-bind", "`path` of the BOSH endpoint")
	fs.StringVar(&o.domain, "domain", "localhost", "XMPP domain `name` served")
	fs.StringVar(&o.usersFile, "users", "", "`file` of accounts, one name:password a line ('#' comments); default: demo accounts alice and bob")
	origins := fs.String("allow-origin", "", "comma-separated `origins` whose pages may use the endpoint (CORS), or * for any origin without credentials")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, err := xmppstream.NewJID("", o.domain, ""); err != nil {
		return nil, fmt.Errorf("-domain %q is not a domain name: %w", o.domain, err)
	}
	if !strings.HasPrefix(o.path, "/") {
		return nil, fmt.Errorf("-path %q does not start with /", o.path)
	}
	var err error
	if o.origins, err = parseOrigins(*origins); err != nil {
		return nil, err
	}
	if !validLevel(*level) || o.level.UnmarshalText([]byte(*level)) != nil {
		return nil, fmt.Errorf("-log-level %q is not debug, info, warn or error", *level)
	}
	return o, nil
}

func validLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// parseOrigins parses -allow-origin: a comma-separated list of origins
// (scheme://host[:port], RFC 6454 §6.1) or "*". Blank entries are
// skipped; an empty list means no CORS (bosh.Config.AllowOrigins).
func parseOrigins(s string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		o := strings.TrimSpace(part)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
				(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
				return nil, fmt.Errorf("-allow-origin: %q is not an origin like https://host[:port] or *", o)
			}
			o = strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
		}
		out = append(out, o)
	}
	return out, nil
}

// account is one account to create, with where it comes from for errors.
type account struct {
	name, password string
	where          string
}

// accounts returns the accounts of -users, or fresh demo accounts.
func (o *options) accounts() ([]account, error) {
	if o.usersFile == "" {
		return demoAccounts(), nil
	}
	f, err := os.Open(o.usersFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseUsers(f, o.usersFile)
}

// parseUsers reads accounts, one "name:password" a line; the password is
// everything after the first colon. Leading and trailing white space of a
// line is ignored; blank lines and lines starting with '#' are skipped. A
// malformed line or a repeated name is an error naming the line.
func parseUsers(r io.Reader, file string) ([]account, error) {
	var out []account
	seen := make(map[string]int)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", file, n)
		name, password, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: want name:password", where)
		case name == "":
			return nil, fmt.Errorf("%s: empty name", where)
		case password == "":
			return nil, fmt.Errorf("%s: empty password for %q", where, name)
		case seen[name] > 0:
			return nil, fmt.Errorf("%s: %q already defined on line %d", where, name, seen[name])
		}
		seen[name] = n
		out = append(out, account{name: name, password: password, where: where})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, errors.New(file + ": no accounts")
	}
	return out, nil
}

// demoAccounts returns alice and bob with fresh random passwords.
func demoAccounts() []account {
	return []account{
		{name: "alice", password: rand.Text()[:12], where: "demo account alice"},
		{name: "bob", password: rand.Text()[:12], where: "demo account bob"},
	}
}
