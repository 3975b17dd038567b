package boshclient

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

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// ErrClosed is the error of a Client whose session was closed by Close or
// Terminate.
var ErrClosed = errors.New("boshclient: session closed")

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
		return "boshclient: session terminated"
	}
	return "boshclient: session terminated: " + string(e.Condition)
}

// Is reports whether target is the Condition of e.
func (e *TerminateError) Is(target error) bool {
	c, ok := target.(bosh.Condition)
	return ok && c == e.Condition
}

// Config configures a Client. Zero fields take the defaults given.
type Config struct {
	// URL is the BOSH endpoint. Required.
	URL string
	// HTTPClient sends the requests: over the network, or in process with
	// a HandlerTransport. Required.
	HTTPClient *http.Client
	// Wait is the 'wait' asked for at creation (XEP-0124 §7.1), in whole
	// seconds. Default 30s.
	Wait time.Duration
	// Hold is the 'hold' asked for at creation (XEP-0124 §7.1). Default 1.
	Hold int
	// Content, when set, is the creation request's 'content' attribute
	// (XEP-0124 §7.1), the Content-Type of every response.
	Content string
	// Acks makes the Client acknowledge responses (XEP-0124 §9): ack='1'
	// at creation, and on every request the highest rid processed in
	// order.
	Acks bool
	// Attempts is how often a request is sent with the same rid when the
	// network fails before its response arrives (XEP-0124 §14.3). Default
	// 3.
	Attempts int
	// RequestTimeout bounds one attempt. Default Wait plus 10s.
	RequestTimeout time.Duration
	// BusyRetries is how often a request refused with HTTP 503 (the
	// connection manager was busy and did not process it,
	// bosh.OverloadError) is sent again, as it is, after its Retry-After
	// (RFC 9110 §10.2.3), as Strophe.js and StanzaJS do. Default 0: the
	// request fails at once with a *bosh.OverloadError.
	BusyRetries int
	// OnDemand makes the Client send an empty request only while Next
	// waits and no request is in flight, and none once it returns: the
	// session is left with no request held, for another client to go on
	// with (prebinding). By default the Client keeps one empty request
	// held at all times, as a browser client does (XEP-0124 §8).
	OnDemand bool
	// Trace, when set, receives every request and response body, one line
	// each, prefixed with "→ rid" or "← rid". Writes are serialized.
	Trace io.Writer
}

// requestGrace is how long past 'wait' a held request may take before the
// Client gives up on it.
const requestGrace = 10 * time.Second

// Client is a BOSH client (XEP-0124) for XMPP over BOSH (XEP-0206). It
// keeps at most 'requests' requests in flight, sends what callers queue in
// the next request (batching stanzas), increments rids, and processes
// responses in rid order.
//
// Connect first; then Send, Next and Terminate, which are safe for
// concurrent use. Close releases everything; it is safe to call more than
// once and from any goroutine. Client implements xmpplogin.Conn.
type Client struct {
	// Set in New, then read-only.
	cfg Config

	// Set by Connect, then read-only.
	sid      string
	requests int
	ctx      context.Context // the session's lifetime
	cancel   context.CancelFunc

	traceMu sync.Mutex    // serializes writes to cfg.Trace
	wake    chan struct{} // capacity 1: the loop has something to do
	wg      sync.WaitGroup

	mu          sync.Mutex // guards the fields below
	connected   bool
	rid         uint64 // the next rid to send
	next        uint64 // the next rid whose response is processed
	inflight    int
	waiting     int // callers of Next waiting for an element
	terminating bool
	queue       []*outbound
	replies     map[uint64]reply // responses that came before a lower rid's
	inbox       []xmppwire.Element
	err         error         // why the session ended; nil while it runs
	changed     chan struct{} // closed and replaced when inbox, inflight or err change
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
	resp *xmppwire.Response
	err  error
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.Wait <= 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 1
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = cfg.Wait + requestGrace
	}
	return &Client{
		cfg:     cfg,
		wake:    make(chan struct{}, 1),
		replies: make(map[uint64]reply),
		changed: make(chan struct{}),
	}
}

// SID returns the session id, or "" before Connect.
func (c *Client) SID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

// RID returns the rid of the session's next request (XEP-0124 §14.1).
func (c *Client) RID() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rid
}

// InFlight returns how many requests are in flight.
func (c *Client) InFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight
}

