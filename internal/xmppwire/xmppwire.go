// Package xmppwire is the wire vocabulary the module's packages share:
// the namespaces of XEP-0124, XEP-0206 and RFC 6120 (servers and clients
// alike), and for the XMPP-over-BOSH clients (internal/boshclient, the
// load tool, the test helpers) escaping, the request <body/> of a session, the parser
// of response bodies and SASL's base64. One place for each, so that the
// packages cannot drift apart; the login sequence on top is
// internal/xmpplogin.
//
// Layer: internal, standard library only.
package xmppwire

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	NSTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	NSXML      = "http://www.w3.org/XML/1998/namespace"
)

// AppendAttr appends v escaped for an attribute value in single or double
// quotes: the five special characters become entity references, and TAB,
// LF and CR character references, so that they survive attribute-value
// normalization (XML 1.0 §3.3.3). It also serves for character data.
func AppendAttr[T ~string | ~[]byte](dst []byte, v T) []byte { return appendEscaped(dst, v, true) }

// AppendText appends v escaped for character data: &, < and >.
func AppendText[T ~string | ~[]byte](dst []byte, v T) []byte { return appendEscaped(dst, v, false) }

// AppendEscaped is AppendAttr for a string.
func AppendEscaped(dst []byte, s string) []byte { return AppendAttr(dst, s) }

func appendEscaped[T ~string | ~[]byte](dst []byte, v T, attr bool) []byte {
	last := 0
	for i := 0; i < len(v); i++ {
		var esc string
		switch c := v[i]; {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case !attr:
			continue
		case c == '\'':
			esc = "&apos;"
		case c == '"':
			esc = "&quot;"
		case c == '\t':
			esc = "&#9;"
		case c == '\n':
			esc = "&#10;"
		case c == '\r':
			esc = "&#13;"
		default:
			continue
		}
		dst = append(dst, v[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, v[last:]...)
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

// Element is one child of a response <body/>.
type Element struct {
	Name xml.Name
	// Raw is the element as the connection manager sent it, with the
	// prefix declarations of the <body/> it uses carried onto it, so that
	// it parses on its own.
	Raw []byte
}

// Response is a decoded response <body/>.
type Response struct {
	Attrs    []xml.Attr
	Elements []Element
}

// Attr returns the value of the body attribute {space}local, or "".
func (r *Response) Attr(space, local string) string {
	for _, a := range r.Attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// ParseResponse decodes a response body: one <body/> in the httpbind
// namespace whose children are complete elements (XEP-0124 §6). It refuses
// character data directly in the body and undeclared prefixes (XEP-0206
// §2).
func ParseResponse(data []byte) (*Response, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var (
		r     Response
		decls []xml.Attr // prefix declarations on <body/>
		depth int
		start int64
		name  xml.Name
		seen  bool
	)
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("xmppwire: malformed response body: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if sp := t.Name.Space; sp != "" && bytes.HasPrefix(data[off+1:], []byte(sp+":")) {
				// encoding/xml leaves an undeclared prefix as the space.
				return nil, fmt.Errorf("xmppwire: response uses the undeclared prefix %q (XEP-0124 §6, XEP-0206 §2)", sp)
			}
			switch {
			case depth == 1 && seen:
				return nil, errors.New("xmppwire: response has more than one root element")
			case depth == 1:
				if t.Name.Space != NSHTTPBind || t.Name.Local != "body" {
					return nil, fmt.Errorf("xmppwire: response root is {%s}%s, not a BOSH <body/>", t.Name.Space, t.Name.Local)
				}
				seen = true
				r.Attrs = t.Copy().Attr
				for _, a := range t.Attr {
					if a.Name.Space == "xmlns" {
						decls = append(decls, a)
					}
				}
			case depth == 2:
				start, name = off, t.Name
			}
		case xml.EndElement:
			if depth == 2 {
				raw := data[start:d.InputOffset()]
				r.Elements = append(r.Elements, Element{Name: name, Raw: carryDecls(raw, decls)})
			}
			depth--
		case xml.CharData:
			if depth == 1 && len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("xmppwire: character data directly in <body/> (XEP-0124 §6)")
			}
		}
	}
	if !seen {
		return nil, errors.New("xmppwire: empty response")
	}
	return &r, nil
}

// carryDecls returns raw with the declarations of the prefixes it uses
// that were declared on the enclosing <body/> added to its start tag, as
// the connection manager does for requests.
func carryDecls(raw []byte, decls []xml.Attr) []byte {
	end := bytes.IndexAny(raw, " \t\r\n/>")
	if end < 0 {
		return bytes.Clone(raw)
	}
	tag := raw[:bytes.IndexByte(raw, '>')+1]
	var add []byte
	for _, a := range decls {
		p := a.Name.Local
		uses := bytes.Contains(raw, []byte("<"+p+":")) || bytes.Contains(raw, []byte(" "+p+":"))
		if !uses || bytes.Contains(tag, []byte("xmlns:"+p+"=")) {
			continue
		}
		add = append(add, " xmlns:"+p+"='"...)
		add = AppendEscaped(add, a.Value)
		add = append(add, '\'')
	}
	out := make([]byte, 0, len(raw)+len(add))
	out = append(out, raw[:end]...)
	out = append(out, add...)
	return append(out, raw[end:]...)
}

// Encode64 encodes SASL data, "=" for empty data (RFC 6120 §6.4.2).
func Encode64(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Decode64 decodes SASL data, ignoring whitespace; "=" is empty data.
func Decode64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if s == "" || s == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}
