package xmppstream

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/ids"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// Namespaces of XMPP (RFC 6120, RFC 3921) that the Server reads and writes.
const (
	nsClient  = xmppwire.NSClient
	nsStream  = xmppwire.NSStream
	nsStreams = xmppwire.NSStreams
	nsStanzas = xmppwire.NSStanzas
	nsSASL    = xmppwire.NSSASL
	nsBind    = xmppwire.NSBind
	nsSession = xmppwire.NSSession
)

// The SASL mechanisms a Server can offer (RFC 4616, RFC 5802, RFC 7677,
// RFC 2831).
const (
	MechPlain       = "PLAIN"
	MechScramSHA1   = "SCRAM-SHA-1"
	MechScramSHA256 = "SCRAM-SHA-256"
	// MechDigestMD5 is offered only when listed in
	// ServerConfig.Mechanisms. RFC 6331 moved DIGEST-MD5 to historic: its
	// MD5 arithmetic is weak, it has no channel binding, and the server
	// must keep a password equivalent (Credentials.DigestMD5, or the
	// password). It is here for old clients (libpurple and StanzaJS
	// still implement it) and the XEP-0206 v1.2 walk-through (Examples
	// 4–9).
	MechDigestMD5 = "DIGEST-MD5"
)

// NonSASLAuthMode says whether a Server offers non-SASL authentication
// (XEP-0078, jabber:iq:auth), the login that XEP-0206 §4's 'authid'
// remains for.
type NonSASLAuthMode int

const (
	// NonSASLAuthOff, the zero value: no iq-auth feature, and a
	// jabber:iq:auth request gets service-unavailable (XEP-0078 §3).
	NonSASLAuthOff NonSASLAuthMode = iota
	// NonSASLAuthWithSASL offers the iq-auth feature beside the SASL
	// mechanisms (XEP-0078 §4). Clients that implement both use SASL
	// (XEP-0078 §7).
	NonSASLAuthWithSASL
	// NonSASLAuthOnly offers the iq-auth feature and no SASL mechanism,
	// for clients that fall back to XEP-0078 only when no mechanism is
	// offered (Strophe.js). ServerConfig.Mechanisms must then be empty.
	NonSASLAuthOnly
)

// defaultMechanisms are offered when ServerConfig.Mechanisms is empty,
// strongest first.
var defaultMechanisms = []string{MechScramSHA256, MechScramSHA1, MechPlain}

// MaxAuthFailures is how many failed SASL attempts a stream may make; the
// last one ends it with a not-authorized stream error (RFC 6120 §6.4.5:
// "at least 2 and no more than 5" retries).
const MaxAuthFailures = 5

// ServerConfig configures a Server. NewServer copies it and reports invalid
// values as an error.
type ServerConfig struct {
	// Domains are the XMPP domains the server hosts. A session whose 'to'
	// is not one of them is refused with host-unknown (XEP-0124 §17.2).
	// Required; each is prepared as a JID domainpart (RFC 7622 §3.2).
	Domains []string
	// Mechanisms are the SASL mechanisms offered, in the order advertised:
	// any of "PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256" and "DIGEST-MD5".
	// Default SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN. A client asking for
	// another gets invalid-mechanism (RFC 6120 §6.4.5).
	//
	// DIGEST-MD5 (RFC 2831, qop=auth with md5-sess) is never a default:
	// it is historic (RFC 6331, see MechDigestMD5). Its cost: the Core
	// must give Credentials.DigestMD5 or the password, a password
	// equivalent at MD5 speed where SCRAM keeps a salted, iterated hash;
	// and a client that can do SCRAM gains nothing from it.
	Mechanisms []string
	// NonSASLAuth offers non-SASL authentication (XEP-0078): the iq-auth
	// stream feature, and jabber:iq:auth requests that authenticate,
	// bind the resource and establish the session (RFC 3921 §3) in one
	// step. A plain-text <password/> is taken only on sessions that came
	// over TLS (bosh.OpenRequest.Secure) and checked like PLAIN; a
	// <digest/> (SHA-1 of the stream id, XEP-0206 §4 'authid', and the
	// password) needs Credentials.Password. Default NonSASLAuthOff: the
	// protocol is obsolete (XEP-0078 §1) and weaker than SASL. Its cost:
	// digest logins need the Core to keep plain passwords; plain-text
	// ones send the password, as PLAIN does; a client offered both
	// can be downgraded by an attacker on an unencrypted channel
	// (XEP-0078 §7).
	NonSASLAuth NonSASLAuthMode
	// RequireSession makes the RFC 3921 §3 session mandatory: the
	// post-authentication features list <session/> without <optional/>,
	// and any stanza before the session iq ends the stream with a
	// not-authorized stream error. Default false: <session/> is advertised
	// with <optional/> (RFC 6121 deprecates it) and may be skipped.
	RequireSession bool
	// RequireSecurePlain refuses PLAIN on sessions that did not come over
	// TLS (bosh.OpenRequest.Secure): it is not advertised there, and a
	// client asking for it gets mechanism-too-weak (RFC 6120 §6.4.5,
	// §13.9.4). Default false, for hosts behind a TLS-terminating proxy.
	RequireSecurePlain bool
	// Logger receives the server's logs; nil means slog.Default(). It never
	// gets passwords, SASL data or stanza contents.
	Logger *slog.Logger
}

