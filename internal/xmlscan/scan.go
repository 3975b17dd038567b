package xmlscan

import "bytes"

var (
	cdataStart = []byte("<![CDATA[") // CDStart [19]
	cdataEnd   = []byte("]]>")       // CDEnd [21]
)

// scanner holds the state of one Parse call.
type scanner struct {
	data     []byte
	doc      *Doc
	*scratch // working storage kept in doc between calls
	maxDepth int
	maxAttrs int
	noText   bool // Limits.NoRootText
	pos      int  // index of the next byte to scan
}

// document scans document [1] as BOSH restricts it: an optional byte order
// mark and XML declaration, then exactly one element, with nothing but white
// space around it.
func (s *scanner) document() error {
	if err := s.prolog(); err != nil {
		return err
	}
	if err := s.root(); err != nil {
		return err
	}
	for len(s.frames) > 0 {
		if err := s.content(); err != nil {
			return err
		}
	}
	return s.epilog()
}

// content scans one item of content [43] of the innermost open element:
// character data, a CDATA section, a start tag or an end tag.
func (s *scanner) content() error {
	d, i := s.data, s.pos
	switch {
	case i >= len(d):
		return s.eof()
	case d[i] != '<' && len(s.frames) == 1:
		return s.rootText()
	case d[i] != '<':
		return s.charData()
	case i+1 >= len(d):
		return s.eof()
	}
	switch d[i+1] {
	case '/':
		return s.endTag()
	case '!':
		if bytes.HasPrefix(d[i:], cdataStart) {
			return s.cdata()
		}
		return s.markup(i)
	case '?':
		return s.markup(i)
	default:
		return s.startTag()
	}
}

// rootText scans character data directly inside the root. With
// Limits.NoRootText, as XEP-0124 section 6 asks of <body/>, only the white
// space between the root's children is allowed: no text, no references.
func (s *scanner) rootText() error {
	i := skipSpace(s.data, s.pos)
	if i < len(s.data) && s.data[i] != '<' {
		if s.noText {
			return syntaxError(i, "character data directly inside the root element")
		}
		s.doc.RootText = true
	}
	s.pos = i
	return s.charData()
}

// charData scans CharData [14] and references up to the next '<'.
func (s *scanner) charData() error {
	d, i := s.data, s.pos
	for i < len(d) {
		c := d[i]
		if class[c]&cText != 0 {
			i++
			continue
		}
		var err error
		switch {
		case c == '<':
			s.pos = i
			return nil
		case c == '&':
			i, err = s.reference(i)
		case c == ']':
			if bytes.HasPrefix(d[i:], cdataEnd) {
				return syntaxError(i, "']]>' in character data")
			}
			i++
		case c >= 0x80:
			i, err = s.char(i)
		default:
			err = syntaxError(i, "control character in character data")
		}
		if err != nil {
			return err
		}
	}
	s.pos = i
	return nil
}

// cdata scans a CDSect [18]. Directly inside the root, with
// Limits.NoRootText, it may hold only white space.
func (s *scanner) cdata() error {
	d := s.data
	i := s.pos + len(cdataStart)
	k := bytes.Index(d[i:], cdataEnd)
	if k < 0 {
		return s.eof()
	}
	end := i + k
	if j := skipSpace(d[:end], i); j < end && len(s.frames) == 1 {
		if s.noText {
			return syntaxError(j, "character data directly inside the root element")
		}
		s.doc.RootText = true
	}
	if err := s.chars(i, end); err != nil {
		return err
	}
	s.pos = end + len(cdataEnd)
	return nil
}

// chars checks that d[i:end] is a sequence of Char [2].
func (s *scanner) chars(i, end int) error {
	d := s.data
	for i < end {
		c := d[i]
		switch {
		case c >= 0x80:
			n, msg := decodeChar(d[:end], i)
			if n == 0 {
				return syntaxError(i, msg)
			}
			i += n
		case c < 0x20 && !isSpace(c):
			return syntaxError(i, "control character in character data")
		default:
			i++
		}
	}
	return nil
}

// char checks the multi-byte character at s.data[i] and returns the index
// just past it.
func (s *scanner) char(i int) (int, error) {
	n, msg := decodeChar(s.data, i)
	if n == 0 {
		return 0, syntaxError(i, msg)
	}
	return i + n, nil
}

// reference checks the Reference [67] at s.data[i] and returns the index
// just past it.
func (s *scanner) reference(i int) (int, error) {
	next, _, st := parseRef(s.data, i)
	switch st {
	case refOK:
		return next, nil
	case refEOF:
		return 0, s.eof()
	case refUndefined:
		return 0, syntaxError(i, "reference to an entity other than lt, gt, amp, apos and quot")
	case refNotChar:
		return 0, syntaxError(i, "character reference to a character outside the XML Char range")
	default:
		return 0, syntaxError(i, "malformed reference")
	}
}

// markup reports the error for markup starting with "<!" or "<?" at i that
// is not a CDATA section inside an element.
func (s *scanner) markup(i int) error {
	rest := s.data[i:]
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		return syntaxError(i, "comments are not allowed")
	case bytes.HasPrefix(rest, []byte("<!DOCTYPE")):
		return syntaxError(i, "document type declarations are not allowed")
	case bytes.HasPrefix(rest, cdataStart):
		return syntaxError(i, "CDATA section outside the root element")
	case bytes.HasPrefix(cdataStart, rest):
		return s.eof()
	case rest[1] == '?':
		return syntaxError(i, "processing instructions are not allowed")
	default:
		return syntaxError(i, "markup declarations are not allowed")
	}
}

// eof reports input that ends before the document does.
func (s *scanner) eof() error {
	return syntaxError(len(s.data), "unexpected end of input")
}