// Unread returns how many received elements nobody has taken yet.
func (c *Client) Unread() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.inbox)
}

// Connect creates a session with the connection manager for domain
// (XEP-0124 §7.1, XEP-0206 §3): the configured wait, hold and content, a
// random large initial rid, ver='1.11' and xmpp:version='1.0'. ctx bounds
// the creation request; the session lasts until Close, Terminate or its
// end at the connection manager. Stream features that come with the
// creation response are the first element Next returns.
func (c *Client) Connect(ctx context.Context, domain string) error {
	c.mu.Lock()
	if c.connected {
		c.mu.Unlock()
		return errors.New("boshclient: Connect called twice")
	}
	c.connected = true
	c.mu.Unlock()

	// XEP-0124 §14.1: a random rid large enough, with room to grow below
	// 2^53 (the largest integer a JavaScript client can hold).
	rid := uint64(1e9) + rand.Uint64N(1<<50)
	body := fmt.Appendf(nil, "<body rid='%d' to='%s' wait='%d' hold='%d' ver='1.11' xml:lang='en'",
		rid, xmppwire.AppendEscaped(nil, domain), int(c.cfg.Wait/time.Second), c.cfg.Hold)
	if c.cfg.Content != "" {
		body = append(append(append(body, " content='"...), xmppwire.AppendEscaped(nil, c.cfg.Content)...), '\'')
	}
	if c.cfg.Acks {
		body = append(body, " ack='1'"...) // §9.1
	}
	body = append(body, " xmpp:version='1.0' xmlns='"+xmppwire.NSHTTPBind+"' xmlns:xmpp='"+xmppwire.NSXBOSH+"'/>"...)
	resp, err := c.post(ctx, rid, body)
	if err != nil {
		return err
	}
	if resp.Attr("", "type") == "terminate" {
		return terminateError(resp)
	}
	sid := resp.Attr("", "sid")
	requests, _ := strconv.Atoi(resp.Attr("", "requests"))
	if sid == "" || requests < 1 {
		return errors.New("boshclient: creation response without sid or requests (XEP-0124 §7.2)")
	}
	if hold, err := strconv.Atoi(resp.Attr("", "hold")); err == nil && hold < 1 {
		return errors.New("boshclient: the connection manager offers only polling (hold='0'), which this client does not do")
	}
	c.mu.Lock()
	c.sid, c.requests = sid, requests
	c.rid, c.next = rid+1, rid+1
	c.inbox = append(c.inbox, resp.Elements...)
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Unlock()
	c.wg.Add(1)
	go c.loop()
	return nil
}

// Send sends payloads, complete elements, in the session's next request
// with attrs added to its <body/> (escaped, each with a leading space),
// such as a restart's (XEP-0206 §5); stanzas without attrs share requests.
// It returns once the request has been written, or with the session's
// error. If ctx ends while the payloads still wait for a free request,
// they are not sent.
func (c *Client) Send(ctx context.Context, attrs string, payloads ...[]byte) error {
	return c.submit(ctx, &outbound{attrs: attrs, payloads: payloads})
}

// Next removes and returns the first received element that match accepts
// (any element when match is nil), in the order received (responses are
// processed in rid order, XEP-0124 §14.2), waiting for one. Once the
// session has ended and no received element matches, it returns the
// reason: ErrClosed, a *TerminateError, a *bosh.OverloadError or an HTTP
// error.
func (c *Client) Next(ctx context.Context, match func(xmppwire.Element) bool) (xmppwire.Element, error) {
	c.mu.Lock()
	c.waiting++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
	}()
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
			return xmppwire.Element{}, err
		}
		c.signal() // OnDemand: a request may be due
		select {
		case <-changed:
		case <-ctx.Done():
			return xmppwire.Element{}, ctx.Err()
		}
	}
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
		return errors.New("boshclient: Terminate before Connect")
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
// (XEP-0124 §10), unless another client goes on with it. Close is
// idempotent.
func (c *Client) Close() error {
	c.Abort(ErrClosed)
	c.wg.Wait()
	return nil
}

// Abort ends the session with err, which Send and Next then return once
// nothing received is left, and cancels the requests in flight. It does
// not wait for the Client's goroutines; Close does.
func (c *Client) Abort(err error) {
	c.mu.Lock()
	c.endLocked(err)
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
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
		return errors.New("boshclient: Send before Connect")
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
