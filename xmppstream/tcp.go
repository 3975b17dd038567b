package xmppstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/netpark"
)

// Defaults of TCPConfig.
const (
	DefaultMaxStanzaSize = 256 << 10
	DefaultDialTimeout   = 10 * time.Second
)

// Timeouts of the TCP upstream that are not configurable.
const (
	// tcpWriteTimeout bounds every write to the server, so that a server
	// that stops reading cannot block a client request for ever.
	tcpWriteTimeout = 10 * time.Second
	// tcpCloseTimeout bounds the closing </stream:stream> and the wait
	// for the reader goroutine in Close.
	tcpCloseTimeout = 2 * time.Second
	// tlsSessionCacheSize is the number of server names whose TLS
	// sessions the upstream's own session cache keeps.
	tlsSessionCacheSize = 64
)

// TCPConfig configures a TCPUpstream. NewTCPUpstream copies it and reports
// invalid values as an error.
type TCPConfig struct {
	// Addr is the host:port of the XMPP server's client port (RFC 6120
	// §3.2, usually 5222; 5223 with DirectTLS). Required. A session
	// whose creation request has a 'route' that bosh.Config.Routes
	// allows connects to the route's host and port instead (XEP-0124
	// §7.1).
	Addr string
	// DirectTLS starts TLS with the first byte (XEP-0368). Default false:
	// plain TCP, upgraded with STARTTLS when the server offers it (RFC
	// 6120 §5).
	DirectTLS bool
	// TLSConfig is used for DirectTLS and STARTTLS; nil means the
	// system's roots. Set RootCAs for a private CA. Certificates are
	// always verified; ServerName defaults to the session's domain (RFC
	// 6120 §13.7.2). A failed verification ends the session with
	// remote-connection-failed. Without a ClientSessionCache the
	// upstream keeps one of its own, shared by its sessions, so that TLS
	// sessions to the server are resumed: one full handshake per server
	// name, not one per BOSH session.
	TLSConfig *tls.Config
	// RequireTLS refuses sessions whose server offers no STARTTLS even
	// when the server is on a loopback address or a Unix socket: they end
	// with remote-connection-failed. Without it, TLS is still required
	// toward any other server (see InsecurePlaintext).
	RequireTLS bool
	// InsecurePlaintext lets a session go on in plain text when a server
	// that is not on a loopback address or a Unix socket offers no
	// STARTTLS. The client's SASL exchange (PLAIN carries the password)
	// and every stanza then cross the network in clear, and anyone on the
	// path can strip STARTTLS from the server's features to get there
	// (RFC 6120 §13.7.1). Default false: such a session ends with
	// remote-connection-failed. A server on loopback or a Unix socket may
	// stay plain unless RequireTLS is set; with DirectTLS the question
	// does not arise. Setting both RequireTLS and InsecurePlaintext is an
	// error.
	InsecurePlaintext bool
	// Domains are the XMPP domains the server hosts. A session whose 'to'
	// is not one of them is refused with host-unknown (XEP-0124 §17.2)
	// without connecting. Required; each is prepared as a JID domainpart
	// (RFC 7622 §3.2).
	Domains []string
	// MaxStanzaSize is the largest element (or stream header) the server
	// may send, in bytes. A larger one ends the session with
	// policy-violation, a limit of the connection manager's like
	// bosh.Config.MaxQueue. Default DefaultMaxStanzaSize (256 KiB), at
	// least 1024.
	MaxStanzaSize int
	// DialTimeout bounds connecting, TLS and reading the server's first
	// stream features, which the session creation response waits for
	// (XEP-0206 §4). Default DefaultDialTimeout (10s).
	DialTimeout time.Duration
	// ProxyHeader sends a PROXY protocol version 2 header carrying
	// bosh.OpenRequest.RemoteAddr before anything else, for servers that
	// accept it (Prosody's mod_net_proxy, ejabberd's use_proxy_protocol).
	// A client address that is not an IP sends the LOCAL command.
	ProxyHeader bool
	// Dial opens the TCP connections; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives the upstream's logs; nil means slog.Default(). It
	// never gets stanza contents or SASL data.
	Logger *slog.Logger
}

