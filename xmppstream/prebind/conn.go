package prebind

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/httpbind/httpbind/internal/boshclient"
	"github.com/httpbind/httpbind/internal/xmpplogin"
	"github.com/httpbind/httpbind/internal/xmppwire"
)

// terminateTimeout bounds the terminate request sent after a failure.
const terminateTimeout = 5 * time.Second

// client returns the BOSH client of one Prebind: the module's one client
// (internal/boshclient), in process over a transport that calls the
// Handler's ServeHTTP as if the request came from r's end user. It sends
// an empty request only while it waits for an answer, so that no request
// is left held when the login is done.
func (p *Prebinder) client(r *Request) *boshclient.Client {
	return boshclient.New(boshclient.Config{
		URL: p.cfg.Path,
		HTTPClient: &http.Client{Transport: &boshclient.HandlerTransport{
			Handler: p.cfg.Handler, RemoteAddr: r.RemoteAddr, TLS: r.tls, Header: r.forwarded,
		}},
		Wait:     p.cfg.Wait,
		Hold:     p.cfg.Hold,
		Content:  "text/xml; charset=utf-8",
		Attempts: 1, // no network to fail in between
		OnDemand: true,
	})
}

// login runs the XEP-0206 login (internal/xmpplogin: SASL, the restart,
// binding and the session) over c, and returns the bound full JID.
func (p *Prebinder) login(ctx context.Context, c *boshclient.Client, r *Request) (string, error) {
	jid, err := xmpplogin.Login(ctx, c, xmpplogin.Config{
		Domain: r.Domain, User: r.User, Password: r.Password, Resource: r.Resource,
		Mechanism: p.cfg.Mechanism, IDPrefix: "prebind_",
	})
	var le *xmpplogin.Error
	switch {
	case err == nil:
		return jid, nil
	case !errors.As(err, &le):
		return "", opError(OpAuth, err)
	case le.SASL != "" || le.Stanza != "":
		return "", &Error{Op: le.Step, SASL: le.SASL, Stanza: le.Stanza, Err: le.Err} // the steps of xmpplogin are Error.Op's
	}
	return "", opError(le.Step, le.Err)
}

// terminate ends c's session (XEP-0124 §13), after a failure. It runs
// even when ctx has ended, bounded by terminateTimeout.
func (p *Prebinder) terminate(ctx context.Context, c *boshclient.Client) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	var te *boshclient.TerminateError
	if err := c.Terminate(ctx); err != nil && !errors.As(err, &te) {
		p.cfg.Logger.Debug("prebind: terminate", "sid", c.SID(), "err", err)
	}
}

// opError returns err, the failure of step op, as an *Error: a terminate
// body with its condition and stream error (XEP-0124 §17.2, XEP-0206 §6),
// or any other cause (an HTTP status, a bosh.OverloadError for HTTP 503,
// the context's end).
func opError(op string, err error) *Error {
	var te *boshclient.TerminateError
	if !errors.As(err, &te) {
		return &Error{Op: op, Err: err}
	}
	e := &Error{Op: op, Terminate: te.Condition}
	if te.StreamError != nil {
		e.Err = fmt.Errorf("stream error %s", streamErrorCondition(te.StreamError))
	}
	return e
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
