package boshtest

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
)

// maxAttempts is how often a request is sent with the same rid when the
// network fails before its response arrives (XEP-0124 §14.3).
const maxAttempts = 3

// maxResponse is the largest response body the Client reads.
const maxResponse = 16 << 20

// loop is the Client's dispatcher: it sends what callers queued, no more
// than 'requests' requests at once (XEP-0124 §11; a terminate request may
// exceed it), and keeps one empty request held at the connection manager
// whenever nothing else is in flight (§8). It returns when the session
// ends.
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
		return nil, c.inflight == 0 && !c.terminating
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
	if c.acks {
		c.mu.Lock()
		attrs += " ack='" + strconv.FormatUint(c.next-1, 10) + "'" // §9.1
		c.mu.Unlock()
	}
	body := requestBody(rid, c.sid, attrs, payloads)
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
		resp *response
		err  error
	)
	timeout := c.timeout
	if timeout <= 0 {
		timeout = c.wait + requestGrace
	}
	for range c.attempts {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err = c.post(rctx, rid, body)
		cancel()
		var netErr *netError
		if err == nil || !errors.As(err, &netErr) || c.ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		wrote(err)
	}
	c.arrive(rid, reply{resp, err})
}

// netError marks an error of the HTTP exchange itself, worth a retry.
type netError struct{ err error }

func (e *netError) Error() string { return "boshtest: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// maxBusyRetries bounds how often one request is sent again after HTTP 503
// (the connection manager was busy; bosh.OverloadError).
const maxBusyRetries = 20

// maxRetryAfter bounds the wait a Retry-After header asks for.
const maxRetryAfter = 30 * time.Second

// post sends one request body and decodes the response. A request refused
// with HTTP 503 (the server was busy, bosh.OverloadError) was not
// processed: it is sent again as it is after the Retry-After delay, as
// Strophe.js and StanzaJS do, up to maxBusyRetries times.
func (c *Client) post(ctx context.Context, rid uint64, body []byte) (*response, error) {
	for try := 0; ; try++ {
		resp, retry, err := c.postOnce(ctx, rid, body)
		if retry == 0 || try == maxBusyRetries {
			return resp, err
		}
		t := time.NewTimer(retry)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// postOnce sends one request body once. For an HTTP 503 it returns, with
// the error, how long to wait before sending it again.
func (c *Client) postOnce(ctx context.Context, rid uint64, body []byte) (*response, time.Duration, error) {
	c.tracef("→", rid, body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, &netError{err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return nil, 0, &netError{err}
	}
	c.tracef("←", rid, data)
	if res.StatusCode == http.StatusServiceUnavailable {
		err := fmt.Errorf("boshtest: HTTP %s: %s", res.Status, data)
		return nil, retryAfter(res.Header.Get("Retry-After")), err
	}
	if res.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("boshtest: HTTP %s: %s", res.Status, data)
	}
	resp, err := parseResponse(data)
	return resp, 0, err
}

// retryAfter reads a Retry-After header's delay-seconds (RFC 9110
// §10.2.3), 1s when it is absent or not a number, at most maxRetryAfter.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return time.Second
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter)
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
	var streamErr []byte
	for _, el := range r.resp.Elements {
		if el.Name.Space == nsStream && el.Name.Local == "error" {
			streamErr = el.Raw
			continue
		}
		c.inbox = append(c.inbox, el)
	}
	switch r.resp.Attr("", "type") {
	case "terminate":
		cond := bosh.Condition(r.resp.Attr("", "condition"))
		if cond == "" && c.terminating {
			c.endLocked(ErrClosed)
			return
		}
		c.endLocked(&TerminateError{Condition: cond, StreamError: streamErr})
	case "error":
		c.endLocked(errors.New("boshtest: recoverable binding error (XEP-0124 §17.3)"))
	}
}

// tracef writes one body to the trace writer.
func (c *Client) tracef(dir string, rid uint64, body []byte) {
	if c.trace == nil {
		return
	}
	c.traceMu.Lock()
	defer c.traceMu.Unlock()
	fmt.Fprintf(c.trace, "%s %d %s\n", dir, rid, body)
}
