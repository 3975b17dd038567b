package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/userfile"
	"github.com/httpbind/httpbind/xmppstream"
)

// options are boshd's parsed flags.
type options struct {
	listen    string
	path      string
	domains   []string // -domain, at least one
	usersFile string
	origins   []string
	level     slog.Level
	logFormat string // -log-format: "text" or "json"
	// upstream is the XMPP server of -upstream, nil for the in-memory
	// core.
	upstream       *upstream
	routes         []string // -route-allow → bosh.Config.Routes
	trustedProxies []string // -trusted-proxies → bosh.Config.TrustedProxies
	prebind        string   // -prebind: path of the prebind endpoint, "" for none
	// cert is the certificate of -tls-cert and -tls-key, nil for plain
	// HTTP.
	cert *tls.Certificate
	h2c  bool // -h2c: HTTP/2 with prior knowledge on the plain listener
	park bool // -park: held requests wait without a goroutine (bosh.ParkListener)
	// limits are -session-rate, -session-burst, -max-sessions and
	// -max-sessions-per-address.
	limits limits
	// maxWait is -max-wait → bosh.Config.MaxWait, which NewHandler
	// checks.
	maxWait time.Duration
	// cluster are -node-id and the other flags of several nodes.
	cluster clusterFlags
	// auth are -sasl-digest-md5 and -non-sasl-auth, the old logins the
	// in-memory core's xmppstream.Server may offer.
	auth auth
}

// auth are the logins of xmppstream.ServerConfig that boshd's flags turn
// on; both are off by default (see the package doc).
type auth struct {
	digestMD5 bool                       // -sasl-digest-md5: DIGEST-MD5 among the SASL mechanisms
	nonSASL   xmppstream.NonSASLAuthMode // -non-sasl-auth
}

// limits are the session limits of bosh.Config that boshd's flags set.
type limits struct {
	sessionsPerSecond     float64 // bosh.Config.SessionsPerSecond
	sessionBurst          int     // bosh.Config.SessionBurst
	maxSessions           int     // bosh.Config.MaxSessions
	maxSessionsPerAddress int     // bosh.Config.MaxSessionsPerAddress
}

// upstream is a parsed -upstream with its -upstream-ca.
type upstream struct {
	url       string         // as given, normalized: tcp://host:port or tls://host:port
	addr      string         // host:port
	directTLS bool           // tls://: TLS from the first byte; tcp://: STARTTLS
	roots     *x509.CertPool // -upstream-ca; nil: the system's roots
	proxy     bool           // -upstream-proxy-header
	// insecure is -upstream-insecure-plaintext: allow a plain stream to a
	// server that is not on loopback (xmppstream.TCPConfig.InsecurePlaintext).
	insecure bool
}

// parseFlags parses the command line and the BOSHD_ environment
// variables (see the package doc).
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	return parseConfig(args, os.Environ(), stderr)
}

