package xmppstream

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"

	"github.com/httpbind/httpbind/internal/xmlscan"
)

// bind handles a resource binding request (RFC 6120 §7), an iq of type set
// with a <bind/> child, allowed once SASL succeeded and the stream was
// restarted (XEP-0206 §5). It reports false when the stream has ended.
func (s *stream) bind(ctx context.Context, raw []byte) bool {
	if !s.authed || !s.restarted {
		s.fail(ctx, "not-authorized", errors.New("xmppstream: bind before authentication and restart"))
		return false
	}
	id := attrString(s.doc, "id")
	reply := func(e *StanzaError) bool {
		s.sink.Deliver(errorReply("iq", id, "", "", e))
		return true
	}
	if s.isBound() {
		// RFC 6120 §7.7.2.1 lets a server bind one resource per stream.
		return reply(&StanzaError{Type: "cancel", Condition: "not-allowed"})
	}
	resource, err := bindResource(raw)
	if err != nil {
		return reply(&StanzaError{Type: "modify", Condition: "bad-request"})
	}
	if resource != "" {
		// RFC 6120 §7.7.2.1: a resourcepart that fails preparation (RFC
		// 7622 §3.4) is a bad-request.
		j, err := NewJID(s.user.Local, s.user.Domain, resource)
		if err != nil {
			return reply(&StanzaError{Type: "modify", Condition: "bad-request"})
		}
		resource = j.Resource
	}
	full, se, ended := s.coreBind(ctx, s.user, resource)
	switch {
	case ended:
		return false
	case se != nil:
		return reply(se)
	}
	var b bytes.Buffer
	iqStart(&b, "result", id)
	b.WriteString("><bind xmlns='" + nsBind + "'><jid>")
	escapeText(&b, full.String())
	b.WriteString("</jid></bind></iq>")
	s.sink.Deliver(b.Bytes())
	return true
}

// coreBind binds resource (prepared, or "" for one the Core makes) for
// user through Core.Bind and returns the full JID, or the stanza error to
// answer with: conflict when the Core keeps the client holding the
// resource (RFC 6120 §7.7.2.2: the client may try another), the Core's
// own, or internal-server-error. ended is set when the stream ended
// meanwhile (kicked or closed).
func (s *stream) coreBind(ctx context.Context, user JID, resource string) (full JID, se *StanzaError, ended bool) {
	s.setJID(user)
	full, err := s.srv.core.Bind(ctx, s.client, user, resource)
	switch {
	case errors.Is(err, ErrConflict):
		se = &StanzaError{Type: "cancel", Condition: "conflict"}
	case errors.As(err, &se):
	case err != nil:
		s.srv.log.Warn("xmppstream: core failed to bind", "err", err)
		se = &StanzaError{Type: "wait", Condition: "internal-server-error"}
	}
	if se != nil {
		return JID{}, se, false
	}
	if !s.bindDone(full) {
		return JID{}, nil, true
	}
	return full, nil, false
}

// session handles an RFC 3921 §3 session request, allowed once bound. A
// repeated request is answered with success again without the Core. It
// reports false when the stream has ended.
func (s *stream) session(ctx context.Context, raw []byte) bool {
	if !s.authed || !s.restarted || !s.isBound() {
		s.fail(ctx, "not-authorized", errors.New("xmppstream: session before bind"))
		return false
	}
	id := attrString(s.doc, "id")
	if se := s.startSession(ctx); se != nil {
		// RFC 3921 §3: the error echoes the <session/> child.
		s.sink.Deliver(errorReply("iq", id, "", "<session xmlns='"+nsSession+"'/>", se))
		return true
	}
	var b bytes.Buffer
	iqStart(&b, "result", id)
	b.WriteString(" from='")
	escapeAttr(&b, s.domain)
	b.WriteString("' to='")
	escapeAttr(&b, s.client.JID().String())
	b.WriteString("'/>")
	s.sink.Deliver(b.Bytes())
	return true
}

// startSession establishes the RFC 3921 §3 session through
// Core.StartSession, once; it returns the stanza error to answer with,
// the Core's own or internal-server-error.
func (s *stream) startSession(ctx context.Context) *StanzaError {
	if s.sessioned {
		return nil
	}
	err := s.srv.core.StartSession(ctx, s.client)
	var se *StanzaError
	if err != nil && !errors.As(err, &se) {
		s.srv.log.Warn("xmppstream: core failed to start a session", "err", err)
		se = &StanzaError{Type: "wait", Condition: "internal-server-error"}
	}
	if se == nil {
		s.sessioned = true
	}
	return se
}

func (s *stream) setJID(j JID) {
	s.mu.Lock()
	s.jid = j
	s.mu.Unlock()
}

// bindResource returns the text of the <resource/> in the <bind/> child of
// a bind iq (RFC 6120 §7.5), or "" when there is none or it is empty. A
// <resource/> holding elements is an error.
func bindResource(raw []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	depth, children := 0, 0
	inResource, found := false, false
	var text []byte
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return string(text), nil
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				children++
			}
			if inResource {
				return "", errors.New("xmppstream: element inside <resource/>")
			}
			if depth == 3 && children == 1 && !found && t.Name.Space == nsBind && t.Name.Local == "resource" {
				inResource, found = true, true
			}
		case xml.EndElement:
			depth--
			inResource = false
		case xml.CharData:
			if inResource {
				text = append(text, t...)
			}
		}
	}
}

// attrString returns the un-namespaced root attribute local of the stanza
// in doc, or "".
func attrString(doc *xmlscan.Doc, local string) string {
	v, _ := doc.Attr("", local)
	return string(v)
}
