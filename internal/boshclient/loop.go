package boshclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// maxResponse is the largest response body the Client reads.
const maxResponse = 16 << 20

// loop is the Client's dispatcher: it sends what callers queued, no more
// than 'requests' requests at once (XEP-0124 §11; a terminate request may
// exceed it), and keeps one empty request held at the connection manager
// whenever nothing else is in flight (§8), or with Config.OnDemand only
// while Next waits. It returns when the session ends.
func (c *Client) loop() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return
		}
		batch, poll := c.takeLocked()
		if batch != nil || poll {
			rid := c.rid
			c.rid++
			c.inflight++
			c.wg.Add(1)
			go c.do(rid, batch)
			c.mu.Unlock()
			continue
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			c.mu.Lock()
			c.endLocked(c.ctx.Err())
			c.mu.Unlock()
			return
		}
	}
}

// takeLocked returns the next request to send: queued stanzas, batched
// into one body, a restart or terminate request alone, or an empty poll.
func (c *Client) takeLocked() (batch []*outbound, poll bool) {
	if len(c.queue) == 0 {
		return nil, c.inflight == 0 && !c.terminating && (!c.cfg.OnDemand || c.waiting > 0)
	}
	first := c.queue[0]
	if !first.terminate && c.inflight >= c.requests {
		return nil, false
	}
	n := 1
	for first.attrs == "" && n < len(c.queue) && c.queue[n].attrs == "" {
		n++
	}
	batch = append([]*outbound(nil), c.queue[:n]...)
	c.queue = c.queue[n:]
	if first.terminate {
		c.terminating = true
	}
	return batch, false
}

// do sends one request and hands its outcome to arrive. A network failure
// is retried with the same rid, which the connection manager answers from
// its buffer if it had already seen the request (XEP-0124 §14.3).
func (c *Client) do(rid uint64, batch []*outbound) {
	defer c.wg.Done()
	var (
		payloads [][]byte
		attrs    string
	)
	for _, o := range batch {
		payloads = append(payloads, o.payloads...)
		attrs += o.attrs
	}
	if c.cfg.Acks {
		c.mu.Lock()
		attrs += " ack='" + strconv.FormatUint(c.next-1, 10) + "'" // §9.1
		c.mu.Unlock()
	}
	body := xmppwire.RequestBody(rid, c.sid, attrs, payloads)
	wrote := func(err error) {
		for _, o := range batch {
			o.done(err)
		}
	}
	ctx := httptrace.WithClientTrace(c.ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote(nil)
			}
		},
	})
	var (
		resp *xmppwire.Response
		err  error
	)
	for range c.cfg.Attempts {
		rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		resp, err = c.post(rctx, rid, body)
		cancel()
		var netErr *netError
		if err == nil || !errors.As(err, &netErr) || c.ctx.Err() != nil {
			break
		}
	}
	wrote(err) // for a transport that does not report WroteRequest
	c.arrive(rid, reply{resp, err})
}

// netError marks an error of the HTTP exchange itself, worth a retry.
type netError struct{ err error }

func (e *netError) Error() string { return "boshclient: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// maxRetryAfter bounds the wait a Retry-After header asks for.
const maxRetryAfter = 30 * time.Second

// post sends one request body and decodes the response. A request refused
// with HTTP 503 (the server was busy, bosh.OverloadError) was not
// processed: it is sent again as it is after the Retry-After delay, up to
// Config.BusyRetries times.
func (c *Client) post(ctx context.Context, rid uint64, body []byte) (*xmppwire.Response, error) {
	for try := 0; ; try++ {
		resp, err := c.postOnce(ctx, rid, body)
		var busy *bosh.OverloadError
		if !errors.As(err, &busy) || try == c.cfg.BusyRetries {
			return resp, err
		}
		t := time.NewTimer(min(busy.RetryAfter, maxRetryAfter))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// postOnce sends one request body once. An HTTP 503 is a
// *bosh.OverloadError with the Retry-After delay.
func (c *Client) postOnce(ctx context.Context, rid uint64, body []byte) (*xmppwire.Response, error) {
	c.tracef("→", rid, body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return nil, &netError{err}
	}
	c.tracef("←", rid, data)
	switch res.StatusCode {
	case http.StatusOK:
		return xmppwire.ParseResponse(data)
	case http.StatusServiceUnavailable:
		return nil, &bosh.OverloadError{
			RetryAfter: retryAfter(res.Header.Get("Retry-After")),
			Err:        fmt.Errorf("boshclient: HTTP %s: %s", res.Status, data),
		}
	}
	return nil, fmt.Errorf("boshclient: HTTP %s: %s", res.Status, data)
}

// retryAfter reads a Retry-After header's delay-seconds (RFC 9110
// §10.2.3), 1s when it is absent or not a number.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return time.Second
	}
	return time.Duration(n) * time.Second
}

// arrive takes the outcome of request rid and processes every response
// that is next in rid order (XEP-0124 §14.2).
func (c *Client) arrive(rid uint64, r reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	c.replies[rid] = r
	for {
		r, ok := c.replies[c.next]
		if !ok {
			break
		}
		delete(c.replies, c.next)
		c.next++
		c.applyLocked(r)
	}
	c.notifyLocked()
	c.signal()
}

// applyLocked processes one response in rid order: its payloads go to the
// inbox; a terminate body ends the session (§17.2), and so does a
// recoverable binding error, which this client does not recover from
// (§17.3).
func (c *Client) applyLocked(r reply) {
	if c.err != nil {
		return
	}
	if r.err != nil {
		c.endLocked(r.err)
		return
	}
	for _, el := range r.resp.Elements {
		if !isStreamError(el) {
			c.inbox = append(c.inbox, el)
		}
	}
	switch r.resp.Attr("", "type") {
	case "terminate":
		te := terminateError(r.resp)
		if te.Condition == "" && c.terminating {
			c.endLocked(ErrClosed)
			return
		}
		c.endLocked(te)
	case "error":
		c.endLocked(errors.New("boshclient: recoverable binding error (XEP-0124 §17.3)"))
	}
}

// tracef writes one body to the trace writer.
func (c *Client) tracef(dir string, rid uint64, body []byte) {
	if c.cfg.Trace == nil {
		return
	}
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	fmt.Fprintf(c.cfg.Trace, "%s %d %s\n", dir, rid, body)
}

// terminateError returns the error of a terminate body (XEP-0124 §17.2),
// with the <stream:error/> it carries (XEP-0206 §6).
func terminateError(resp *xmppwire.Response) *TerminateError {
	te := &TerminateError{Condition: bosh.Condition(resp.Attr("", "condition"))}
	for _, el := range resp.Elements {
		if isStreamError(el) {
			te.StreamError = el.Raw
		}
	}
	return te
}

func isStreamError(el xmppwire.Element) bool {
	return el.Name.Space == xmppwire.NSStream && el.Name.Local == "error"
}
