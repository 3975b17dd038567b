package xmppstream

import (
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
	if err != nil {
		return s.refuse(ctx, st, err)
	}
	s.srv.core.Route(ctx, s.client, st)
	return true
}

// refuse answers a stanza that inspectStanza refused with err: a stream
// error ends the stream, a stanza error is sent back when the stanza may
// get one. It reports false when the stream has ended. (Apart from
// stanza, so that a stanza that passes costs no error targets.)
func (s *stream) refuse(ctx context.Context, st *Stanza, err error) bool {
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
	default:
		s.fail(ctx, "internal-server-error", err)
		return false
	}
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
// parsed by xmlscan.Parse, the stanza's one parse. It returns:
//
//   - a streamError unsupported-stanza-type for an element that is not a
//     message, presence or iq in no namespace, httpbind's or jabber:client
//     ;
//   - a streamError restricted-xml for a stanza with a prolog;
//   - a streamError invalid-from for a 'from' that is neither the full JID
//     nor its bare JID (RFC 6120 §8.1.2.1, §4.9.3.9);
//   - a *StanzaError jid-malformed, with the Stanza's Name, Type and ID
//     set for the reply, for a 'to' that is not a JID (RFC 6120 §8.3.3.8);
//   - otherwise the Stanza, whose Raw is raw with 'from' set to the full
//     JID and xmlns='jabber:client' declared, and nothing else changed,
//     and whose Element describes that Raw.
//
// Only the root start tag is inspected and rewritten.
func inspectStanza(raw []byte, doc *xmlscan.Doc, from JID) (*Stanza, error) {
	space, local := string(doc.Space), string(doc.Local)
	if !isStanzaName(local) || !stanzaSpace(space) {
		return nil, streamError("unsupported-stanza-type")
	}
	if doc.Start != 0 {
		return nil, streamError("restricted-xml") // a prolog: not a sliced payload
	}
	sa := &stanzaAlloc{}
	st := &sa.st
	st.Name, st.From = local, from
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
	var full []byte
	st.Raw, full = stamp(raw, doc, from.String())
	sa.element(raw, doc, st.Raw, full)
	return st, nil
}
