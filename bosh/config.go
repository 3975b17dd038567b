package bosh

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html/charset"

	"github.com/httpbind/httpbind/internal/clock"
)

// Config tunes a Handler. Zero fields mean the defaults given; NewHandler
// copies it and reports invalid values as an error rather than clamping them.
type Config struct {
	// MaxWait caps the 'wait' a client may ask for (XEP-0124 §7.2: the
	// session's wait is the lower of the two); it is also the wait of a
	// client that asks for none. 1s to 65535s. Default 45s, so that an
	// idle session's held request is answered, empty, before the proxies
	// and load balancers commonly put in front time it out with HTTP 504:
	// it clears nginx's proxy_read_timeout (default 60s), the idle timeout
	// of an AWS Application Load Balancer (default 60s) and HAProxy's
	// 'timeout server' and 'timeout client' as its manual's examples and
	// Debian's packaged haproxy.cfg set them (50s; HAProxy itself has no
	// default), each with 5s or more to spare for delays on the way.
	// Behind a proxy with a shorter timeout (30s at some cloud load
	// balancers), lower MaxWait below it, or raise the proxy's. Clients
	// such as Strophe.js ask for 60s and get the cap.
	MaxWait time.Duration
	// MaxHold caps 'hold' (§7.2); requests is always hold+1. Default 1,
	// range 1 to 16. A client asking for hold='0' gets a polling session.
	MaxHold int
	// Inactivity is the longest a session may have no request held before
	// it ends silently (§10); polling sessions get 2×Polling more (§12),
	// up to 65535s (§22).
	// Default 60s; 1s to 65535s.
	Inactivity time.Duration
	// Polling is the shortest interval allowed between empty requests
	// (§11, §12); faster clients get policy-violation. Default 2s; up to
	// 65535s. NoPolling turns the rule off.
	Polling time.Duration
	// NoPolling omits 'polling' and allows requests at any rate (§11, §12).
	NoPolling bool
	// MaxPause is the longest pause a client may ask for (§10); a longer
	// one gets policy-violation. Default 120s; 1s to 65535s. NoPause turns
	// pausing off: 'maxpause' is not advertised and 'pause' is ignored.
	MaxPause time.Duration
	// NoPause: see MaxPause.
	NoPause bool
	// ReportAfter is how long a response may go unacknowledged by a
	// client that uses acks before the session reports it (§9.2). Default
	// 2s.
	ReportAfter time.Duration
	// GapTimeout is how long requests above a rid gap wait for the missing
	// rids (§14.2) before the session gives those up and goes on with the
	// requests it has. A browser client that reloads its page can lose a
	// request it had numbered but not yet sent (Strophe.js 'keepalive',
	// converse.js session restore); without this the session would wait
	// for it for ever. A given-up rid that arrives later was delayed, not
	// lost: it is processed late (its payloads go upstream after those of
	// the requests that overtook it) and answered at once with an empty
	// body; with keys (§15), or for a terminate, pause, restart or stream
	// request, it gets item-not-found instead (§14.3). Likewise, a rid above
	// the window that arrives while requests wait above a gap gives the
	// missing rids up at once when that puts it inside the window (the
	// client counts them as done: it never has more than 'requests'
	// outstanding); §14.2 would end the session. Default 3s.
	GapTimeout time.Duration
	// StrictWindow keeps §14.2 to the letter: requests above a gap wait
	// for the missing rid until the session ends, and a rid above the
	// window always ends the session with item-not-found. GapTimeout is
	// then unused.
	StrictWindow bool
	// MaxBodySize is the largest request body, compressed or not; a larger
	// one is refused with policy-violation (HTTP 403 for legacy clients)
	// before it is read whole. Default 256 KiB; at least 1 KiB.
	MaxBodySize int64
	// MaxDepth is the deepest element nesting in a request, <body/> being
	// 1; deeper requests get policy-violation. Default 32; 2 to 1024.
	MaxDepth int
	// MaxAttrs is the most attributes on one element; more get
	// policy-violation. Default 64; 8 to 1024.
	MaxAttrs int
	// MaxSessions is the most sessions at once; further creation requests
	// get HTTP 503 with Retry-After: 5 (OverloadError), which clients
	// retry. Default 100000.
	MaxSessions int
	// MaxSessionsPerAddress is the most sessions open at once from one
	// client address (an IPv4 address, or the /64 of an IPv6 address; see
	// TrustedProxies for how the address is found); further creation
	// requests from it get HTTP 503 with Retry-After: 5 (OverloadError)
	// until one of its sessions ends. Default 1000: far above one user's
	// needs, yet one address can hold at most 1% of the default
	// MaxSessions; a deployment with many users behind one NAT or one
	// untrusted proxy raises it. 1 to 1<<30. Sessions whose peer address
	// is not an IP address (a Unix socket listener) are not counted.
	MaxSessionsPerAddress int
	// SessionsPerSecond and SessionBurst bound the rate of session
	// creation, for the whole handler, as a token bucket: SessionBurst
	// creations at once, refilled at SessionsPerSecond. A creation request
	// that finds the bucket empty gets HTTP 503 with Retry-After set to
	// the time until the next token, in whole seconds (OverloadError):
	// overload is not the client's fault, and Strophe.js and StanzaJS
	// resend the request. Requests of existing sessions are never limited. Defaults 200 a second and a burst of
	// 400: a full restart of the default 100000 sessions is let back in
	// within about 8 minutes, while a flood cannot make the upstream open
	// more than 200 streams a second. SessionsPerSecond 1 to 1e6,
	// SessionBurst 1 to 1<<30.
	SessionsPerSecond float64
	// SessionBurst: see SessionsPerSecond.
	SessionBurst int
	// MaxPayloadSize is the largest single child element of a request
	// body (one stanza), in bytes as received after decompression; a
	// request carrying a larger one gets policy-violation, which ends its
	// session (§17.2). Default and upper bound MaxBodySize; at least 1 KiB.
	MaxPayloadSize int
	// MaxQueue is the most payloads queued for one client; a session whose
	// upstream queues more ends with policy-violation, and the queued
	// payloads go back to the upstream (Closing.Undelivered). Default 1000.
	MaxQueue int
	// AllowOrigins are the origins whose browser pages may use the handler
	// across origins (CORS): exact origins such as
	// "https://chat.example.com", answered with credentials allowed, or
	// "*" for any origin without credentials. Empty: no CORS headers, and
	// the Origin header is ignored (§5: headers BOSH does not define).
	// With a list, a request from an origin not on it and not the
	// handler's own host is refused with policy-violation (HTTP 403).
	AllowOrigins []string
	// Charsets are the request charsets, besides UTF-8, that the handler
	// converts (§7.2 'charsets'), by any name golang.org/x/net/html/charset
	// knows, for example "ISO-8859-1". They are advertised on every
	// creation response. Responses are always UTF-8.
	Charsets []string
	// Routes are the 'route' values (proto:host:port, §7.1) that clients
	// may ask for; any other route gets host-unknown.
	// Empty: 'route' is ignored.
	Routes []string
	// MultipleStreams lets clients open several streams in one session
	// (§16). Default off: 'to' and 'route' on later requests are ignored
	// (§16.3).
	MultipleStreams bool
	// CompressMin is the smallest response body that is compressed when
	// the client accepts gzip or deflate (§5). Default 512 bytes.
	CompressMin int
	// TrustedProxies are the IP addresses or CIDR prefixes ("10.0.0.0/8",
	// "::1") of reverse proxies in front of the handler. The Forwarded
	// (RFC 7239 'for=') and X-Forwarded-For headers are believed only on a
	// request whose peer is on the list; the client's address is then the
	// right-most address in them that is not on the list, and becomes
	// OpenRequest.RemoteAddr and the key of MaxSessionsPerAddress.
	// Obfuscated and "unknown" identifiers end the walk at the last trusted
	// hop. Empty: the headers are ignored and the peer address is used.
	TrustedProxies []string
	// SIDPrefix names this node of a cluster in every sid it makes: a
	// node id of 1 to 16 characters a-z, 0-9 and '-', written before the
	// sid's random part with a dot ("n2" gives sids "n2.<random>"), so
	// that a front end such as bosh/cluster finds a session's owner in
	// its sid (SIDPrefixOf). The random part and its unpredictability
	// (§7.2, §19.3) are the same with or without a prefix. Empty: sids
	// carry no prefix.
	SIDPrefix string
	// Logger receives the handler's logs; nil means slog.Default().
	Logger *slog.Logger

	clock clock.Clock // tests only; nil means the real clock
}

