// Package xmpplogin is the client side of an XEP-0206 login, written once
// for the module's BOSH client (internal/boshclient: boshtest's Client
// over the network, prebind's over an in-process transport): SASL authentication (RFC 6120 §6, with
// mellium.im/sasl), the stream restart (XEP-0206 §5), resource binding
// (RFC 6120 §7) and the IM session (RFC 3921 §3) when the server
// advertises it.
//
// A Conn carries the requests and the received elements: the module's
// BOSH client, internal/boshclient, is one. How it reaches the connection
// manager, and what it does with elements received while the login waits
// for something else, is its own business.
//
// Layer: internal, above internal/xmppwire.
package xmpplogin

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mellium.im/sasl"

	"github.com/httpbind/httpbind/internal/xmppwire"
)

// Conn is one XMPP-over-BOSH session, seen from the client.
type Conn interface {
	// Send sends payloads in the session's next request, with attrs
	// added to its <body/> (escaped, each with a leading space).
	Send(ctx context.Context, attrs string, payloads ...[]byte) error
	// Next returns the next received element that match accepts (any
	// element when match is nil), waiting for it.
	Next(ctx context.Context, match func(xmppwire.Element) bool) (xmppwire.Element, error)
}

// Config is what a login needs.
type Config struct {
	Domain   string // the domain the session was created for
	User     string
	Password string
	Resource string // empty lets the server choose (RFC 6120 §7.6)
	// Mechanism is the SASL mechanism; the zero value means PLAIN.
	Mechanism sasl.Mechanism
	// IDPrefix starts the ids of the login's iqs ("bind", "session"
	// follow it).
	IDPrefix string
}

// The steps of a login, for Error.Step.
const (
	StepAuth    = "auth"
	StepRestart = "restart"
	StepBind    = "bind"
	StepSession = "session"
)

// Error is a login the server refused, or that went wrong at one step.
type Error struct {
	Step string
	// SASL is the condition of a SASL <failure/> (RFC 6120 §6.5), or "".
	SASL string
	// StanzaType and Stanza are the type and condition of an <iq
	// type='error'/> that refused binding or the session (RFC 6120
	// §8.3.3), or "".
	StanzaType, Stanza string
	// Err is the cause of any other failure.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.SASL != "":
		return "login: " + e.Step + ": authentication failed: " + e.SASL
	case e.Stanza != "":
		return "login: " + e.Step + ": refused: " + e.StanzaType + "/" + e.Stanza
	}
	return "login: " + e.Step + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// maxElements bounds the elements a step reads while it waits.
const maxElements = 100

// features are the stream features a login looks at (RFC 6120 §4.3.2).
type features struct {
	Mechanisms []string  `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
	Bind       *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Session    *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-session session"`
}

// Login logs in over c, whose creation response's stream features are the
// next element it receives, and returns the bound full JID.
func Login(ctx context.Context, c Conn, cfg Config) (string, error) {
	if cfg.Mechanism.Name == "" {
		cfg.Mechanism = sasl.Plain
	}
	f, err := readFeatures(ctx, c, StepAuth)
	if err != nil {
		return "", err
	}
	if !slices.Contains(f.Mechanisms, cfg.Mechanism.Name) {
		return "", &Error{Step: StepAuth, Err: fmt.Errorf("the server does not offer %s (it offers %v)", cfg.Mechanism.Name, f.Mechanisms)}
	}
	if err := authenticate(ctx, c, cfg, f.Mechanisms); err != nil {
		return "", err
	}
	domain := string(xmppwire.AppendEscaped(nil, cfg.Domain))
	restart := " to='" + domain + "' xml:lang='en' xmpp:restart='true' xmlns:xmpp='" + xmppwire.NSXBOSH + "'"
	if err := c.Send(ctx, restart); err != nil {
		return "", &Error{Step: StepRestart, Err: err}
	}
	if f, err = readFeatures(ctx, c, StepRestart); err != nil {
		return "", err
	}
	if f.Bind == nil {
		return "", &Error{Step: StepBind, Err: errors.New("no <bind/> in the stream features after the restart")}
	}
	var bind bytes.Buffer
	bind.WriteString("<iq type='set' id='" + cfg.IDPrefix + "bind' xmlns='" + xmppwire.NSClient + "'><bind xmlns='" + xmppwire.NSBind + "'>")
	if cfg.Resource != "" {
		bind.WriteString("<resource>")
		bind.Write(xmppwire.AppendEscaped(nil, cfg.Resource))
		bind.WriteString("</resource>")
	}
	bind.WriteString("</bind></iq>")
	res, err := iq(ctx, c, StepBind, cfg.IDPrefix+"bind", bind.Bytes())
	if err != nil {
		return "", err
	}
	jid := strings.TrimSpace(res.Bind.JID)
	if jid == "" {
		return "", &Error{Step: StepBind, Err: errors.New("bind result without <jid/>")}
	}
	if f.Session != nil {
		sess := "<iq type='set' id='" + cfg.IDPrefix + "session' to='" + domain + "' xmlns='" + xmppwire.NSClient +
			"'><session xmlns='" + xmppwire.NSSession + "'/></iq>"
		if _, err := iq(ctx, c, StepSession, cfg.IDPrefix+"session", []byte(sess)); err != nil {
			return "", err
		}
	}
	return jid, nil
}

