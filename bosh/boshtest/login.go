package boshtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mellium.im/sasl"
)

// ErrAuth is the error of a Login the server refused with a SASL
// <failure/> (RFC 6120 §6.4.5); the message names the failure condition.
var ErrAuth = errors.New("boshtest: authentication failed")

// features are the stream features Login looks at (RFC 6120 §4.3.2).
type features struct {
	Mechanisms []string  `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
	Bind       *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Session    *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-session session"`
}

// Login logs in to the domain given to Connect: SASL authentication as
// user with password (PLAIN unless WithMechanism chose another, RFC 6120
// §6), the stream restart (XEP-0206 §5: a request with xmpp:restart='true'
// qualified by urn:xmpp:xbosh), resource binding (RFC 6120 §7; an empty
// resource lets the server choose), and the IM session (RFC 3921 §3) when
// the server advertises it. It returns the bound full JID. A refused
// authentication is an error wrapping ErrAuth. Login must not run
// concurrently with Receive.
func (c *Client) Login(ctx context.Context, user, password, resource string) (string, error) {
	f, err := c.features(ctx)
	if err != nil {
		return "", err
	}
	if !slices.Contains(f.Mechanisms, c.mech.Name) {
		return "", fmt.Errorf("boshtest: the server does not offer %s (it offers %v)", c.mech.Name, f.Mechanisms)
	}
	if err := c.authenticate(ctx, f.Mechanisms, user, password); err != nil {
		return "", err
	}
	restart := fmt.Sprintf(" to='%s' xml:lang='en' xmpp:restart='true' xmlns:xmpp='%s'", appendEscaped(nil, c.domain), nsXBOSH)
	if err := c.submit(ctx, &outbound{attrs: restart}); err != nil {
		return "", err
	}
	if f, err = c.features(ctx); err != nil {
		return "", err
	}
	if f.Bind == nil {
		return "", errors.New("boshtest: no <bind/> in the stream features after the restart")
	}
	var bind bytes.Buffer
	bind.WriteString("<iq type='set' id='bind_1' xmlns='jabber:client'><bind xmlns='" + nsBind + "'>")
	if resource != "" {
		bind.WriteString("<resource>")
		xml.EscapeText(&bind, []byte(resource))
		bind.WriteString("</resource>")
	}
	bind.WriteString("</bind></iq>")
	res, err := c.iq(ctx, "bind_1", bind.Bytes())
	if err != nil {
		return "", err
	}
	jid := strings.TrimSpace(res.Bind.JID)
	if jid == "" {
		return "", errors.New("boshtest: bind result without <jid/>")
	}
	if f.Session != nil {
		sess := fmt.Appendf(nil, "<iq type='set' id='sess_1' to='%s' xmlns='jabber:client'><session xmlns='%s'/></iq>",
			appendEscaped(nil, c.domain), nsSession)
		if _, err := c.iq(ctx, "sess_1", sess); err != nil {
			return "", err
		}
	}
	c.mu.Lock()
	c.jid = jid
	c.mu.Unlock()
	return jid, nil
}

// features takes the next received element, which must be
// <stream:features/> (XEP-0206 §4, §5).
func (c *Client) features(ctx context.Context) (*features, error) {
	el, err := c.take(ctx, nil)
	if err != nil {
		return nil, err
	}
	if el.name.Space != nsStream || el.name.Local != "features" {
		return nil, fmt.Errorf("boshtest: want <stream:features/>, got %s", el.raw)
	}
	var f features
	if err := xml.Unmarshal(el.raw, &f); err != nil {
		return nil, fmt.Errorf("boshtest: stream features: %w", err)
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

// authenticate runs the SASL exchange (RFC 6120 §6.4).
func (c *Client) authenticate(ctx context.Context, offered []string, user, password string) error {
	n := sasl.NewClient(c.mech,
		sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(password), nil }),
		sasl.RemoteMechanisms(offered...))
	more, resp, err := n.Step(nil)
	if err != nil {
		return fmt.Errorf("boshtest: SASL %s: %w", c.mech.Name, err)
	}
	auth := fmt.Appendf(nil, "<auth xmlns='%s' mechanism='%s'>%s</auth>", nsSASL, c.mech.Name, encode64(resp))
	if err := c.submit(ctx, &outbound{payloads: [][]byte{auth}}); err != nil {
		return err
	}
	for {
		el, err := c.take(ctx, nil)
		if err != nil {
			return err
		}
		var s saslElement
		if el.name.Space != nsSASL || xml.Unmarshal(el.raw, &s) != nil {
			return fmt.Errorf("boshtest: want a SASL element, got %s", el.raw)
		}
		data, err := decode64(s.Text)
		if err != nil {
			return fmt.Errorf("boshtest: SASL %s: %w", el.name.Local, err)
		}
		switch el.name.Local {
		case "challenge":
			if more, resp, err = n.Step(data); err != nil {
				return fmt.Errorf("boshtest: SASL %s: %w", c.mech.Name, err)
			}
			r := fmt.Appendf(nil, "<response xmlns='%s'>%s</response>", nsSASL, encode64(resp))
			if err := c.submit(ctx, &outbound{payloads: [][]byte{r}}); err != nil {
				return err
			}
		case "success":
			if more {
				// SCRAM: check the server's signature (RFC 5802 §3).
				if _, _, err := n.Step(data); err != nil {
					return fmt.Errorf("boshtest: SASL %s: server not verified: %w", c.mech.Name, err)
				}
			}
			return nil
		case "failure":
			cond := "unknown"
			for _, x := range s.Conditions {
				if x.XMLName.Local != "text" {
					cond = x.XMLName.Local
					break
				}
			}
			return fmt.Errorf("%w: %s", ErrAuth, cond)
		default:
			return fmt.Errorf("boshtest: unexpected SASL element %s", el.raw)
		}
	}
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

// iqResult is the answer to an iq Login sent.
type iqResult struct {
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

// iq sends an iq of type set and waits for the answer with the same id,
// leaving other received elements for Receive.
func (c *Client) iq(ctx context.Context, id string, stanza []byte) (*iqResult, error) {
	if err := c.submit(ctx, &outbound{payloads: [][]byte{stanza}}); err != nil {
		return nil, err
	}
	var res iqResult
	_, err := c.take(ctx, func(el element) bool {
		if el.name.Local != "iq" || (el.name.Space != nsClient && el.name.Space != nsHTTPBind) {
			return false
		}
		var head struct {
			ID string `xml:"id,attr"`
		}
		return xml.Unmarshal(el.raw, &head) == nil && head.ID == id && xml.Unmarshal(el.raw, &res) == nil
	})
	if err != nil {
		return nil, err
	}
	switch res.Type {
	case "result":
		return &res, nil
	case "error":
		cond := "unknown"
		if res.Error != nil {
			for _, x := range res.Error.Conditions {
				if x.XMLName.Local != "text" {
					cond = res.Error.Type + "/" + x.XMLName.Local
					break
				}
			}
		}
		return nil, fmt.Errorf("boshtest: iq %s refused: %s", id, cond)
	default:
		return nil, fmt.Errorf("boshtest: iq %s answered with type %q", id, res.Type)
	}
}