// Defaults.
const (
	DefaultMaxWait     = 45 * time.Second
	DefaultMaxHold     = 1
	DefaultInactivity  = 60 * time.Second
	DefaultPolling     = 2 * time.Second
	DefaultMaxPause    = 120 * time.Second
	DefaultReportAfter = 2 * time.Second
	DefaultGapTimeout  = 3 * time.Second
	DefaultMaxBodySize = 256 << 10
	DefaultMaxDepth    = 32
	DefaultMaxAttrs    = 64
	DefaultMaxSessions = 100000
	DefaultMaxQueue    = 1000
	DefaultCompressMin = 512

	DefaultMaxSessionsPerAddress = 1000
	DefaultSessionsPerSecond     = 200
	DefaultSessionBurst          = 400
)

const maxUnsignedShort = 65535 * time.Second

// withDefaults returns a copy of c with defaults filled in, or an error for
// an invalid value.
func (c Config) withDefaults() (Config, error) {
	dur := func(v *time.Duration, def, lo, hi time.Duration, name string) error {
		if *v == 0 {
			*v = def
		}
		if *v < lo || *v > hi {
			return &ConfigError{Field: name, Value: *v, Want: fmt.Sprintf("%v to %v", lo, hi)}
		}
		return nil
	}
	num := func(v *int, def, lo, hi int, name string) error {
		if *v == 0 {
			*v = def
		}
		if *v < lo || *v > hi {
			return &ConfigError{Field: name, Value: *v, Want: fmt.Sprintf("%d to %d", lo, hi)}
		}
		return nil
	}
	errs := []error{
		dur(&c.MaxWait, DefaultMaxWait, time.Second, maxUnsignedShort, "MaxWait"),
		num(&c.MaxHold, DefaultMaxHold, 1, 16, "MaxHold"),
		dur(&c.Inactivity, DefaultInactivity, time.Second, maxUnsignedShort, "Inactivity"),
		dur(&c.Polling, DefaultPolling, 0, maxUnsignedShort, "Polling"),
		dur(&c.MaxPause, DefaultMaxPause, time.Second, maxUnsignedShort, "MaxPause"),
		dur(&c.ReportAfter, DefaultReportAfter, time.Millisecond, time.Hour, "ReportAfter"),
		dur(&c.GapTimeout, DefaultGapTimeout, time.Millisecond, time.Hour, "GapTimeout"),
		num(&c.MaxDepth, DefaultMaxDepth, 2, 1024, "MaxDepth"),
		num(&c.MaxAttrs, DefaultMaxAttrs, 8, 1024, "MaxAttrs"),
		num(&c.MaxSessions, DefaultMaxSessions, 1, 1<<30, "MaxSessions"),
		num(&c.MaxQueue, DefaultMaxQueue, 1, 1<<30, "MaxQueue"),
		num(&c.CompressMin, DefaultCompressMin, 1, 1<<30, "CompressMin"),
		num(&c.MaxSessionsPerAddress, DefaultMaxSessionsPerAddress, 1, 1<<30, "MaxSessionsPerAddress"),
		num(&c.SessionBurst, DefaultSessionBurst, 1, 1<<30, "SessionBurst"),
	}
	if c.MaxBodySize == 0 {
		c.MaxBodySize = DefaultMaxBodySize
	}
	if c.MaxBodySize < 1<<10 {
		errs = append(errs, &ConfigError{Field: "MaxBodySize", Value: c.MaxBodySize, Want: "at least 1024"})
	}
	if c.MaxPayloadSize == 0 {
		c.MaxPayloadSize = int(min(c.MaxBodySize, 1<<30))
	}
	if c.MaxPayloadSize < 1<<10 || int64(c.MaxPayloadSize) > c.MaxBodySize {
		errs = append(errs, &ConfigError{Field: "MaxPayloadSize", Value: c.MaxPayloadSize, Want: fmt.Sprintf("1024 to MaxBodySize (%d)", c.MaxBodySize)})
	}
	if c.SessionsPerSecond == 0 {
		c.SessionsPerSecond = DefaultSessionsPerSecond
	}
	if !(c.SessionsPerSecond >= 1 && c.SessionsPerSecond <= 1e6) { // also NaN
		errs = append(errs, &ConfigError{Field: "SessionsPerSecond", Value: c.SessionsPerSecond, Want: "1 to 1e6"})
	}
	for _, e := range errs {
		if e != nil {
			return c, e
		}
	}
	if err := c.checkLists(); err != nil {
		return c, err
	}
	if c.SIDPrefix != "" && !ValidNodeID(c.SIDPrefix) {
		return c, &ConfigError{Field: "SIDPrefix", Value: c.SIDPrefix, Want: "1 to 16 characters a-z, 0-9 and -"}
	}
	c.AllowOrigins = normalizeOrigins(c.AllowOrigins)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.clock == nil {
		c.clock = clock.Real
	}
	c.Charsets = append([]string(nil), c.Charsets...)
	c.Routes = append([]string(nil), c.Routes...)
	c.TrustedProxies = append([]string(nil), c.TrustedProxies...)
	return c, nil
}