// parseConfig parses args and, for the flags args does not set, their
// variables in environ (parseArgs). An error about a flag whose value came
// from the environment names its variable.
func parseConfig(args, environ []string, stderr io.Writer) (_ *options, err error) {
	fs := flag.NewFlagSet("boshd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.listen, "listen", "127.0.0.1:5280", "`address` to listen on")
	fs.StringVar(&o.path, "path", "/http-bind", "`path` of the BOSH endpoint")
	domains := fs.String("domain", "localhost", "comma-separated XMPP domain `names` served (one for the in-memory core)")
	fs.StringVar(&o.usersFile, "users", "", "`file` of accounts, one name:password a line ('#' comments); default: demo accounts alice and bob")
	origins := fs.String("allow-origin", "", "comma-separated `origins` whose pages may use the endpoint (CORS), or * for any origin without credentials")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log `format`: text (logfmt-like key=value) or json (one object a line)")
	up := fs.String("upstream", "", "XMPP server to relay to, tcp://`host:port` (STARTTLS) or tls://host:port (direct TLS); default: the in-memory core")
	upCA := fs.String("upstream-ca", "", "PEM `file` of CA certificates trusted for -upstream; default: the system's")
	routes := fs.String("route-allow", "", "comma-separated `routes` proto:host:port that clients may ask for (XEP-0124 §7.1)")
	proxyHeader := fs.Bool("upstream-proxy-header", false, "send a PROXY protocol v2 header with each client's address to -upstream (the server must expect it)")
	proxies := fs.String("trusted-proxies", "", "comma-separated IP `addresses` or CIDR prefixes of reverse proxies whose Forwarded/X-Forwarded-For headers are believed")
	fs.StringVar(&o.prebind, "prebind", "", "`path` of a prebind endpoint (converse.js prebind_url) that logs in with the request's HTTP Basic credentials; default: none")
	certFile := fs.String("tls-cert", "", "PEM `file` of the certificate chain: serve HTTPS (HTTP/2 by ALPN, and HTTP/1.1); needs -tls-key")
	keyFile := fs.String("tls-key", "", "PEM `file` of the private key of -tls-cert")
	fs.BoolVar(&o.h2c, "h2c", false, "also accept unencrypted HTTP/2 with prior knowledge (h2c) on the plain listener")
	fs.BoolVar(&o.park, "park", true, "park held requests without a goroutine or buffers, over HTTP/1.1 (Linux) and HTTP/2 (httpbind's own HTTP/2 server): less memory per idle session, more CPU per held HTTP/1.1 request; -park=false serves everything as net/http does")
	fs.Float64Var(&o.limits.sessionsPerSecond, "session-rate", bosh.DefaultSessionsPerSecond, "session creations a second, refilling a bucket of -session-burst (`rate`, 1 to 1e6)")
	fs.IntVar(&o.limits.sessionBurst, "session-burst", bosh.DefaultSessionBurst, "session creations at once (`count`, 1 to 1<<30)")
	fs.IntVar(&o.limits.maxSessions, "max-sessions", bosh.DefaultMaxSessions, "most sessions at once (`count`, 1 to 1<<30)")
	fs.IntVar(&o.limits.maxSessionsPerAddress, "max-sessions-per-address", bosh.DefaultMaxSessionsPerAddress, "most sessions at once from one client address (`count`, 1 to 1<<30)")
	fs.DurationVar(&o.maxWait, "max-wait", bosh.DefaultMaxWait, "longest 'wait' a client may ask for, and the wait of one that asks for none (`duration`, whole seconds, 1s to 65535s)")
	insecure := fs.Bool("upstream-insecure-plaintext", false, "INSECURE: allow a plain-text stream to a non-loopback -upstream that offers no STARTTLS, passwords in clear (default: refuse unless the server is on loopback)")
	fs.BoolVar(&o.auth.digestMD5, "sasl-digest-md5", false, "also offer SASL DIGEST-MD5 (RFC 2831, historic): the in-memory core then keeps each account's DIGEST-MD5 credential, a password equivalent")
	nonSASL := fs.String("non-sasl-auth", "off", "non-SASL authentication (XEP-0078, obsolete) of the in-memory core: `mode` off, with-sasl (beside the SASL mechanisms) or only (no SASL mechanism)")
	o.cluster.define(fs)
	env, err := parseArgs(fs, args, environ)
	if err != nil {
		return nil, err
	}
	defer func() { err = env.annotate(err) }()
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !strings.HasPrefix(o.path, "/") {
		return nil, fmt.Errorf("-path %q does not start with /", o.path)
	}
	if reservedPath(o.path) {
		return nil, fmt.Errorf("-path %q is taken (%s)", o.path, strings.Join(reservedPaths, ", "))
	}
	if o.prebind != "" && (!strings.HasPrefix(o.prebind, "/") || o.prebind == o.path || reservedPath(o.prebind)) {
		return nil, fmt.Errorf("-prebind %q does not start with /, or is taken (-path, %s)", o.prebind, strings.Join(reservedPaths, ", "))
	}
	if o.domains, err = parseDomains(*domains); err != nil {
		return nil, err
	}
	o.origins = list(*origins)
	if o.upstream, err = parseUpstream(*up, *upCA); err != nil {
		return nil, err
	}
	switch {
	case o.upstream == nil && *proxyHeader:
		return nil, errors.New("-upstream-proxy-header needs -upstream")
	case o.upstream == nil && *insecure:
		return nil, errors.New("-upstream-insecure-plaintext needs -upstream")
	case o.upstream != nil:
		o.upstream.proxy = *proxyHeader
		o.upstream.insecure = *insecure
	}
	switch {
	case o.upstream == nil && len(o.domains) > 1:
		return nil, fmt.Errorf("-domain %q: the in-memory core serves one domain; several need -upstream", *domains)
	case o.upstream != nil && o.usersFile != "":
		return nil, errors.New("-users is for the in-memory core; with -upstream, the XMPP server has the accounts")
	}
	if o.auth, err = parseAuth(o.auth.digestMD5, *nonSASL, o.upstream != nil); err != nil {
		return nil, err
	}
	o.routes, o.trustedProxies = list(*routes), list(*proxies)
	if o.cert, err = loadCert(*certFile, *keyFile); err != nil {
		return nil, err
	}
	if o.h2c && o.cert != nil {
		return nil, errors.New("-h2c is for plain HTTP; with -tls-cert, HTTP/2 is negotiated by ALPN")
	}
	// bosh.Config judges its fields: one source of truth for bounds and
	// syntax, its errors named by flag.
	if err := o.checkConfig(); err != nil {
		return nil, err
	}
	if err := o.cluster.check(fs); err != nil {
		return nil, err
	}
	if !validLevel(*level) || o.level.UnmarshalText([]byte(*level)) != nil {
		return nil, fmt.Errorf("-log-level %q is not debug, info, warn or error", *level)
	}
	if o.logFormat, err = parseLogFormat(*logFormat); err != nil {
		return nil, err
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

// loadCert loads -tls-cert and -tls-key; both empty: plain HTTP (nil).
func loadCert(certFile, keyFile string) (*tls.Certificate, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert, -tls-key: %w", err)
	}
	return &cert, nil
}

// handlerConfig is the bosh.Config the flags fill.
func (o *options) handlerConfig() bosh.Config {
	return bosh.Config{
		AllowOrigins:          o.origins,
		Routes:                o.routes,
		TrustedProxies:        o.trustedProxies,
		MaxWait:               o.maxWait,
		SessionsPerSecond:     o.limits.sessionsPerSecond,
		SessionBurst:          o.limits.sessionBurst,
		MaxSessions:           o.limits.maxSessions,
		MaxSessionsPerAddress: o.limits.maxSessionsPerAddress,
		SIDPrefix:             o.cluster.nodeID,
	}
}

// checkConfig has bosh.Config judge the fields the flags fill, and names
// the flag of an invalid one. A numeric flag set to 0 is invalid too:
// bosh.Config reads a zero field as its default, which would hide a
// mistake (0 is no "unlimited"); its bounds come from bosh.Config's own
// error for the value -1.
func (o *options) checkConfig() error {
	zero := []struct {
		set   bool
		field string
		neg   func(*bosh.Config)
	}{
		{o.maxWait == 0, "MaxWait", func(c *bosh.Config) { c.MaxWait = -1 }},
		{o.limits.sessionsPerSecond == 0, "SessionsPerSecond", func(c *bosh.Config) { c.SessionsPerSecond = -1 }},
		{o.limits.sessionBurst == 0, "SessionBurst", func(c *bosh.Config) { c.SessionBurst = -1 }},
		{o.limits.maxSessions == 0, "MaxSessions", func(c *bosh.Config) { c.MaxSessions = -1 }},
		{o.limits.maxSessionsPerAddress == 0, "MaxSessionsPerAddress", func(c *bosh.Config) { c.MaxSessionsPerAddress = -1 }},
	}
	for _, z := range zero {
		if !z.set {
			continue
		}
		cfg := o.handlerConfig()
		z.neg(&cfg)
		var ce *bosh.ConfigError
		if errors.As(cfg.Validate(), &ce) && ce.Field == z.field {
			return fmt.Errorf("%s 0: want %s", configFlags[z.field], ce.Want)
		}
	}
	return flagError(o.handlerConfig().Validate())
}

// configFlags names the flag of each bosh.Config field the flags fill.
var configFlags = map[string]string{
	"AllowOrigins":          "-allow-origin",
	"Routes":                "-route-allow",
	"TrustedProxies":        "-trusted-proxies",
	"MaxWait":               "-max-wait",
	"SessionsPerSecond":     "-session-rate",
	"SessionBurst":          "-session-burst",
	"MaxSessions":           "-max-sessions",
	"MaxSessionsPerAddress": "-max-sessions-per-address",
	"SIDPrefix":             "-node-id",
}

// flagError names the flag of a *bosh.ConfigError.
func flagError(err error) error {
	var ce *bosh.ConfigError
	if err == nil || !errors.As(err, &ce) || configFlags[ce.Field] == "" {
		return err
	}
	return fmt.Errorf("%s %s: want %s", configFlags[ce.Field], ce.ValueString(), ce.Want)
}

// parseAuth checks -sasl-digest-md5 and parses -non-sasl-auth. Both are
// for the in-memory core: with -upstream, the XMPP server offers its own
// logins.
func parseAuth(digestMD5 bool, nonSASL string, upstream bool) (auth, error) {
	a := auth{digestMD5: digestMD5}
	switch nonSASL {
	case "off":
	case "with-sasl":
		a.nonSASL = xmppstream.NonSASLAuthWithSASL
	case "only":
		a.nonSASL = xmppstream.NonSASLAuthOnly
	default:
		return auth{}, fmt.Errorf("-non-sasl-auth %q is not off, with-sasl or only", nonSASL)
	}
	switch {
	case upstream && (digestMD5 || a.nonSASL != xmppstream.NonSASLAuthOff):
		return auth{}, errors.New("-sasl-digest-md5 and -non-sasl-auth are for the in-memory core; with -upstream, the XMPP server offers its own logins")
	case digestMD5 && a.nonSASL == xmppstream.NonSASLAuthOnly:
		return auth{}, errors.New("-sasl-digest-md5 offers a SASL mechanism, -non-sasl-auth only offers none")
	}
	return a, nil
}

// serverConfig returns the xmppstream.ServerConfig of the in-memory core
// for domain.
func (a auth) serverConfig(domain string, log *slog.Logger) xmppstream.ServerConfig {
	cfg := xmppstream.ServerConfig{Domains: []string{domain}, NonSASLAuth: a.nonSASL, Logger: log}
	if a.digestMD5 {
		// The default mechanisms, with DIGEST-MD5 before PLAIN as in
		// XEP-0206 v1.2 Example 2.
		cfg.Mechanisms = []string{xmppstream.MechScramSHA256, xmppstream.MechScramSHA1, xmppstream.MechDigestMD5, xmppstream.MechPlain}
	}
	return cfg
}

// list splits a comma-separated flag value, skipping blank entries.
func list(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseDomains parses -domain: one or more domain names, prepared as JID
// domainparts (RFC 7622 §3.2).
func parseDomains(s string) ([]string, error) {
	domains := list(s)
	if len(domains) == 0 {
		return nil, errors.New("-domain: no domain")
	}
	for i, d := range domains {
		j, err := xmppstream.NewJID("", d, "")
		if err != nil {
			return nil, fmt.Errorf("-domain %q is not a domain name: %w", d, err)
		}
		domains[i] = j.Domain
	}
	return domains, nil
}

// parseUpstream parses -upstream (tcp://host:port or tls://host:port) and
// reads -upstream-ca. Both empty: the in-memory core (nil).
func parseUpstream(s, caFile string) (*upstream, error) {
	if s == "" {
		if caFile != "" {
			return nil, errors.New("-upstream-ca needs -upstream")
		}
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("-upstream %q: %w", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "tcp" && scheme != "tls" {
		return nil, fmt.Errorf("-upstream %q: want tcp://host:port or tls://host:port", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("-upstream %q: want only scheme, host and port", s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return nil, fmt.Errorf("-upstream %q: want host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("-upstream %q: port %q is not 1-65535", s, port)
	}
	up := &upstream{url: scheme + "://" + u.Host, addr: u.Host, directTLS: scheme == "tls"}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-upstream-ca: %w", err)
		}
		up.roots = x509.NewCertPool()
		if !up.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-upstream-ca %s: no PEM certificate in it", caFile)
		}
	}
	return up, nil
}

// accounts returns the accounts of -users, or fresh demo accounts.
func (o *options) accounts() ([]userfile.Account, error) {
	if o.usersFile == "" {
		return demoAccounts(), nil
	}
	return userfile.Load(o.usersFile)
}

// demoAccounts returns alice and bob with fresh random passwords.
func demoAccounts() []userfile.Account {
	return []userfile.Account{
		{Name: "alice", Password: rand.Text()[:12], Where: "demo account alice"},
		{Name: "bob", Password: rand.Text()[:12], Where: "demo account bob"},
	}
}
