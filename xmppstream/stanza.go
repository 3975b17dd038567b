package xmppstream

import (
	"bytes"
	"context"
	"errors"

	"github.com/httpbind/httpbind/internal/xmlscan"
)

// streamError is a stream error condition found while inspecting a stanza
// (RFC 6120 §4.9.3): the stream ends with it.
type streamError string

func (e streamError) Error() string { return "xmppstream: stream error " + string(e) }

// stanza handles a <message/>, <presence/> or <iq/> from the client (RFC
// 6120 §8): non-SASL authentication before authentication (XEP-0078), the
// bind and session iqs, or, once the preconditions hold, a stanza for the
// Core. Anything earlier ends the stream with not-authorized (XEP-0206
// §5). It reports false when the stream has ended.
func (s *stream) stanza(ctx context.Context, raw []byte) bool {
	if !s.authed && s.isIQAuth() {
		return s.iqAuth(ctx, raw)
	}
	switch s.control() {
	case nsBind:
		return s.bind(ctx, raw)
	case nsSession:
		return s.session(ctx, raw)
	}
	if !s.ready() {
		s.fail(ctx, "not-authorized", errors.New("xmppstream: stanza before authentication, bind or session"))
		return false
	}
	st, err := inspectStanza(raw, s.doc, s.client.JID())
	var se streamError
	var stanzaErr *StanzaError
	switch {
	case errors.As(err, &se):
		s.fail(ctx, string(se), err)
		return false
	case errors.As(err, &stanzaErr):
		if answerable(st) {
			s.sink.Deliver(errorReply(st.Name, st.ID, s.client.JID().String(), "", stanzaErr))
		}
		return true
	case err != nil:
		s.fail(ctx, "internal-server-error", err)
		return false
	}
	s.srv.core.Route(ctx, s.client, st)
	return true
}

// answerable reports whether a stanza may get an error reply: a message
// that is not an error, or an iq request (RFC 6120 §8.3.1, §8.2.3).
// Presence with a bad address is dropped.
func answerable(st *Stanza) bool {
	switch st.Name {
	case "message":
		return st.Type != "error"
	case "iq":
		return st.Type == "get" || st.Type == "set"
	}
	return false
}

// control returns the namespace of the bind or session request that the
// stanza in s.doc is, or "": an iq of type set whose first child is
// {urn:ietf:params:xml:ns:xmpp-bind}bind (RFC 6120 §7) or
// {urn:ietf:params:xml:ns:xmpp-session}session (RFC 3921 §3).
func (s *stream) control() string {
	d := s.doc
	if string(d.Local) != "iq" || len(d.Children) == 0 {
		return ""
	}
	if t, _ := d.Attr("", "type"); string(t) != "set" {
		return ""
	}
	c := d.Children[0]
	switch {
	case string(c.Space) == nsBind && string(c.Local) == "bind":
		return nsBind
	case string(c.Space) == nsSession && string(c.Local) == "session":
		return nsSession
	}
	return ""
}

// inspectStanza checks a stanza from a client whose full JID is from and
// prepares it for the Core (RFC 6120 §8.1, XEP-0206 §2). doc is raw as
// parsed by xmlscan.Parse. It returns:
//
//   - a streamError unsupported-stanza-type for an element that is not a
//     message, presence or iq in no namespace, httpbind's or jabber:client
//     ;
//   - a streamError invalid-from for a 'from' that is neither the full JID
//     nor its bare JID (RFC 6120 §8.1.2.1, §4.9.3.9);
//   - a *StanzaError jid-malformed, with the Stanza's Name, Type and ID
//     set for the reply, for a 'to' that is not a JID (RFC 6120 §8.3.3.8);
//   - otherwise the Stanza, whose Raw is raw with 'from' set to the full
//     JID and xmlns='jabber:client' declared, and nothing else changed.
//
// Only the root start tag is inspected and rewritten.
func inspectStanza(raw []byte, doc *xmlscan.Doc, from JID) (*Stanza, error) {
	space, local := string(doc.Space), string(doc.Local)
	if !isStanzaName(local) || !stanzaSpace(space) {
		return nil, streamError("unsupported-stanza-type")
	}
	tag, ok := scanStartTag(raw)
	if !ok {
		return nil, streamError("restricted-xml") // a prolog: not a sliced payload
	}
	st := &Stanza{Name: local, From: from}
	if v, ok := doc.Attr("", "type"); ok {
		st.Type = string(v)
	}
	if v, ok := doc.Attr("", "id"); ok {
		st.ID = string(v)
	}
	if v, ok := doc.Attr("", "from"); ok {
		j, err := ParseJID(string(v))
		if err != nil || (j != from && j != from.Bare()) {
			return nil, streamError("invalid-from")
		}
	}
	if v, ok := doc.Attr("", "to"); ok {
		j, err := ParseJID(string(v))
		if err != nil {
			return st, &StanzaError{Type: "modify", Condition: "jid-malformed"}
		}
		st.To = j
	}
	st.Raw = stamp(raw, tag, from.String())
	return st, nil
}