// A TCPUpstream is a bosh.Upstream that makes the BOSH handler a
// standalone connection manager, like Punjab or node-xmpp-bosh: every
// session opens its own client-to-server XMPP stream over TCP to an
// existing server (RFC 6120), and XEP-0206 is done by relaying.
//
//   - Open connects (optionally with a PROXY v2 header and direct TLS),
//     sends the stream header with the session's 'to', 'from',
//     'xml:lang' and version, negotiates STARTTLS with certificate
//     verification, and puts the server's stream id (authid), 'from',
//     xmpp:version, xmpp:restartlogic and the post-TLS
//     <stream:features/> without <starttls/> on the creation
//     response.
//   - Send writes the client's payloads as the client's bytes; a restart
//     sends a new stream header on the same connection, ignores
//     the request's payloads and relays the new features.
//     A restart before SASL success on the current stream sends nothing
//     and gives the client the current features again, as Server does.
//   - Each session's reader reads the server's stream and delivers
//     each top-level element, checked by internal/xmlscan and made
//     self-contained (xmlns='jabber:client' on stanzas, xmlns:stream on
//     stream elements). Entities are never expanded. The elements that
//     arrive together (one read from the connection) are delivered
//     together, so the client gets them in one response, as from the
//     server's own BOSH. While the server says nothing, the reader is
//     parked on Linux (internal/netpark): no goroutine, no read buffer,
//     no parser scratch; bytes or a hangup from the server start it
//     again, so nothing is delayed and a lost server is still seen at
//     once.
//
// How a session ends, as the client sees it: a server <stream:error/> is
// remote-stream-error carrying it (XEP-0206 §6); the server's
// </stream:stream> is a plain terminate body without condition (the
// server ended the stream normally); a lost connection, a write error, a
// DOCTYPE or other malformed XML is remote-connection-failed; an
// element over MaxStanzaSize is policy-violation. When the session ends
// on the BOSH side, Close sends </stream:stream> and closes the
// connection.
//
// A TCPUpstream is safe for concurrent use.
type TCPUpstream struct {
	// Set in NewTCPUpstream, then read-only.
	cfg     TCPConfig
	domains map[string]bool
	log     *slog.Logger

	counts  tcpCounters    // Stats
	readers sync.WaitGroup // the streams' readers, running or parked (Shutdown)
	// poller parks the readers of idle streams: one goroutine and one
	// epoll instance for all of them, started by the first reader that
	// parks and closed by Shutdown. noPoller: none (netpark unsupported,
	// or after Shutdown), and every reader keeps its goroutine.
	pollMu   sync.Mutex
	poller   *netpark.Poller
	noPoller bool
}

// parker returns the Poller that parks idle readers, started on first
// use, or nil when there is none.
func (u *TCPUpstream) parker() *netpark.Poller {
	u.pollMu.Lock()
	defer u.pollMu.Unlock()
	if u.poller == nil && !u.noPoller {
		p, err := netpark.New()
		u.poller, u.noPoller = p, err != nil
	}
	return u.poller
}

// Shutdown waits until the reader of every stream has stopped, or ctx
// ends. Each stops once its stream is closed:
// bosh.Handler.Shutdown ends every session, closing their streams, then
// calls it. Once they have, it stops the Poller of parked readers.
func (u *TCPUpstream) Shutdown(ctx context.Context) error {
	if err := waitGroup(ctx, &u.readers); err != nil {
		return err
	}
	u.pollMu.Lock()
	p := u.poller
	u.poller, u.noPoller = nil, true
	u.pollMu.Unlock()
	if p != nil {
		p.Close()
	}
	return nil
}

