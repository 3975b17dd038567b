package boshtest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/httpbind/httpbind/internal/xmppwire"
)

// Namespaces, from internal/xmppwire.
const (
	nsHTTPBind = xmppwire.NSHTTPBind
	nsXBOSH    = xmppwire.NSXBOSH
	nsStream   = xmppwire.NSStream
	nsSASL     = xmppwire.NSSASL
	nsBind     = xmppwire.NSBind
	nsSession  = xmppwire.NSSession
	nsClient   = xmppwire.NSClient
	nsXMLNS    = "xmlns"
)

// element is one child of a response <body/>.
type element struct {
	name xml.Name
	// raw is the element as the connection manager sent it, with the
	// prefix declarations of the <body/> it uses carried onto it, so that
	// it parses on its own.
	raw []byte
}

// response is a decoded response <body/>.
type response struct {
	attrs    []xml.Attr
	payloads []element
}

// attr returns the value of the body attribute {space}local, or "".
func (r *response) attr(space, local string) string {
	for _, a := range r.attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// parseResponse decodes a response body: one <body/> in the httpbind
// namespace whose children are complete elements (XEP-0124 §6).
func parseResponse(data []byte) (*response, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var (
		r     response
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
			return nil, fmt.Errorf("boshtest: malformed response body: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if sp := t.Name.Space; sp != "" && bytes.HasPrefix(data[off+1:], []byte(sp+":")) {
				// encoding/xml leaves an undeclared prefix as the space.
				return nil, fmt.Errorf("boshtest: response uses the undeclared prefix %q (XEP-0124 §6, XEP-0206 §2)", sp)
			}
			switch {
			case depth == 1 && seen:
				return nil, errors.New("boshtest: response has more than one root element")
			case depth == 1:
				if t.Name.Space != nsHTTPBind || t.Name.Local != "body" {
					return nil, fmt.Errorf("boshtest: response root is {%s}%s, not a BOSH <body/>", t.Name.Space, t.Name.Local)
				}
				seen = true
				r.attrs = t.Copy().Attr
				for _, a := range t.Attr {
					if a.Name.Space == nsXMLNS {
						decls = append(decls, a)
					}
				}
			case depth == 2:
				start, name = off, t.Name
			}
		case xml.EndElement:
			if depth == 2 {
				raw := data[start:d.InputOffset()]
				r.payloads = append(r.payloads, element{name: name, raw: carryDecls(raw, decls)})
			}
			depth--
		case xml.CharData:
			if depth == 1 && len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("boshtest: character data directly in <body/> (XEP-0124 §6)")
			}
		}
	}
	if !seen {
		return nil, errors.New("boshtest: empty response")
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
		add = appendEscaped(add, a.Value)
		add = append(add, '\'')
	}
	out := make([]byte, 0, len(raw)+len(add))
	out = append(out, raw[:end]...)
	out = append(out, add...)
	return append(out, raw[end:]...)
}

func appendEscaped(dst []byte, s string) []byte { return xmppwire.AppendEscaped(dst, s) }

func requestBody(rid uint64, sid, extra string, payloads [][]byte) []byte {
	return xmppwire.RequestBody(rid, sid, extra, payloads)
}

// checkElement reports whether stanza is exactly one well-formed element,
// so that a malformed stanza is an error of Send rather than a bad-request
// that ends the session.
func checkElement(stanza []byte) error {
	d := xml.NewDecoder(bytes.NewReader(stanza))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("boshtest: stanza is not well-formed: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return errors.New("boshtest: text outside the stanza")
			}
		case xml.ProcInst, xml.Directive, xml.Comment:
			return errors.New("boshtest: stanza holds a processing instruction, directive or comment (XEP-0124 §6)")
		}
	}
	if roots != 1 {
		return fmt.Errorf("boshtest: want one element, got %d", roots)
	}
	return nil
}