// A Server is the negotiating upstream of XEP-0206 for a Core in the same
// process: it implements bosh.Upstream, answers each new session with the
// stream features, runs SASL (RFC 6120 §6), resource binding (§7) and
// session establishment (RFC 3921 §3) itself, refuses stanzas until those
// preconditions hold (XEP-0206 §5), stamps 'from' (RFC 6120 §8.1.2.1) and
// hands the stanzas to the Core. Its methods are safe for concurrent use.
type Server struct {
	// Set in NewServer, then read-only.
	core           Core
	domains        map[string]bool
	mechs          []string
	nonSASL        NonSASLAuthMode
	requireSession bool
	securePlain    bool
	log            *slog.Logger
	secret         [32]byte // keys the fake SCRAM salts of unknown users

	live    liveStreams    // the open streams, for Fail
	counts  serverCounters // Stats
	unbinds sync.WaitGroup // Core.Unbind calls on goroutines of their own (Shutdown)
}

// unbindLater calls Core.Unbind on a goroutine of its own, which Shutdown
// waits for.
func (s *Server) unbindLater(c Client, undelivered [][]byte) {
	s.unbinds.Go(func() { s.core.Unbind(c, undelivered) })
}

// Shutdown waits until every Core.Unbind the Server started on a
// goroutine of its own has returned, or ctx ends. bosh.Handler.Shutdown
// calls it once every session has ended; a host that shuts the Server down
// by itself calls it after that.
func (s *Server) Shutdown(ctx context.Context) error {
	return waitGroup(ctx, &s.unbinds)
}

