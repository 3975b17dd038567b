// Package xmppwire is the XML vocabulary that the module's
// XMPP-over-BOSH clients share (boshtest's Client, prebind's login, the
// idle-session benchmark): the namespaces of XEP-0124, XEP-0206 and RFC
// 6120, attribute escaping, and the request <body/> of a session. One
// place for each, so that the clients cannot drift apart.
//
// Layer: internal, standard library only.
package xmppwire

import (
	"bytes"
	"encoding/xml"
	"strconv"
)

// Namespaces of the wire format (XEP-0124 §6, XEP-0206 §2) and of the
// stream features a client negotiates (RFC 6120, RFC 3921).
const (
	NSHTTPBind = "http://jabber.org/protocol/httpbind"
	NSXBOSH    = "urn:xmpp:xbosh"
	NSStream   = "http://etherx.jabber.org/streams"
	NSStreams  = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession  = "urn:ietf:params:xml:ns:xmpp-session"
	NSClient   = "jabber:client"
)

// AppendEscaped appends s escaped for XML character data or an attribute
// value in single or double quotes.
func AppendEscaped(dst []byte, s string) []byte {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return append(dst, b.Bytes()...)
}

// RequestBody encodes one request <body/> of a session (XEP-0124 §8):
// extra holds further attributes, already escaped, each with a leading
// space; payloads are complete elements.
func RequestBody(rid uint64, sid, extra string, payloads [][]byte) []byte {
	b := make([]byte, 0, 128)
	b = append(b, "<body rid='"...)
	b = strconv.AppendUint(b, rid, 10)
	b = append(b, "' sid='"...)
	b = AppendEscaped(b, sid)
	b = append(b, '\'')
	b = append(b, extra...)
	b = append(b, " xmlns='"+NSHTTPBind+"'"...)
	if len(payloads) == 0 {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	for _, p := range payloads {
		b = append(b, p...)
	}
	return append(b, "</body>"...)
}
