package boshtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
)

// ErrClosed is the error of a Client whose session was closed by Close or
// Terminate.
var ErrClosed = errors.New("boshtest: session closed")

// TerminateError reports that the connection manager ended the session
// with a terminate body (XEP-0124 §17.2). errors.Is(err, bosh.ItemNotFound)
// and friends match its condition.
type TerminateError struct {
	// Condition is the terminal binding condition, "" for a session the
	// connection manager ended without one.
	Condition bosh.Condition
	// StreamError is the <stream:error/> the body carried with
	// remote-stream-error (XEP-0206 §6), with xmlns:stream declared on
	// it, or nil.
	StreamError []byte
}

// Error names the condition.
func (e *TerminateError) Error() string {
	if e.Condition == "" {
		return "boshtest: session terminated"
	}
	return "boshtest: session terminated: " + string(e.Condition)
}

// Is reports whether target is the Condition of e.
func (e *TerminateError) Is(target error) bool {
	c, ok := target.(bosh.Condition)
	return ok && c == e.Condition
}

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

// requestGrace is how long past 'wait' a held request may take before the
// Client gives up on it.
const requestGrace = 10 * time.Second

// Client is a BOSH client (XEP-0124) that speaks XMPP over BOSH (XEP-0206),
// for tests. It behaves like a browser client: after Connect it keeps one
// empty request held at the connection manager at all times, sends stanzas
// in extra requests (never more than 'requests' at once), increments rids,
// and processes responses in rid order.
//
// Connect first; then Login, Send, Receive and Terminate. Send and Receive
// are safe for concurrent use; Login must not run concurrently with
// Receive, since both take received elements. Close releases everything;
// it is safe to call more than once and from any goroutine.
type Client struct {
	// Set in NewClient, then read-only.
	url   string
	hc    *http.Client
	ownHC bool
	wait  time.Duration
	trace io.Writer
	mech  sasl.Mechanism

	attempts int           // sends of one rid (ClientConfig.Attempts)
	timeout  time.Duration // per attempt; 0: wait+requestGrace
	acks     bool          // ClientConfig.Acks

	// Set by Connect, then read-only.
	sid      string
	domain   string
	requests int
	ctx      context.Context // the session's lifetime
	cancel   context.CancelFunc

	traceMu sync.Mutex    // serializes writes to trace
	wake    chan struct{} // capacity 1: the loop has something to do
	wg      sync.WaitGroup

	mu          sync.Mutex // guards the fields below
	connected   bool
	rid         uint64 // the next rid to send
	next        uint64 // the next rid whose response is processed
	inflight    int
	terminating bool
	queue       []*outbound
	replies     map[uint64]reply // responses that came before a lower rid's
	inbox       []element
	err         error         // why the session ended; nil while it runs
	changed     chan struct{} // closed and replaced when inbox, inflight or err change
	jid         string
}

// outbound is what a caller asked the Client to send.
type outbound struct {
	payloads  [][]byte
	attrs     string // extra body attributes, escaped
	terminate bool
	written   chan error // capacity 1: the request was written, or failed
}

// done reports the outcome of writing o's request; the first call wins.
func (o *outbound) done(err error) {
	select {
	case o.written <- err:
	default:
	}
}

// reply is the outcome of one request.
type reply struct {
	resp *response
	err  error
}

// NewClient returns a Client for the BOSH endpoint url, for example a
// Server's URL, configured by cfg.
func NewClient(url string, cfg ClientConfig) *Client {
	c := &Client{
		url:      url,
		hc:       cfg.HTTPClient,
		wait:     30 * time.Second,
		trace:    cfg.Trace,
		mech:     cfg.Mechanism,
		attempts: maxAttempts,
		timeout:  cfg.RequestTimeout,
		acks:     cfg.Acks,
		wake:     make(chan struct{}, 1),
		replies:  make(map[uint64]reply),
		changed:  make(chan struct{}),
	}
	if cfg.Wait != 0 {
		c.wait = max(cfg.Wait.Truncate(time.Second), time.Second)
	}
	if c.mech.Name == "" {
		c.mech = sasl.Plain
	}
	if cfg.Attempts > 0 {
		c.attempts = cfg.Attempts
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.ownHC = true
	}
	return c
}