// waitGroup waits for wg or ctx.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewServer returns a Server for core. It reports an error for a nil core
// or an invalid ServerConfig.
func NewServer(core Core, cfg ServerConfig) (*Server, error) {
	if core == nil {
		return nil, errors.New("xmppstream: nil Core")
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("xmppstream: ServerConfig.Domains is empty")
	}
	s := &Server{
		core:           core,
		domains:        make(map[string]bool),
		nonSASL:        cfg.NonSASLAuth,
		requireSession: cfg.RequireSession,
		securePlain:    cfg.RequireSecurePlain,
		log:            cfg.Logger,
	}
	for _, d := range cfg.Domains {
		p, ok := prepareDomain(d)
		if !ok {
			return nil, fmt.Errorf("xmppstream: ServerConfig.Domains: %q is not a domain", d)
		}
		s.domains[p] = true
	}
	if err := s.setMechanisms(cfg); err != nil {
		return nil, err
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	rand.Read(s.secret[:]) // never returns an error (crypto/rand, Go 1.24+)
	return s, nil
}

// setMechanisms checks ServerConfig.Mechanisms and NonSASLAuth and sets
// the mechanisms offered.
func (s *Server) setMechanisms(cfg ServerConfig) error {
	switch cfg.NonSASLAuth {
	case NonSASLAuthOff, NonSASLAuthWithSASL:
	case NonSASLAuthOnly:
		if len(cfg.Mechanisms) > 0 {
			return errors.New("xmppstream: ServerConfig.Mechanisms must be empty with NonSASLAuthOnly")
		}
		return nil
	default:
		return fmt.Errorf("xmppstream: ServerConfig.NonSASLAuth: unknown mode %d", cfg.NonSASLAuth)
	}
	mechs := cfg.Mechanisms
	if len(mechs) == 0 {
		mechs = defaultMechanisms
	}
	for _, m := range mechs {
		m = strings.ToUpper(m)
		if _, ok := mechanism(m); !ok && m != MechDigestMD5 {
			return fmt.Errorf("xmppstream: ServerConfig.Mechanisms: unsupported mechanism %q", m)
		}
		for _, prev := range s.mechs {
			if prev == m {
				return fmt.Errorf("xmppstream: ServerConfig.Mechanisms: %q listed twice", m)
			}
		}
		s.mechs = append(s.mechs, m)
	}
	return nil
}

// mechanism returns the mellium.im/sasl mechanism named name; DIGEST-MD5
// is not one (see digestmd5.go).
func mechanism(name string) (sasl.Mechanism, bool) {
	switch name {
	case MechPlain:
		return sasl.Plain, true
	case MechScramSHA1:
		return sasl.ScramSha1, true
	case MechScramSHA256:
		return sasl.ScramSha256, true
	}
	return sasl.Mechanism{}, false
}

// prepareDomain prepares a bare domain (RFC 7622 §3.2).
func prepareDomain(d string) (string, bool) {
	j, err := ParseJID(d)
	if err != nil || j.Local != "" || j.Resource != "" {
		return "", false
	}
	return j.Domain, true
}

// Open starts the XMPP stream of a new BOSH session (XEP-0206 §3, §4). It
// refuses a 'to' that is not one of ServerConfig.Domains with
// host-unknown, and otherwise puts on the session creation response the
// XEP-0206 attributes (xmpp:version, xmpp:restartlogic, authid, from, and
// the declaration of the stream prefix)
// and the pre-authentication <stream:features/>. A missing
// {urn:xmpp:xbosh}version is taken as "1.0", its schema default
// .
func (s *Server) Open(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
	domain, ok := prepareDomain(req.To)
	if !ok || !s.domains[domain] {
		return nil, &bosh.Error{Condition: bosh.HostUnknown, Err: fmt.Errorf("xmppstream: domain %q not hosted", req.To)}
	}
	if v, ok := req.Attr(bosh.NSXBOSH, "version"); ok && !strings.HasPrefix(strings.TrimSpace(v), "1.") {
		// RFC 6120 §4.7.5: we speak 1.0 only; a pre-1.0 client gets the
		// features anyway (non-SASL authentication only if configured).
		s.log.Debug("xmppstream: client stream version is not 1.x", "version", v)
	}
	st := newStream(s, sink, domain, req.Secure, ids.New())
	sink.SetAttrs(
		bosh.Attr{Name: "xmlns:xmpp", Value: bosh.NSXBOSH},
		bosh.Attr{Name: "xmpp:version", Value: "1.0"},
		bosh.Attr{Name: "xmpp:restartlogic", Value: "true"},
		bosh.Attr{Name: "authid", Value: st.id},
		bosh.Attr{Name: "from", Value: domain},
		streamPrefix,
	)
	sink.Deliver(st.features())
	if err := s.live.add(st); err != nil {
		return nil, err
	}
	return st, nil
}

// offered returns the mechanisms advertised on a session: PLAIN is left
// out of sessions without TLS when ServerConfig.RequireSecurePlain is set;
// none under NonSASLAuthOnly.
func (s *Server) offered(secure bool) []string {
	if !s.securePlain || secure {
		return s.mechs
	}
	out := make([]string, 0, len(s.mechs))
	for _, m := range s.mechs {
		if m != MechPlain {
			out = append(out, m)
		}
	}
	return out
}