func (c Config) checkLists() error {
	for _, o := range c.AllowOrigins {
		if _, ok := normalizeOrigin(o); !ok {
			return &ConfigError{Field: "AllowOrigins", Value: o, Want: "an origin like https://host[:port], or *"}
		}
	}
	for _, cs := range c.Charsets {
		if e, _ := charset.Lookup(cs); e == nil || strings.ContainsAny(cs, " \t") {
			return &ConfigError{Field: "Charsets", Value: cs, Want: "a charset name golang.org/x/net/html/charset knows"}
		}
	}
	for _, r := range c.Routes {
		if _, err := parseRoute(r); err != nil {
			return &ConfigError{Field: "Routes", Value: r, Want: "proto:host:port", Err: err}
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := parseProxies([]string{p}); err != nil {
			return &ConfigError{Field: "TrustedProxies", Value: p, Want: "an IP address or CIDR prefix", Err: err}
		}
	}
	return nil
}

// normalizeOrigin returns the serialization of an origin (RFC 6454 §6.1:
// scheme://host[:port], lower case) as browsers send it in Origin, and
// whether o is one; "*" is itself.
func normalizeOrigin(o string) (string, bool) {
	if o == "*" {
		return o, true
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), true
}

// normalizeOrigins returns a copy of valid origins, normalized.
func normalizeOrigins(origins []string) []string {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		n, _ := normalizeOrigin(o)
		out = append(out, n)
	}
	return out
}

