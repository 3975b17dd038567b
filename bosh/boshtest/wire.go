package boshtest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

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
