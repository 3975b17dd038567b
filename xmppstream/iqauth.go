package xmppstream

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Namespaces of non-SASL authentication (XEP-0078 §3, §4).
const (
	nsIQAuth        = "jabber:iq:auth"
	nsIQAuthFeature = "http://jabber.org/features/iq-auth"
)

// isIQAuth reports whether the stanza in s.doc is a non-SASL
// authentication request: an iq of type get or set whose first child is
// {jabber:iq:auth}query (XEP-0078 §3).
func (s *stream) isIQAuth() bool {
	d := s.doc
	if string(d.Local) != "iq" || len(d.Children) == 0 {
		return false
	}
	if t, _ := d.Attr("", "type"); string(t) != "get" && string(t) != "set" {
		return false
	}
	c := d.Children[0]
	return string(c.Space) == nsIQAuth && string(c.Local) == "query"
}

// iqAuth answers a jabber:iq:auth request before authentication (XEP-0078
// §3): service-unavailable when ServerConfig.NonSASLAuth is off; a
// policy-violation stream error after a SASL attempt (§3, §7); the fields
// for a get; for a set, the check of the credentials, then resource
// binding and session establishment in one step. It reports false when
// the stream has ended.
func (s *stream) iqAuth(ctx context.Context, raw []byte) bool {
	id := attrString(s.doc, "id")
	if s.srv.nonSASL == NonSASLAuthOff {
		s.sink.Deliver(iqAuthError(id, &StanzaError{Type: "cancel", Condition: "service-unavailable"}))
		return true
	}
	if s.exch != nil || s.failures > 0 {
		s.fail(ctx, "policy-violation", errors.New("xmppstream: non-SASL authentication after a SASL attempt"))
		return false
	}
	if attrString(s.doc, "type") == "get" {
		s.sink.Deliver(s.iqAuthFields(id))
		return true
	}
	user, resource, se := s.iqAuthCheck(ctx, raw)
	if se != nil {
		return s.iqAuthFailed(ctx, id, se)
	}
	_, se, ended := s.coreBind(ctx, user, resource)
	switch {
	case ended:
		return false
	case se != nil:
		s.setJID(JID{})
		s.sink.Deliver(iqAuthError(id, se)) // conflict: XEP-0078 §3
		return true
	}
	s.authed, s.restarted, s.nonSASL, s.user = true, true, true, user
	s.srv.log.Debug("xmppstream: authenticated", "mechanism", "jabber:iq:auth", "domain", s.domain)
	if se := s.startSession(ctx); se != nil {
		// Bound, but stanzas wait for a session (ready): the client may
		// still send an RFC 3921 session request.
		s.sink.Deliver(iqAuthError(id, se))
		return true
	}
	var b bytes.Buffer
	iqStart(&b, "result", id)
	b.WriteString("/>")
	s.sink.Deliver(b.Bytes())
	return true
}

// iqAuthFields is the answer to a get (XEP-0078 §3): username, resource,
// digest, and password only on a session that came over TLS. It is the
// same whatever username the request names, so that it tells nothing of
// which accounts exist.
func (s *stream) iqAuthFields(id string) []byte {
	var b bytes.Buffer
	iqStart(&b, "result", id)
	b.WriteString("><query xmlns='" + nsIQAuth + "'><username/>")
	if s.secure {
		b.WriteString("<password/>")
	}
	b.WriteString("<digest/><resource/></query></iq>")
	return b.Bytes()
}

// iqAuthCheck checks the credentials of a set and returns the account and
// the prepared resource, or the error to answer with: not-acceptable when
// the username, the resource, or exactly one of password and digest is
// missing, for a resource that fails preparation, and for a plain-text
// password on a session without TLS (XEP-0078 §7); not-authorized for an
// unknown user or wrong credentials.
func (s *stream) iqAuthCheck(ctx context.Context, raw []byte) (JID, string, *StanzaError) {
	notAcceptable := &StanzaError{Type: "modify", Condition: "not-acceptable"}
	notAuthorized := &StanzaError{Type: "auth", Condition: "not-authorized"}
	q, err := readIQAuth(raw)
	if err != nil || q.fields["username"] == nil || q.fields["resource"] == nil ||
		(q.fields["password"] == nil) == (q.fields["digest"] == nil) {
		return JID{}, "", notAcceptable
	}
	if q.fields["password"] != nil && !s.secure {
		return JID{}, "", &StanzaError{Type: "modify", Condition: "not-acceptable",
			Text: "a plain-text password needs a session over TLS; use digest"}
	}
	user, ok := s.account(*q.fields["username"])
	if !ok {
		return JID{}, "", notAuthorized
	}
	full, err := NewJID(user.Local, user.Domain, *q.fields["resource"])
	if err != nil || full.Resource == "" {
		return JID{}, "", notAcceptable
	}
	creds, err := s.srv.core.Credentials(ctx, user.Domain, user.Local)
	switch {
	case errors.Is(err, ErrNoAccount):
		return JID{}, "", notAuthorized
	case err != nil:
		s.srv.log.Warn("xmppstream: core failed to give credentials", "err", err)
		return JID{}, "", &StanzaError{Type: "wait", Condition: "internal-server-error"}
	}
	if p := q.fields["password"]; p != nil && !plainMatches(creds, []byte(*p)) {
		return JID{}, "", notAuthorized
	}
	if d := q.fields["digest"]; d != nil && !s.digestMatches(creds, *d) {
		return JID{}, "", notAuthorized
	}
	return user, full.Resource, nil
}