// ConfigError reports an invalid Config field: NewHandler and
// Config.Validate return it, naming the field, the value and what is
// allowed, so that a program can tell its user which setting to change
// (boshd names its flag).
type ConfigError struct {
	Field string // the Config field, such as "MaxWait"
	Value any    // the invalid value, or the invalid item of a list field
	Want  string // what the field allows, such as "1 to 1073741824"
	Err   error  // the cause, if any
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("bosh: Config.%s %s: want %s", e.Field, e.ValueString(), e.Want)
}

// ValueString is the invalid value as an error message shows it: quoted
// when it is a string.
func (e *ConfigError) ValueString() string {
	if s, ok := e.Value.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(e.Value)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Validate reports whether c is a valid Config, as NewHandler will judge
// it: nil, or a *ConfigError for the first invalid field. Zero fields are
// valid: they mean the defaults.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// parseRoute parses proto:host:port (§7.1). It is not a URI: there is no
// percent-decoding and no authority syntax (§7.1 footnote). An IPv6 host is
// written in brackets.
func parseRoute(s string) (*Route, error) {
	proto, rest, ok := strings.Cut(s, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i < 0 || proto == "" {
		return nil, fmt.Errorf("route %q is not proto:host:port", s)
	}
	host, portStr := rest[:i], rest[i+1:]
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 || portStr[0] == '+' {
		return nil, fmt.Errorf("route %q has no valid port", s)
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if host == "" || strings.ContainsAny(host, "/@?#[] \t") {
		return nil, fmt.Errorf("route %q has no valid host", s)
	}
	for _, r := range proto {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return nil, fmt.Errorf("route %q has no valid proto", s)
		}
	}
	return &Route{Proto: strings.ToLower(proto), Host: strings.ToLower(host), Port: port}, nil
}
