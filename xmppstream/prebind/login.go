package prebind

import (
	"context"
	"errors"
	"fmt"

	"github.com/httpbind/httpbind/internal/xmpplogin"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// maxSkipped bounds the elements skipped while waiting for an iq answer.
const maxSkipped = 100

// login runs the XEP-0206 login (internal/xmpplogin: SASL, the restart,
// binding and the session) over the session, and returns the bound full
// JID.
func (c *conn) login(ctx context.Context) (string, error) {
	c.op = OpAuth
	jid, err := xmpplogin.Login(ctx, c, xmpplogin.Config{
		Domain: c.req.Domain, User: c.req.User, Password: c.req.Password, Resource: c.req.Resource,
		Mechanism: c.p.cfg.Mechanism, IDPrefix: "prebind_",
	})
	if err == nil {
		return jid, nil
	}
	var le *xmpplogin.Error
	if !errors.As(err, &le) {
		return "", c.fail(err)
	}
	op := le.Step // the steps of xmpplogin are Error.Op's
	var pe *Error
	if errors.As(le.Err, &pe) { // the transport's: a terminate body, an HTTP status
		pe.Op = op
		return "", pe
	}
	return "", &Error{Op: op, SASL: le.SASL, Stanza: le.Stanza, Err: le.Err}
}

// Send sends payloads in the session's next request (xmpplogin.Conn).
func (c *conn) Send(ctx context.Context, attrs string, payloads ...[]byte) error {
	var p []byte
	for _, x := range payloads {
		p = append(p, x...)
	}
	return c.send(ctx, attrs, p)
}

// Next returns the next received element that match accepts
// (xmpplogin.Conn), sending empty requests while none has arrived; the
// elements it skips are counted in c.dropped.
func (c *conn) Next(ctx context.Context, match func(xmppwire.Element) bool) (xmppwire.Element, error) {
	for range maxSkipped {
		el, err := c.next(ctx)
		if err != nil {
			return xmppwire.Element{}, err
		}
		if match == nil || match(el) {
			return el, nil
		}
		c.dropped++
	}
	return xmppwire.Element{}, c.fail(fmt.Errorf("nothing expected among %d elements", maxSkipped))
}
