package cluster

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// priorHops returns the Forwarded header values of a request (RFC 7239),
// or, without them, its X-Forwarded-For hops as Forwarded elements, so
// that the owner can walk back to the client through every trusted proxy
// as it would without the forwarding hop.
func priorHops(h http.Header) []string {
	if vs := h.Values("Forwarded"); len(vs) > 0 {
		return append([]string(nil), vs...)
	}
	var out []string
	for _, v := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(v, ",") {
			if hop = strings.TrimSpace(hop); hop != "" {
				out = append(out, "for="+quoteNode(hop))
			}
		}
	}
	return out
}

// forwardedElement is this hop's Forwarded element (RFC 7239 §4): for= the
// address the request came from, quoted (§6: an IPv6 address or a port
// needs quotes), and proto=https when the request was secure (§5.4).
func forwardedElement(from string, secure bool) string {
	e := "for=" + quoteNode(from)
	if secure {
		return e + ";proto=https"
	}
	return e + ";proto=http"
}

// quoteNode quotes a node name for a Forwarded header (RFC 7239 §6): an
// IP address, with a port or an IPv6 address in brackets. Characters that
// cannot stand in a quoted-string are dropped.
func quoteNode(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// errTimeout is the cause of a forward whose response did not come within
// Config.ResponseTimeout.
var errTimeout = errors.New("cluster: no response from the node in time")

// timeoutTransport bounds the wait for a response's headers, not the
// reading of its body.
type timeoutTransport struct {
	rt http.RoundTripper
	d  time.Duration
}

func (t *timeoutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(r.Context())
	timer := time.AfterFunc(t.d, func() { cancel(errTimeout) })
	res, err := t.rt.RoundTrip(r.WithContext(ctx))
	if !timer.Stop() && context.Cause(ctx) == errTimeout {
		if err == nil {
			res.Body.Close()
		}
		cancel(nil)
		return nil, errTimeout
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	res.Body = &cancelBody{ReadCloser: res.Body, cancel: cancel}
	return res, nil
}

// cancelBody releases its request's context when closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}