// digestMatches checks a XEP-0078 digest: the lowercase hex SHA-1 of the
// stream id followed by the password (XEP-0078 §3). It needs the password.
func (s *stream) digestMatches(c Credentials, digest string) bool {
	if c.Password == "" {
		return false
	}
	sum := sha1.Sum([]byte(s.id + c.Password))
	want := hex.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(strings.TrimSpace(digest)))) == 1
}

// iqAuthFailed answers a failed set; the MaxAuthFailures-th failure on
// the credentials ends the stream with a not-authorized stream error, as
// for SASL (RFC 6120 §6.4.5).
func (s *stream) iqAuthFailed(ctx context.Context, id string, se *StanzaError) bool {
	s.sink.Deliver(iqAuthError(id, se))
	if se.Condition == "internal-server-error" {
		return true
	}
	s.iqFails++
	s.srv.log.Debug("xmppstream: non-SASL authentication failed", "condition", se.Condition, "domain", s.domain, "failures", s.iqFails)
	if s.iqFails >= MaxAuthFailures {
		s.fail(ctx, "not-authorized", errors.New("xmppstream: too many non-SASL authentication failures"))
		return false
	}
	return true
}

// legacyCodes are the error codes of the conditions XEP-0078 answers
// with, which it requires beside the conditions (XEP-0078 §5, XEP-0086).
var legacyCodes = map[StanzaCondition]int{
	"bad-request": 400, "not-authorized": 401, "forbidden": 403, "not-allowed": 405,
	"not-acceptable": 406, "conflict": 409, "internal-server-error": 500, "service-unavailable": 503,
}

// iqAuthError is an error answer to a jabber:iq:auth request, with the
// legacy code, and without the request echoed: XEP-0078 §3 keeps the
// credentials out of errors.
func iqAuthError(id string, e *StanzaError) []byte {
	var b bytes.Buffer
	iqStart(&b, "error", id)
	b.WriteString("><error")
	if code, ok := legacyCodes[e.Condition]; ok {
		b.WriteString(" code='" + strconv.Itoa(code) + "'")
	}
	b.WriteString(" type='" + safeErrorType(string(e.Type)) + "'><" + safeCondition(string(e.Condition), "undefined-condition") +
		" xmlns='" + nsStanzas + "'/>")
	if e.Text != "" {
		b.WriteString("<text xmlns='" + nsStanzas + "'>")
		escapeText(&b, e.Text)
		b.WriteString("</text>")
	}
	b.WriteString("</error></iq>")
	return b.Bytes()
}

// iqAuthQuery is the <query/> of a set: the text of each of its fields
// that is present.
type iqAuthQuery struct {
	fields map[string]*string // "username", "password", "digest", "resource"
}

// readIQAuth reads the fields of the jabber:iq:auth <query/>, the first
// child of an iq. A field twice, or holding an element, is an error;
// other elements are ignored.
func readIQAuth(raw []byte) (iqAuthQuery, error) {
	q := iqAuthQuery{fields: map[string]*string{}}
	d := xml.NewDecoder(bytes.NewReader(raw))
	depth, children := 0, 0 // children: of the iq, the first being the <query/>
	var field *string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return q, nil
		}
		if err != nil {
			return q, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				children++
			}
			if field != nil {
				return q, errors.New("xmppstream: element inside a jabber:iq:auth field")
			}
			switch t.Name.Local {
			case "username", "password", "digest", "resource":
				if depth != 3 || children != 1 || t.Name.Space != nsIQAuth {
					break
				}
				if q.fields[t.Name.Local] != nil {
					return q, errors.New("xmppstream: a jabber:iq:auth field twice")
				}
				field = new(string)
				q.fields[t.Name.Local] = field
			}
		case xml.EndElement:
			depth--
			field = nil
		case xml.CharData:
			if field != nil {
				*field += string(t)
			}
		}
	}
}
