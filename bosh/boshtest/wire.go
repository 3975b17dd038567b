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

// element and response are the wire format's (internal/xmppwire).
type (
	element  = xmppwire.Element
	response = xmppwire.Response
)

func parseResponse(data []byte) (*response, error) { return xmppwire.ParseResponse(data) }

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