// NewTCPUpstream returns a TCPUpstream for cfg, or an error for an invalid
// TCPConfig.
func NewTCPUpstream(cfg TCPConfig) (*TCPUpstream, error) {
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("xmppstream: TCPConfig.Addr: %w", err)
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("xmppstream: TCPConfig.Domains is empty")
	}
	if cfg.RequireTLS && cfg.InsecurePlaintext {
		return nil, errors.New("xmppstream: TCPConfig.RequireTLS and InsecurePlaintext contradict each other")
	}
	u := &TCPUpstream{cfg: cfg, domains: make(map[string]bool), log: cfg.Logger}
	for _, d := range cfg.Domains {
		p, ok := prepareDomain(d)
		if !ok {
			return nil, fmt.Errorf("xmppstream: TCPConfig.Domains: %q is not a domain", d)
		}
		u.domains[p] = true
	}
	switch {
	case cfg.MaxStanzaSize == 0:
		u.cfg.MaxStanzaSize = DefaultMaxStanzaSize
	case cfg.MaxStanzaSize < 1024:
		return nil, fmt.Errorf("xmppstream: TCPConfig.MaxStanzaSize %d is under 1024", cfg.MaxStanzaSize)
	}
	switch {
	case cfg.DialTimeout == 0:
		u.cfg.DialTimeout = DefaultDialTimeout
	case cfg.DialTimeout < 0:
		return nil, fmt.Errorf("xmppstream: TCPConfig.DialTimeout %v is negative", cfg.DialTimeout)
	}
	if cfg.TLSConfig != nil {
		u.cfg.TLSConfig = cfg.TLSConfig.Clone()
	} else {
		u.cfg.TLSConfig = &tls.Config{}
	}
	if u.cfg.TLSConfig.ClientSessionCache == nil {
		// One cache per upstream: every session's handshake after the
		// first resumes (RFC 8446 §2.2), so a login costs one full
		// handshake per server name instead of one per session.
		u.cfg.TLSConfig.ClientSessionCache = tls.NewLRUClientSessionCache(tlsSessionCacheSize)
	}
	u.cfg.Domains = append([]string(nil), cfg.Domains...)
	if u.cfg.Dial == nil {
		var d net.Dialer
		u.cfg.Dial = d.DialContext
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	return u, nil
}

// Open connects a new session's XMPP stream to the server (XEP-0206 §3,
// §4); see TCPUpstream. It returns once the server's first stream
// features (after TLS) are on the creation response, or with
// host-unknown, or remote-connection-failed when the server cannot be
// reached, TLS fails, or the server sends no features within
// TCPConfig.DialTimeout.
func (u *TCPUpstream) Open(ctx context.Context, req *bosh.OpenRequest, sink bosh.Sink) (bosh.Stream, error) {
	domain, ok := prepareDomain(req.To)
	if !ok || !u.domains[domain] {
		return nil, &bosh.Error{Condition: bosh.HostUnknown, Err: fmt.Errorf("xmppstream: domain %q not served", req.To)}
	}
	ctx, cancel := context.WithTimeout(ctx, u.cfg.DialTimeout)
	defer cancel()
	addr := u.cfg.Addr
	if req.Route != nil {
		addr = net.JoinHostPort(req.Route.Host, strconv.Itoa(req.Route.Port))
	}
	s := &tcpStream{up: u, sink: sink, domain: domain, done: make(chan struct{}), writing: make(chan struct{}, 1)}
	s.header, s.version = openHeader(domain, req)
	n, err := s.connect(ctx, addr, req.RemoteAddr)
	if err != nil {
		if s.conn != nil {
			s.conn.Close()
		}
		u.log.Info("xmppstream: upstream connection failed", "addr", addr, "domain", domain, "err", err)
		var be *bosh.Error
		if !errors.As(err, &be) {
			err = &bosh.Error{Condition: bosh.RemoteConnectionFailed, Err: err}
		}
		u.connectFailed(err)
		return nil, err
	}
	u.counts.streams.Add(1)
	from := n.header.from
	if from == "" {
		from = domain
	}
	sink.SetAttrs(
		bosh.Attr{Name: "xmlns:xmpp", Value: bosh.NSXBOSH},
		bosh.Attr{Name: "xmpp:version", Value: "1.0"},
		bosh.Attr{Name: "xmpp:restartlogic", Value: "true"},
		bosh.Attr{Name: "authid", Value: n.header.id},
		bosh.Attr{Name: "from", Value: from},
		streamPrefix,
	)
	s.features.Store(&n.features)
	sink.Deliver(n.features)
	u.readers.Add(1) // Done when the reader stops for good (stopped)
	go s.read()
	return s, nil
}

// negotiated is the outcome of connect.
type negotiated struct {
	header   *streamHeader
	features []byte // for the client, without <starttls/>
}