// SID returns the session id, or "" before Connect.
func (c *Client) SID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

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
	c.mu.Lock()
	if c.connected {
		c.mu.Unlock()
		return errors.New("boshtest: Connect called twice")
	}
	c.connected = true
	c.mu.Unlock()

	// XEP-0124 §14.1: a random rid large enough, with room to grow below
	// 2^53 (the largest integer a JavaScript client can hold).
	rid := uint64(1e9) + rand.Uint64N(1<<50)
	ack := ""
	if c.acks {
		ack = " ack='1'" // §9.1
	}
	body := fmt.Appendf(nil, "<body rid='%d' to='%s' wait='%d' hold='1' ver='1.11' xml:lang='en'"+
		" xmpp:version='1.0'%s xmlns='%s' xmlns:xmpp='%s'/>",
		rid, appendEscaped(nil, domain), int(c.wait/time.Second), ack, nsHTTPBind, nsXBOSH)
	resp, err := c.post(ctx, rid, body)
	if err != nil {
		return err
	}
	if t := resp.Attr("", "type"); t == "terminate" {
		return &TerminateError{Condition: bosh.Condition(resp.Attr("", "condition"))}
	}
	sid := resp.Attr("", "sid")
	requests, _ := strconv.Atoi(resp.Attr("", "requests"))
	if sid == "" || requests < 1 {
		return errors.New("boshtest: creation response without sid or requests (XEP-0124 §7.2)")
	}
	if hold, err := strconv.Atoi(resp.Attr("", "hold")); err == nil && hold < 1 {
		return errors.New("boshtest: the connection manager offers only polling (hold='0'), which Client does not do")
	}
	c.mu.Lock()
	c.sid, c.domain, c.requests = sid, domain, requests
	c.rid, c.next = rid+1, rid+1
	c.inbox = append(c.inbox, resp.Elements...)
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.mu.Unlock()
	c.wg.Add(1)
	go c.loop()
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
	return c.submit(ctx, &outbound{payloads: [][]byte{stanza}})
}

// Receive returns the next element the connection manager sent, in the
// order sent (responses are processed in rid order, XEP-0124 §14.2). Once
// the session has ended and every received element was taken, it returns
// the reason: ErrClosed, a *TerminateError, the Connect context's error,
// or an HTTP error.
func (c *Client) Receive(ctx context.Context) ([]byte, error) {
	el, err := c.take(ctx, nil)
	return el.Raw, err
}

// Terminate ends the session (XEP-0124 §13): it sends a type='terminate'
// request, waits for the connection manager's answers, and closes the
// Client. It returns nil when the connection manager acknowledged the
// termination, or the error that had already ended the session.
func (c *Client) Terminate(ctx context.Context) error {
	defer c.Close()
	c.mu.Lock()
	started := c.ctx != nil
	c.mu.Unlock()
	if !started {
		return errors.New("boshtest: Terminate before Connect")
	}
	o := &outbound{terminate: true, attrs: " type='terminate'"}
	if err := c.submit(ctx, o); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	for {
		c.mu.Lock()
		err, inflight, changed := c.err, c.inflight, c.changed
		c.mu.Unlock()
		if err != nil && inflight == 0 {
			if errors.Is(err, ErrClosed) {
				return nil
			}
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops the Client without telling the connection manager: it
// cancels the requests in flight and waits for the Client's goroutines.
// The session then ends at the connection manager by inactivity
// (XEP-0124 §10). Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	c.endLocked(ErrClosed)
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}

// submit queues o for the loop and waits until its request is written.
func (c *Client) submit(ctx context.Context, o *outbound) error {
	o.written = make(chan error, 1)
	c.mu.Lock()
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return err
	case c.ctx == nil:
		c.mu.Unlock()
		return errors.New("boshtest: Send before Connect")
	}
	c.queue = append(c.queue, o)
	c.mu.Unlock()
	c.signal()
	select {
	case err := <-o.written:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.queue, o); i >= 0 {
			c.queue = slices.Delete(c.queue, i, i+1)
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// take removes and returns the first received element that match accepts
// (any element when match is nil), waiting for one.
func (c *Client) take(ctx context.Context, match func(element) bool) (element, error) {
	for {
		c.mu.Lock()
		for i, el := range c.inbox {
			if match == nil || match(el) {
				c.inbox = slices.Delete(c.inbox, i, i+1)
				c.mu.Unlock()
				return el, nil
			}
		}
		err, changed := c.err, c.changed
		c.mu.Unlock()
		if err != nil {
			return element{}, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return element{}, ctx.Err()
		}
	}
}

// signal wakes the loop.
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// notifyLocked wakes whoever waits on c.changed.
func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// endLocked records why the session ended, once, and fails what is still
// queued.
func (c *Client) endLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	for _, o := range c.queue {
		o.done(err)
	}
	c.queue = nil
	c.notifyLocked()
	c.signal()
}
