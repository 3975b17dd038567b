package xmlscan

import "unicode/utf8"

// Byte classes of the ASCII range, for the fast paths. Bytes of 0x80 and
// above belong to no class: their runes are decoded and checked one by one.
const (
	cNameStart = 1 << iota // NameStartChar [4] except ':', which QName [NS 7] treats apart
	cName                  // NameChar [4a] except ':'
	cSpace                 // S [3]
	cText                  // Char [2] that needs no second look in CharData [14]: not '<', '&', ']'
	cAttr                  // Char [2] that needs no second look in AttValue [10]: not '<', '&', quotes, TAB, LF, CR
)

// class holds the byte classes of every byte value.
var class = func() (t [256]uint8) {
	for c := 0; c < utf8.RuneSelf; c++ {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', c == '_':
			t[c] |= cNameStart | cName
		case '0' <= c && c <= '9', c == '-', c == '.':
			t[c] |= cName
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			t[c] |= cSpace
		}
		if c >= 0x20 || c == '\t' || c == '\n' || c == '\r' {
			if c != '<' && c != '&' && c != ']' {
				t[c] |= cText
			}
			if c >= 0x20 && c != '<' && c != '&' && c != '"' && c != '\'' {
				t[c] |= cAttr
			}
		}
	}
	return t
}()

// isSpace reports whether c is white space, S [3].
func isSpace(c byte) bool {
	return class[c]&cSpace != 0
}

// skipSpace returns the index of the first byte at or after i that is not
// white space.
func skipSpace(d []byte, i int) int {
	for i < len(d) && class[d[i]]&cSpace != 0 {
		i++
	}
	return i
}

// isChar reports whether r matches Char [2]:
// #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
func isChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == 0x9 || r == 0xA || r == 0xD
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	default:
		return r >= 0x10000 && r <= 0x10FFFF
	}
}

// isNameStartRune reports whether r matches NameStartChar [4], colon
// excluded, for r of 0x80 and above.
func isNameStartRune(r rune) bool {
	switch {
	case r < 0xC0:
		return false
	case r <= 0x2FF:
		return r != 0xD7 && r != 0xF7
	case r < 0x370:
		return false
	case r <= 0x1FFF:
		return r != 0x37E
	case r <= 0x200B:
		return false
	case r <= 0x200D:
		return true
	case r < 0x2070:
		return false
	case r <= 0x218F:
		return true
	case r < 0x2C00:
		return false
	case r <= 0x2FEF:
		return true
	case r < 0x3001:
		return false
	case r <= 0xD7FF:
		return true
	case r < 0xF900:
		return false
	case r <= 0xFDCF:
		return true
	case r < 0xFDF0:
		return false
	case r <= 0xFFFD:
		return true
	default:
		return r >= 0x10000 && r <= 0xEFFFF
	}
}

// isNameRune reports whether r matches NameChar [4a], colon excluded, for r
// of 0x80 and above: NameStartChar | #xB7 | [#x0300-#x036F] | [#x203F-#x2040].
func isNameRune(r rune) bool {
	return r == 0xB7 || 0x300 <= r && r <= 0x36F || r == 0x203F || r == 0x2040 || isNameStartRune(r)
}

// decodeChar decodes the multi-byte character at d[i] and returns its
// length, or a message saying why it is not a Char [2].
func decodeChar(d []byte, i int) (int, string) {
	r, n := utf8.DecodeRune(d[i:])
	if r == utf8.RuneError && n == 1 {
		return 0, "invalid UTF-8"
	}
	if !isChar(r) {
		return 0, "character outside the XML Char range"
	}
	return n, ""
}

// qname scans a QName [NS 7] starting at i and returns the index just past
// it and the index of its colon, or -1 when it has none. Each part must be an
// NCName [NS 4]: a Name [5] without colons, so there is at most one colon and
// neither part is empty.
func (s *scanner) qname(i int) (end, colon int, err error) {
	d := s.data
	colon = -1
	part := i // where the current NCName starts
	for i < len(d) {
		c := d[i]
		if c < utf8.RuneSelf {
			switch {
			case i == part && class[c]&cNameStart != 0, i > part && class[c]&cName != 0:
				i++
				continue
			case c == ':' && i > part && colon < 0:
				colon = i
				i++
				part = i
				continue
			case c == ':' && i > part:
				return 0, 0, syntaxError(i, "name has more than one colon")
			}
			break
		}
		r, n := utf8.DecodeRune(d[i:])
		if r == utf8.RuneError && n == 1 {
			return 0, 0, syntaxError(i, "invalid UTF-8 in name")
		}
		if i == part && !isNameStartRune(r) || i > part && !isNameRune(r) {
			break
		}
		i += n
	}
	switch {
	case i != part:
		return i, colon, nil
	case i >= len(d):
		return 0, 0, s.eof()
	case isNameCharAt(d, i):
		return 0, 0, syntaxError(i, "name or local part starts with a character that is not a NameStartChar")
	case colon >= 0:
		return 0, 0, syntaxError(i, "name has an empty local part")
	case d[i] == ':':
		return 0, 0, syntaxError(i, "name has an empty prefix")
	default:
		return 0, 0, syntaxError(i, "expected a name")
	}
}

// isNameCharAt reports whether d[i] starts a NameChar [4a] other than ':'.
func isNameCharAt(d []byte, i int) bool {
	if d[i] < utf8.RuneSelf {
		return class[d[i]]&cName != 0
	}
	r, _ := utf8.DecodeRune(d[i:])
	return isNameRune(r)
}
