package prebind

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

const (
	// maxEmpty bounds the empty requests sent while waiting for one
	// expected element; each is held at most 'wait'.
	maxEmpty = 4
	// terminateTimeout bounds the terminate request sent after a failure.
	terminateTimeout = 5 * time.Second
)

// conn is one Prebind's BOSH session, seen from the client side. It is
// used by one goroutine.
type conn struct {
	p       *Prebinder
	req     *Request
	op      string             // the step in progress, for errors
	rid     uint64             // the next rid to send
	sid     string             // set by create
	inbox   []xmppwire.Element // received, not yet taken
	dropped int                // stanzas taken while waiting for something else
}

// create sends the session creation request (XEP-0124 §7.1, XEP-0206 §3).
func (c *conn) create(ctx context.Context) error {
	c.op = OpCreate
	var b bytes.Buffer
	fmt.Fprintf(&b, "<body rid='%d' to='%s' wait='%d' hold='%d' ver='1.11' xml:lang='en'"+
		" content='text/xml; charset=utf-8' xmpp:version='1.0' xmlns='%s' xmlns:xmpp='%s'/>",
		c.rid, escape(c.req.Domain), int(c.p.cfg.Wait/time.Second), c.p.cfg.Hold, xmppwire.NSHTTPBind, xmppwire.NSXBOSH)
	resp, err := c.post(ctx, b.Bytes())
	if err != nil {
		return err
	}
	if c.sid = resp.Attr("", "sid"); c.sid == "" {
		return c.fail(errors.New("creation response without sid (XEP-0124 §7.2)"))
	}
	c.inbox = append(c.inbox, resp.Elements...)
	return nil
}

// send sends one request of the session with extra body attributes
// (escaped, each with a leading space) and payload, and keeps what the
// response carries.
func (c *conn) send(ctx context.Context, attrs string, payload []byte) error {
	resp, err := c.post(ctx, c.body(attrs, payload))
	if err != nil {
		return err
	}
	c.inbox = append(c.inbox, resp.Elements...)
	return nil
}

// body returns a request body of the session with extra attributes (as
// for send) and payload.
func (c *conn) body(attrs string, payload []byte) []byte {
	b := fmt.Appendf(nil, "<body rid='%d' sid='%s' xmlns='%s'%s>", c.rid, escape(c.sid), xmppwire.NSHTTPBind, attrs)
	b = append(b, payload...)
	return append(b, "</body>"...)
}

// next takes the next received element, sending empty requests (each held
// by the connection manager until it has something, XEP-0124 §8) while
// there is none.
func (c *conn) next(ctx context.Context) (xmppwire.Element, error) {
	for range maxEmpty + 1 {
		if len(c.inbox) > 0 {
			el := c.inbox[0]
			c.inbox = c.inbox[1:]
			return el, nil
		}
		if err := c.send(ctx, "", nil); err != nil {
			return xmppwire.Element{}, err
		}
	}
	return xmppwire.Element{}, c.fail(fmt.Errorf("no answer after %d empty requests", maxEmpty))
}

// terminate ends the session (XEP-0124 §13), after a failure. It runs
// even when ctx has ended, bounded by terminateTimeout.
func (c *conn) terminate(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	_, err := c.post(ctx, c.body(" type='terminate'", nil))
	if e := (*Error)(nil); err != nil && !(errors.As(err, &e) && e.Terminate != "") {
		c.p.cfg.Logger.Debug("prebind: terminate", "sid", c.sid, "err", err)
	}
}

// post sends one request body to the handler in process, with the next
// rid, and decodes the response. A terminate body is an *Error with its
// condition.
func (c *conn) post(ctx context.Context, body []byte) (*xmppwire.Response, error) {
	c.rid++
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.p.cfg.Path, bytes.NewReader(body))
	if err != nil {
		return nil, c.fail(err)
	}
	hr.Header.Set("Content-Type", "text/xml; charset=utf-8")
	maps.Copy(hr.Header, c.req.forwarded)
	hr.RemoteAddr, hr.TLS = c.req.RemoteAddr, c.req.tls
	w := &recorder{hdr: make(http.Header)}
	if err := serve(c.p.cfg.Handler, w, hr); err != nil {
		return nil, c.fail(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, c.fail(err)
	}
	if w.status == http.StatusServiceUnavailable {
		// The connection manager was busy (bosh.OverloadError): the host
		// may try again after Retry-After.
		secs, _ := strconv.Atoi(w.hdr.Get("Retry-After"))
		return nil, c.fail(&bosh.OverloadError{
			RetryAfter: time.Duration(max(secs, 1)) * time.Second,
			Err:        errors.New("the BOSH endpoint answered HTTP 503"),
		})
	}
	if w.status != http.StatusOK {
		return nil, c.fail(fmt.Errorf("the BOSH endpoint answered HTTP %d", w.status))
	}
	resp, err := xmppwire.ParseResponse(w.body.Bytes())
	if err != nil {
		return nil, c.fail(err)
	}
	if resp.Attr("", "type") == "terminate" {
		e := &Error{Op: c.op, Terminate: bosh.Condition(resp.Attr("", "condition"))}
		for _, ch := range resp.Elements {
			if ch.Name.Space == xmppwire.NSStream && ch.Name.Local == "error" {
				e.Err = fmt.Errorf("stream error %s", streamErrorCondition(ch.Raw))
			}
		}
		return nil, e
	}
	return resp, nil
}

// fail wraps err as the *Error of the step in progress.
func (c *conn) fail(err error) error { return &Error{Op: c.op, Err: err} }

// serve calls h, turning a panic with http.ErrAbortHandler (the handler
// closing the connection, XEP-0124 §19.1) into an error.
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			err = errors.New("the BOSH endpoint closed the connection")
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

// recorder is the http.ResponseWriter of in-process requests.
type recorder struct {
	hdr    http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.hdr }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// streamErrorCondition returns the condition of a <stream:error/> (RFC
// 6120 §4.9.3).
func streamErrorCondition(raw []byte) string {
	var se struct {
		Conditions []struct{ XMLName xml.Name } `xml:",any"`
	}
	if xml.Unmarshal(raw, &se) == nil {
		for _, c := range se.Conditions {
			if c.XMLName.Space == xmppwire.NSStreams && c.XMLName.Local != "text" {
				return c.XMLName.Local
			}
		}
	}
	return "undefined-condition"
}

// escape escapes s for an attribute value or text.
func escape(s string) string { return string(xmppwire.AppendEscaped(nil, s)) }
