package xmlscan

import "bytes"

var (
	bom      = []byte("\xEF\xBB\xBF") // U+FEFF encoded in UTF-8 (section 4.3.3, appendix F)
	declOpen = []byte("<?xml")
)

// xmlDeclNames lists the pseudo-attributes of XMLDecl [23] in the order the
// grammar requires them.
var xmlDeclNames = [...]string{"version", "encoding", "standalone"}

// prolog skips the optional byte order mark, XML declaration and white space
// before the root element. prolog [22] also allows comments, processing
// instructions and a document type declaration; BOSH forbids all three.
func (s *scanner) prolog() error {
	d := s.data
	i := 0
	if bytes.HasPrefix(d, bom) {
		i = len(bom)
	}
	if bytes.HasPrefix(d[i:], declOpen) && len(d) > i+len(declOpen) && isSpace(d[i+len(declOpen)]) {
		var err error
		if i, err = s.xmlDecl(i + len(declOpen)); err != nil {
			return err
		}
	}
	s.pos = skipSpace(d, i)
	return nil
}

// xmlDecl scans the rest of an XMLDecl [23] from i, just past "<?xml":
// VersionInfo [24] EncodingDecl [80]? SDDecl [32]? S? '?>'. It returns the
// index just past "?>".
func (s *scanner) xmlDecl(i int) (int, error) {
	d := s.data
	next := 0 // index in xmlDeclNames of the first name still allowed
	for {
		j := skipSpace(d, i)
		if j+1 >= len(d) {
			return 0, s.eof()
		}
		if d[j] == '?' && d[j+1] == '>' {
			if next == 0 {
				return 0, syntaxError(j, "XML declaration without version")
			}
			return j + 2, nil
		}
		if j == i {
			return 0, syntaxError(j, "expected white space in XML declaration")
		}
		n, end, err := s.declName(j, next)
		if err != nil {
			return 0, err
		}
		if i, err = s.declValue(end, n); err != nil {
			return 0, err
		}
		next = n + 1
	}
}

// declName scans a pseudo-attribute name of the XML declaration at i and
// returns its index in xmlDeclNames and the index just past it. Names must
// come in grammar order, starting with version.
func (s *scanner) declName(i, next int) (n, end int, err error) {
	d := s.data
	end = i
	for end < len(d) && 'a' <= d[end] && d[end] <= 'z' {
		end++
	}
	for n = next; n < len(xmlDeclNames) && (n == 0 || next > 0); n++ {
		if string(d[i:end]) == xmlDeclNames[n] {
			return n, end, nil
		}
	}
	switch {
	case end >= len(d):
		return 0, 0, s.eof()
	case next == 0:
		return 0, 0, syntaxError(i, "XML declaration must begin with version")
	default:
		return 0, 0, syntaxError(i, "unexpected content in XML declaration")
	}
}

// declValue scans Eq [25] and the quoted value of pseudo-attribute n of the
// XML declaration from i, checks the value and returns the index just past
// the closing quote.
func (s *scanner) declValue(i, n int) (int, error) {
	d := s.data
	i = skipSpace(d, i)
	if i < len(d) && d[i] == '=' {
		i = skipSpace(d, i+1)
	} else if i < len(d) {
		return 0, syntaxError(i, "expected '=' in XML declaration")
	}
	if i >= len(d) {
		return 0, s.eof()
	}
	q := d[i]
	if q != '"' && q != '\'' {
		return 0, syntaxError(i, "XML declaration value must be quoted")
	}
	k := bytes.IndexByte(d[i+1:], q)
	if k < 0 {
		return 0, s.eof()
	}
	v := d[i+1 : i+1+k]
	var ok bool
	switch n {
	case 0:
		// VersionNum [26] is '1.' [0-9]+; only 1.0 is accepted, since
		// encoding/xml, which peers may use, accepts no other.
		ok = string(v) == "1.0"
	case 1:
		ok = isEncName(v)
	default:
		ok = string(v) == "yes" || string(v) == "no"
	}
	if !ok {
		return 0, syntaxError(i+1, "invalid "+xmlDeclNames[n]+" in XML declaration")
	}
	return i + 2 + k, nil
}

// isEncName reports whether v matches EncName [81]:
// [A-Za-z] ([A-Za-z0-9._] | '-')*.
func isEncName(v []byte) bool {
	if len(v) == 0 || class[v[0]]&cNameStart == 0 || v[0] == '_' {
		return false
	}
	for _, c := range v[1:] {
		if class[c]&cName == 0 {
			return false
		}
	}
	return true
}

// root scans the root element's start tag.
func (s *scanner) root() error {
	d, i := s.data, s.pos
	switch {
	case i >= len(d):
		return syntaxError(i, "missing root element")
	case d[i] != '<':
		return syntaxError(i, "expected the root element")
	case i+1 >= len(d):
		return s.eof()
	case d[i+1] == '!' || d[i+1] == '?':
		return s.markup(i)
	case d[i+1] == '/':
		return syntaxError(i, "end tag before the root element")
	}
	return s.startTag()
}

// epilog checks that only white space follows the root element (Misc [27]
// without comments and processing instructions).
func (s *scanner) epilog() error {
	d := s.data
	i := skipSpace(d, s.pos)
	switch {
	case i == len(d):
		return nil
	case d[i] == '<' && i+1 < len(d) && (d[i+1] == '!' || d[i+1] == '?'):
		return s.markup(i)
	default:
		return syntaxError(i, "content after the root element")
	}
}