// stamp returns raw with its root's 'from' set to from and its default
// namespace set to jabber:client, inserting the attributes that are
// missing right after the element name. A prefixed root (already in
// jabber:client) keeps a default namespace declaration it has.
func stamp(raw []byte, tag startTag, from string) []byte {
	var b bytes.Buffer
	b.Grow(len(raw) + len(from) + 40)
	b.Write(raw[:tag.nameEnd])
	fromAt, nsAt := -1, -1
	for i, a := range tag.attrs {
		switch string(raw[a.nameStart:a.nameEnd]) {
		case "from":
			fromAt = i
		case "xmlns":
			nsAt = i
		}
	}
	if fromAt < 0 {
		b.WriteString(" from='")
		escapeAttr(&b, from)
		b.WriteByte('\'')
	}
	prefixed := bytes.IndexByte(raw[1:tag.nameEnd], ':') >= 0
	if nsAt < 0 {
		b.WriteString(" xmlns='" + nsClient + "'")
	}
	last := tag.nameEnd
	for i, a := range tag.attrs {
		var v string
		switch {
		case i == fromAt:
			v = from
		case i == nsAt && !prefixed:
			v = nsClient
		default:
			continue
		}
		b.Write(raw[last:a.valueStart])
		escapeAttr(&b, v)
		last = a.valueEnd
	}
	b.Write(raw[last:])
	return b.Bytes()
}

// startTag locates the parts of a root start tag in the raw bytes.
type startTag struct {
	nameEnd int       // the end of the element name
	attrs   []tagAttr // the attributes, namespace declarations included
}

// tagAttr is one attribute: raw[nameStart:nameEnd] is its qualified name,
// raw[valueStart:valueEnd] its value between the quotes, as written.
type tagAttr struct {
	nameStart, nameEnd, valueStart, valueEnd int
}

// scanStartTag finds the root start tag of a document that xmlscan.Parse
// accepted and that starts with it (no prolog). Quotes are honoured, so a
// '>' or '/' in a value does not end the tag. It reports false for
// anything else.
func scanStartTag(raw []byte) (startTag, bool) {
	var t startTag
	if len(raw) < 2 || raw[0] != '<' || raw[1] == '?' || raw[1] == '!' || isXMLSpace(raw[1]) {
		return t, false
	}
	i := 1
	for i < len(raw) && !isXMLSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	t.nameEnd = i
	for {
		for i < len(raw) && isXMLSpace(raw[i]) {
			i++
		}
		if i >= len(raw) {
			return t, false
		}
		if raw[i] == '>' || raw[i] == '/' {
			return t, true
		}
		a := tagAttr{nameStart: i}
		for i < len(raw) && raw[i] != '=' && !isXMLSpace(raw[i]) {
			i++
		}
		a.nameEnd = i
		for i < len(raw) && isXMLSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] != '=' {
			return t, false
		}
		i++
		for i < len(raw) && isXMLSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || (raw[i] != '\'' && raw[i] != '"') {
			return t, false
		}
		q := raw[i]
		a.valueStart = i + 1
		end := bytes.IndexByte(raw[a.valueStart:], q)
		if end < 0 {
			return t, false
		}
		a.valueEnd = a.valueStart + end
		i = a.valueEnd + 1
		t.attrs = append(t.attrs, a)
	}
}

// isXMLSpace reports whether c is XML white space (XML 1.0 §2.3 S).
func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