// readFeatures takes the next element, which must be <stream:features/>
// (XEP-0206 §4, §5).
func readFeatures(ctx context.Context, c Conn, step string) (*features, error) {
	el, err := c.Next(ctx, nil)
	if err != nil {
		return nil, &Error{Step: step, Err: err}
	}
	if el.Name.Space != xmppwire.NSStream || el.Name.Local != "features" {
		return nil, &Error{Step: step, Err: fmt.Errorf("want <stream:features/>, got %s", el.Raw)}
	}
	var f features
	if err := xml.Unmarshal(el.Raw, &f); err != nil {
		return nil, &Error{Step: step, Err: fmt.Errorf("stream features: %w", err)}
	}
	return &f, nil
}

// saslElement is a <challenge/>, <success/> or <failure/> (RFC 6120 §6.4).
type saslElement struct {
	Text       string `xml:",chardata"`
	Conditions []struct {
		XMLName xml.Name
	} `xml:",any"`
}

// authenticate runs the SASL exchange (RFC 6120 §6.4). Nothing of it goes
// into an error's text but the mechanism and the failure condition.
func authenticate(ctx context.Context, c Conn, cfg Config, offered []string) error {
	fail := func(err error) error { return &Error{Step: StepAuth, Err: err} }
	mech := cfg.Mechanism
	n := sasl.NewClient(mech,
		sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(cfg.User), []byte(cfg.Password), nil }),
		sasl.RemoteMechanisms(offered...))
	more, resp, err := n.Step(nil)
	if err != nil {
		return fail(fmt.Errorf("SASL %s: %w", mech.Name, err))
	}
	auth := "<auth xmlns='" + xmppwire.NSSASL + "' mechanism='" + mech.Name + "'>" + xmppwire.Encode64(resp) + "</auth>"
	if err := c.Send(ctx, "", []byte(auth)); err != nil {
		return fail(err)
	}
	for range maxElements {
		el, err := c.Next(ctx, nil)
		if err != nil {
			return fail(err)
		}
		var s saslElement
		if el.Name.Space != xmppwire.NSSASL || xml.Unmarshal(el.Raw, &s) != nil {
			return fail(fmt.Errorf("want a SASL element, got %s", el.Raw))
		}
		data, err := xmppwire.Decode64(s.Text)
		if err != nil {
			return fail(fmt.Errorf("SASL %s: %w", el.Name.Local, err))
		}
		switch el.Name.Local {
		case "challenge":
			if more, resp, err = n.Step(data); err != nil {
				return fail(fmt.Errorf("SASL %s: %w", mech.Name, err))
			}
			r := "<response xmlns='" + xmppwire.NSSASL + "'>" + xmppwire.Encode64(resp) + "</response>"
			if err := c.Send(ctx, "", []byte(r)); err != nil {
				return fail(err)
			}
		case "success":
			if more {
				// SCRAM: check the server's signature (RFC 5802 §3).
				if _, _, err := n.Step(data); err != nil {
					return fail(fmt.Errorf("SASL %s: server not verified: %w", mech.Name, err))
				}
			}
			return nil
		case "failure":
			cond := "undefined-condition"
			for _, x := range s.Conditions {
				if x.XMLName.Local != "text" {
					cond = x.XMLName.Local
					break
				}
			}
			return &Error{Step: StepAuth, SASL: cond}
		default:
			return fail(fmt.Errorf("unexpected SASL element %s", el.Raw))
		}
	}
	return fail(errors.New("SASL exchange too long"))
}

// iqResult is the answer to an iq a login sent.
type iqResult struct {
	ID   string `xml:"id,attr"`
	Type string `xml:"type,attr"`
	Bind struct {
		JID string `xml:"jid"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Error *struct {
		Type       string `xml:"type,attr"`
		Conditions []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

// iq sends an iq of type set and waits for the answer with the same id.
func iq(ctx context.Context, c Conn, step, id string, stanza []byte) (*iqResult, error) {
	if err := c.Send(ctx, "", stanza); err != nil {
		return nil, &Error{Step: step, Err: err}
	}
	var res iqResult
	_, err := c.Next(ctx, func(el xmppwire.Element) bool {
		space := el.Name.Space // jabber:client, or the body's namespace for a stanza sent without one
		if el.Name.Local != "iq" || (space != xmppwire.NSClient && space != xmppwire.NSHTTPBind && space != "") {
			return false
		}
		res = iqResult{}
		return xml.Unmarshal(el.Raw, &res) == nil && res.ID == id
	})
	if err != nil {
		return nil, &Error{Step: step, Err: err}
	}
	switch res.Type {
	case "result":
		return &res, nil
	case "error":
		e := &Error{Step: step, Stanza: "undefined-condition"}
		if res.Error != nil {
			e.StanzaType = res.Error.Type
			for _, x := range res.Error.Conditions {
				if x.XMLName.Local != "text" {
					e.Stanza = x.XMLName.Local
					break
				}
			}
		}
		return nil, e
	}
	return nil, &Error{Step: step, Err: fmt.Errorf("iq %s answered with type %q", id, res.Type)}
}
