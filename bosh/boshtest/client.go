package boshtest

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"mellium.im/sasl"

	"github.com/httpbind/httpbind/internal/boshclient"
)

// ErrClosed is the error of a Client whose session was closed by Close or
// Terminate.
var ErrClosed = boshclient.ErrClosed

// TerminateError reports that the connection manager ended the session
// with a terminate body (XEP-0124 §17.2): its Condition is the terminal
// binding condition ("" for a session ended without one), and its
// StreamError the <stream:error/> that came with remote-stream-error
// (XEP-0206 §6), with xmlns:stream declared on it, or nil.
// errors.Is(err, bosh.ItemNotFound) and friends match its condition.
type TerminateError = boshclient.TerminateError

// ClientConfig configures a Client. The zero ClientConfig gives every
// default.
type ClientConfig struct {
	// HTTPClient sends the Client's requests. Default nil: a client of its
	// own with its own transport, whose idle connections Close closes.
	HTTPClient *http.Client
	// Wait is the 'wait' the Client asks for (XEP-0124 §7.1), in whole
	// seconds: it is rounded down to a second, and 1s at the least.
	// Default 30s.
	Wait time.Duration
	// Trace, when set, receives every request and response body, one line
	// each, prefixed with "→ rid" or "← rid". Writes are serialized. The
	// bodies include SASL payloads: use it for debugging only.
	Trace io.Writer
	// Mechanism is the SASL mechanism Login authenticates with, for
	// example sasl.ScramSha1 or sasl.ScramSha256. Default sasl.Plain.
	Mechanism sasl.Mechanism
	// Attempts is how often a request is sent with the same rid when the
	// network fails before its response arrives (XEP-0124 §14.3). Default
	// 3; 1 sends every request once.
	Attempts int
	// RequestTimeout is how long the Client waits for one attempt's
	// response before it sends the request again with the same rid
	// (§14.3). It must exceed the session's 'wait'. Default 'wait' plus
	// 10s.
	RequestTimeout time.Duration
	// Acks makes the Client acknowledge responses (XEP-0124 §9): ack='1'
	// on the creation request, and on every request the highest rid whose
	// response it has processed in order, so that the connection manager
	// keeps every unacknowledged response for retransmission (§14.3).
	// Default false.
	Acks bool
}

// busyRetries bounds how often one request is sent again after HTTP 503
// (the connection manager was busy, bosh.OverloadError), each time after
// its Retry-After, as Strophe.js and StanzaJS do.
const busyRetries = 20

// Client is a BOSH client (XEP-0124) that speaks XMPP over BOSH (XEP-0206),
// for tests. It behaves like a browser client: after Connect it keeps one
// empty request held at the connection manager at all times, sends stanzas
// in extra requests (never more than 'requests' at once), increments rids,
// and processes responses in rid order. It is the module's one BOSH client
// (internal/boshclient), which prebind runs in process.
//
// Connect first; then Login, Send, Receive and Terminate. Send and Receive
// are safe for concurrent use; Login must not run concurrently with
// Receive, since both take received elements. Close releases everything;
// it is safe to call more than once and from any goroutine.
type Client struct {
	bc    *boshclient.Client // set in NewClient, then read-only
	mech  sasl.Mechanism
	hc    *http.Client
	ownHC bool

	mu     sync.Mutex // guards the fields below
	domain string
	stop   func() bool // ends the watch on Connect's context
	jid    string
}

// NewClient returns a Client for the BOSH endpoint url, for example a
// Server's URL, configured by cfg.
func NewClient(url string, cfg ClientConfig) *Client {
	c := &Client{mech: cfg.Mechanism, hc: cfg.HTTPClient}
	if c.mech.Name == "" {
		c.mech = sasl.Plain
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.ownHC = true
	}
	wait := 30 * time.Second
	if cfg.Wait != 0 {
		wait = max(cfg.Wait.Truncate(time.Second), time.Second)
	}
	c.bc = boshclient.New(boshclient.Config{
		URL:            url,
		HTTPClient:     c.hc,
		Wait:           wait,
		Acks:           cfg.Acks,
		Attempts:       cfg.Attempts,
		RequestTimeout: cfg.RequestTimeout,
		BusyRetries:    busyRetries,
		Trace:          cfg.Trace,
	})
	return c
}

// SID returns the session id, or "" before Connect.
func (c *Client) SID() string { return c.bc.SID() }

// JID returns the full JID that Login bound, or "".
func (c *Client) JID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jid
}

// Connect creates a session with the connection manager for domain
// (XEP-0124 §7.1, XEP-0206 §3): hold='1', the configured wait, a random
// large initial rid, ver='1.11' and xmpp:version='1.0'. ctx bounds the
// creation request and the whole session: when it is done, the Client
// stops as if closed, and Receive reports ctx's error. Stream features
// that come with the creation response are kept for Login.
func (c *Client) Connect(ctx context.Context, domain string) error {
	if err := c.bc.Connect(ctx, domain); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.bc.Abort(ctx.Err()) })
	c.mu.Lock()
	c.domain, c.stop = domain, stop
	c.mu.Unlock()
	return nil
}

// Send sends one stanza, a complete XML element such as
// <message xmlns='jabber:client'>…</message>, in the next request
// (XEP-0124 §8). It returns once the request carrying it has been written,
// or with the session's error. A stanza that is not one well-formed
// element is refused before it is sent. If ctx ends while the stanza still
// waits for a free request, it is not sent.
func (c *Client) Send(ctx context.Context, stanza []byte) error {
	if err := checkElement(stanza); err != nil {
		return err
	}
	return c.bc.Send(ctx, "", stanza)
}

// Receive returns the next element the connection manager sent, in the
// order sent (responses are processed in rid order, XEP-0124 §14.2). Once
// the session has ended and every received element was taken, it returns
// the reason: ErrClosed, a *TerminateError, the Connect context's error,
// or an HTTP error.
func (c *Client) Receive(ctx context.Context) ([]byte, error) {
	el, err := c.bc.Next(ctx, nil)
	return el.Raw, err
}

// Terminate ends the session (XEP-0124 §13): it sends a type='terminate'
// request, waits for the connection manager's answers, and closes the
// Client. It returns nil when the connection manager acknowledged the
// termination, or the error that had already ended the session.
func (c *Client) Terminate(ctx context.Context) error {
	defer c.Close()
	return c.bc.Terminate(ctx)
}

// Close stops the Client without telling the connection manager: it
// cancels the requests in flight and waits for the Client's goroutines.
// The session then ends at the connection manager by inactivity
// (XEP-0124 §10). Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	stop := c.stop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	c.bc.Close()
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}
