package boshtest

import (
	"context"
	"errors"
	"fmt"

	"github.com/httpbind/httpbind/internal/xmpplogin"
)

// ErrAuth is the error of a Login the server refused with a SASL
// <failure/> (RFC 6120 §6.4.5); the message names the failure condition.
var ErrAuth = errors.New("boshtest: authentication failed")

// Login logs in to the domain given to Connect: SASL authentication as
// user with password (PLAIN unless ClientConfig.Mechanism names another,
// RFC 6120 §6), the stream restart (XEP-0206 §5: a request with
// xmpp:restart='true' qualified by urn:xmpp:xbosh), resource binding (RFC
// 6120 §7; an empty resource lets the server choose), and the IM session
// (RFC 3921 §3) when the server advertises it. It returns the bound full
// JID. A refused authentication is an error wrapping ErrAuth. Login must
// not run concurrently with Receive; the elements it does not wait for
// stay for Receive.
func (c *Client) Login(ctx context.Context, user, password, resource string) (string, error) {
	c.mu.Lock()
	domain := c.domain
	c.mu.Unlock()
	jid, err := xmpplogin.Login(ctx, c.bc, xmpplogin.Config{
		Domain: domain, User: user, Password: password, Resource: resource,
		Mechanism: c.mech, IDPrefix: "login_",
	})
	var le *xmpplogin.Error
	switch {
	case errors.As(err, &le) && le.SASL != "":
		return "", fmt.Errorf("%w: %s", ErrAuth, le.SASL)
	case err != nil:
		return "", fmt.Errorf("boshtest: %w", err)
	}
	c.mu.Lock()
	c.jid = jid
	c.mu.Unlock()
	return jid, nil
}