// connect dials addr and negotiates the stream up to the first features
// after TLS (RFC 6120 §4.2, §5.4). ctx bounds the whole of it.
func (s *tcpStream) connect(ctx context.Context, addr, remote string) (negotiated, error) {
	cfg := &s.up.cfg
	conn, err := cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return negotiated{}, err
	}
	s.conn = conn
	stop := watchContext(ctx, conn)
	defer stop()
	if cfg.ProxyHeader {
		if _, err := conn.Write(proxyHeader(remote, conn.RemoteAddr())); err != nil {
			return negotiated{}, err
		}
	}
	secure := false
	if cfg.DirectTLS {
		if s.conn, err = s.handshake(ctx, conn); err != nil {
			return negotiated{}, err
		}
		secure = true
	}
	for {
		n, tlsOffered, err := s.open()
		switch {
		case err != nil:
			return negotiated{}, err
		case secure || (!tlsOffered && !s.up.tlsRequired(conn.RemoteAddr())):
			return n, nil
		case !tlsOffered:
			return negotiated{}, fmt.Errorf("%w (server %s)", errNoTLS, conn.RemoteAddr())
		}
		if err := s.starttls(ctx); err != nil {
			return negotiated{}, err
		}
		secure = true
	}
}

// errNoTLS is why a session whose server offers no STARTTLS is refused.
var errNoTLS = errors.New("xmppstream: the server offers no STARTTLS, and TLS is required toward it " +
	"(TCPConfig.RequireTLS, or a server that is not on loopback without TCPConfig.InsecurePlaintext)")

// tlsRequired reports whether a plain stream to the server at addr, the
// connection's remote address, must be refused: always with RequireTLS;
// never with InsecurePlaintext; otherwise unless addr is a loopback IP
// address or a Unix socket, where nobody else is on the path.
func (u *TCPUpstream) tlsRequired(addr net.Addr) bool {
	switch {
	case u.cfg.RequireTLS:
		return true
	case u.cfg.InsecurePlaintext:
		return false
	}
	switch a := addr.(type) {
	case *net.UnixAddr:
		return false
	case *net.TCPAddr:
		return !a.IP.IsLoopback()
	}
	return true
}

// open sends the stream header and reads the server's header and first
// features on a fresh reader (RFC 6120 §4.2, §4.3).
func (s *tcpStream) open() (negotiated, bool, error) {
	s.restarts = new(atomic.Int32)
	s.rd = newStreamReader(s.conn, s.up.cfg.MaxStanzaSize, s.restarts)
	if err := s.write(s.header); err != nil {
		return negotiated{}, false, err
	}
	ev, err := s.rd.next()
	if err != nil {
		return negotiated{}, false, err
	}
	if s.hdr, err = parseHeader(ev.raw, s.rd.qname, s.scratch()); err != nil {
		return negotiated{}, false, err
	}
	el, err := s.nextElement()
	switch {
	case err != nil:
		return negotiated{}, false, err
	case el.space == nsStream && el.local == "error":
		return negotiated{}, false, &bosh.Error{Condition: bosh.RemoteStreamError, Children: [][]byte{el.raw},
			Err: errors.New("xmppstream: stream error before the features")}
	case el.space != nsStream || el.local != "features":
		return negotiated{}, false, fmt.Errorf("%w: {%s}%s before the stream features", errServerXML, el.space, el.local)
	}
	features, tlsOffered := stripFeatures(el.raw, s.scratch())
	return negotiated{header: s.hdr, features: features}, tlsOffered, nil
}

// nextElement reads the next item, which must be an element, and checks it.
func (s *tcpStream) nextElement() (checked, error) {
	ev, err := s.rd.next()
	if err != nil {
		return checked{}, err
	}
	if ev.kind != evElement {
		return checked{}, fmt.Errorf("%w: stream closed or restarted during negotiation", errServerXML)
	}
	return s.hdr.element(ev, s.scratch())
}

// watchContext makes I/O on conn fail once ctx is done; stop undoes it.
func watchContext(ctx context.Context, conn net.Conn) (stop func()) {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	cancel := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		cancel()
		conn.SetDeadline(time.Time{})
	}
}

// openHeader returns the stream header for a session (RFC 6120 §4.7):
// 'to' the domain, 'from' the client's 'from' when it gave one (XEP-0206
// §3), its xml:lang, and its {urn:xmpp:xbosh}version
// , "1.0" by default (the schema default).
func openHeader(domain string, req *bosh.OpenRequest) (header []byte, version string) {
	version, _ = req.Attr(bosh.NSXBOSH, "version")
	if version = strings.TrimSpace(version); !validVersion(version) {
		version = "1.0"
	}
	lang := req.Lang
	if lang == "" {
		lang = "en"
	}
	return streamHeaderBytes(domain, req.From, lang, version), version
}

// validVersion reports whether v is major.minor (RFC 6120 §4.7.5).
func validVersion(v string) bool {
	dot := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '.' && !dot && i > 0 && i < len(v)-1:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return dot
}
