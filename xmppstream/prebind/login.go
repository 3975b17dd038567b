package prebind

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mellium.im/sasl"
)

// maxSkipped bounds the elements skipped while waiting for an iq answer.
const maxSkipped = 100

// features are the stream features the login looks at (RFC 6120 §4.3.2).
type features struct {
	mechanisms    []string
	bind, session bool
}

// login runs SASL, the restart, binding and the session, and returns the
// bound full JID.
func (c *conn) login(ctx context.Context) (string, error) {
	c.op = OpAuth
	f, err := c.features(ctx)
	if err != nil {
		return "", err
	}
	mech := c.p.cfg.Mechanism
	if !slices.Contains(f.mechanisms, mech.Name) {
		return "", c.fail(fmt.Errorf("the server does not offer %s (it offers %v)", mech.Name, f.mechanisms))
	}
	if err := c.authenticate(ctx, mech, f.mechanisms); err != nil {
		return "", err
	}
	// XEP-0206 §5: the restart is a body with xmpp:restart='true'.
	c.op = OpRestart
	restart := fmt.Sprintf(" to='%s' xml:lang='en' xmpp:restart='true' xmlns:xmpp='%s'", escape(c.req.Domain), nsXBOSH)
	if err := c.send(ctx, restart, nil); err != nil {
		return "", err
	}
	if f, err = c.features(ctx); err != nil {
		return "", err
	}
	c.op = OpBind
	if !f.bind {
		return "", c.fail(errors.New("no <bind/> in the stream features after the restart"))
	}
	var bind bytes.Buffer
	bind.WriteString("<iq type='set' id='prebind_bind' xmlns='" + nsClient + "'><bind xmlns='" + nsBind + "'>")
	if c.req.Resource != "" {
		bind.WriteString("<resource>" + escape(c.req.Resource) + "</resource>")
	}
	bind.WriteString("</bind></iq>")
	res, err := c.iq(ctx, "prebind_bind", bind.Bytes())
	if err != nil {
		return "", err
	}
	var jid string
	if b := res.child(nsBind, "bind"); b != nil {
		if j := b.child(nsBind, "jid"); j != nil {
			jid = strings.TrimSpace(j.Text)
		}
	}
	if jid == "" {
		return "", c.fail(errors.New("bind result without <jid/>"))
	}
	if f.session {
		// RFC 3921 §3; harmless where RFC 6121 made it optional.
		c.op = OpSession
		sess := "<iq type='set' id='prebind_session' to='" + escape(c.req.Domain) + "' xmlns='" + nsClient +
			"'><session xmlns='" + nsSession + "'/></iq>"
		if _, err := c.iq(ctx, "prebind_session", []byte(sess)); err != nil {
			return "", err
		}
	}
	return jid, nil
}

// features takes the next element, which must be <stream:features/>
// (XEP-0206 §4, §5).
func (c *conn) features(ctx context.Context) (features, error) {
	el, err := c.next(ctx)
	if err != nil {
		return features{}, err
	}
	if el.XMLName.Space != nsStream || el.XMLName.Local != "features" {
		return features{}, c.fail(fmt.Errorf("want <stream:features/>, got <%s xmlns='%s'/>", el.XMLName.Local, el.XMLName.Space))
	}
	var f features
	if m := el.child(nsSASL, "mechanisms"); m != nil {
		for _, x := range m.Children {
			if x.XMLName.Local == "mechanism" {
				f.mechanisms = append(f.mechanisms, strings.TrimSpace(x.Text))
			}
		}
	}
	f.bind = el.child(nsBind, "bind") != nil
	f.session = el.child(nsSession, "session") != nil
	return f, nil
}

// authenticate runs the SASL exchange (RFC 6120 §6.4). Nothing of it is
// logged.
func (c *conn) authenticate(ctx context.Context, mech sasl.Mechanism, offered []string) error {
	user, password := c.req.User, c.req.Password
	n := sasl.NewClient(mech,
		sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(password), nil }),
		sasl.RemoteMechanisms(offered...))
	more, resp, err := n.Step(nil)
	if err != nil {
		return c.fail(fmt.Errorf("SASL %s: %w", mech.Name, err))
	}
	auth := "<auth xmlns='" + nsSASL + "' mechanism='" + mech.Name + "'>" + encode64(resp) + "</auth>"
	if err := c.send(ctx, "", []byte(auth)); err != nil {
		return err
	}
	for range maxSkipped {
		el, err := c.next(ctx)
		if err != nil {
			return err
		}
		if el.XMLName.Space != nsSASL {
			return c.fail(fmt.Errorf("want a SASL element, got <%s xmlns='%s'/>", el.XMLName.Local, el.XMLName.Space))
		}
		data, err := decode64(el.Text)
		if err != nil {
			return c.fail(fmt.Errorf("SASL %s: %w", el.XMLName.Local, err))
		}
		switch el.XMLName.Local {
		case "challenge":
			if more, resp, err = n.Step(data); err != nil {
				return c.fail(fmt.Errorf("SASL %s: %w", mech.Name, err))
			}
			r := "<response xmlns='" + nsSASL + "'>" + encode64(resp) + "</response>"
			if err := c.send(ctx, "", []byte(r)); err != nil {
				return err
			}
		case "success":
			if more {
				// SCRAM: check the server's signature (RFC 5802 §3).
				if _, _, err := n.Step(data); err != nil {
					return c.fail(fmt.Errorf("SASL %s: server not verified: %w", mech.Name, err))
				}
			}
			return nil
		case "failure":
			return &Error{Op: OpAuth, SASL: el.condition(nsSASL)}
		default:
			return c.fail(fmt.Errorf("unexpected SASL element <%s/>", el.XMLName.Local))
		}
	}
	return c.fail(errors.New("SASL exchange too long"))
}

// iq sends an iq of type set and returns its result, skipping other
// elements received first (they are counted in c.dropped). An error
// result is an *Error with its condition.
func (c *conn) iq(ctx context.Context, id string, stanza []byte) (*element, error) {
	if err := c.send(ctx, "", stanza); err != nil {
		return nil, err
	}
	for range maxSkipped {
		el, err := c.next(ctx)
		if err != nil {
			return nil, err
		}
		if el.XMLName.Local != "iq" || el.attr("id") != id || !stanzaSpace(el.XMLName.Space) {
			c.dropped++
			continue
		}
		switch el.attr("type") {
		case "result":
			return el, nil
		case "error":
			cond := "undefined-condition"
			for _, x := range el.Children {
				if x.XMLName.Local == "error" {
					cond = x.condition(nsStanzas)
				}
			}
			return nil, &Error{Op: c.op, Stanza: cond}
		default:
			return nil, c.fail(fmt.Errorf("iq %s answered with type %q", id, el.attr("type")))
		}
	}
	return nil, c.fail(fmt.Errorf("no answer to iq %s among %d elements", id, maxSkipped))
}

// stanzaSpace reports whether a response child in space is a stanza:
// jabber:client, or the body's namespace for stanzas sent without one.
func stanzaSpace(space string) bool {
	return space == nsClient || space == nsHTTPBind || space == ""
}

// encode64 encodes SASL data, "=" for empty data (RFC 6120 §6.4.2).
func encode64(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// decode64 decodes SASL data, ignoring whitespace.
func decode64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if s == "" || s == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}
