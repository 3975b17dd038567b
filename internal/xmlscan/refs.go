package xmlscan

import (
	"unicode"
	"unicode/utf8"
)

// Outcomes of parseRef.
const (
	refOK        = iota
	refEOF       // the input ends inside the reference
	refMalformed // not a Reference [67]
	refUndefined // an EntityRef [68] to an entity other than the predefined ones
	refNotChar   // a CharRef [66] to a character that is not a Char [2]
)

// parseRef parses the Reference [67] at d[i], which is '&'. It accepts a
// CharRef [66] to a Char [2] (WFC: Legal Character) or an EntityRef [68] to
// one of the five predefined entities of section 4.6: without a DTD no other
// entity is declared (WFC: Entity Declared), and none is ever expanded. It
// returns the index just past the reference and the character it stands for.
func parseRef(d []byte, i int) (next int, r rune, status int) {
	j := i + 1
	if j < len(d) && d[j] == '#' {
		return parseCharRef(d, j+1)
	}
	k := j
	for k < len(d) && class[d[k]]&cName != 0 {
		k++
	}
	switch {
	case k >= len(d):
		return 0, 0, refEOF
	case k == j || d[k] != ';':
		return 0, 0, refMalformed
	}
	switch string(d[j:k]) {
	case "lt":
		r = '<'
	case "gt":
		r = '>'
	case "amp":
		r = '&'
	case "apos":
		r = '\''
	case "quot":
		r = '"'
	default:
		return 0, 0, refUndefined
	}
	return k + 1, r, refOK
}

// parseCharRef parses the rest of a CharRef [66] from j, just past "&#":
// [0-9]+ ';' or 'x' [0-9a-fA-F]+ ';'.
func parseCharRef(d []byte, j int) (next int, r rune, status int) {
	base := rune(10)
	if j < len(d) && d[j] == 'x' {
		base = 16
		j++
	}
	start := j
	for ; j < len(d); j++ {
		v := digit(d[j], base)
		if v < 0 {
			break
		}
		if r <= unicode.MaxRune { // beyond it the value no longer matters, and must not overflow
			r = r*base + v
		}
	}
	switch {
	case j >= len(d):
		return 0, 0, refEOF
	case j == start || d[j] != ';':
		return 0, 0, refMalformed
	case !isChar(r):
		return 0, 0, refNotChar
	}
	return j + 1, r, refOK
}

// digit returns the value of c as a digit in base 10 or 16, or -1.
func digit(c byte, base rune) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case base == 16 && 'a' <= c && c <= 'f':
		return rune(c-'a') + 10
	case base == 16 && 'A' <= c && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

// unescape returns a normalized copy of raw, an attribute value that
// attValue accepted: references are replaced by the characters they stand
// for and each literal TAB, LF, CR or CR LF pair becomes one space
// (attribute-value normalization of section 3.3.3 for CDATA attributes,
// after the end-of-line handling of section 2.11).
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		switch c := raw[i]; c {
		case '&':
			next, r, st := parseRef(raw, i)
			if st != refOK { // not reached for checked values; keep the rest as it is
				return append(out, raw[i:]...)
			}
			out = utf8.AppendRune(out, r)
			i = next
		case '\r':
			out = append(out, ' ')
			i++
			if i < len(raw) && raw[i] == '\n' {
				i++
			}
		case '\t', '\n':
			out = append(out, ' ')
			i++
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}
