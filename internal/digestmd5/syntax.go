package digestmd5

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is the error of every message that breaks RFC 2831's grammar
// (§7.1, and RFC 2616 §2.2 for tokens and quoted strings) or the rules of
// its directives (§2.1.1, §2.1.2): errors.Is(err, ErrSyntax) holds.
var ErrSyntax = errors.New("digestmd5: malformed message")

// syntaxError wraps ErrSyntax with what is wrong.
func syntaxError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, args...)...)
}

// maxMessage bounds a message: RFC 2831 §2.1.1 and §2.1.2 limit the
// challenge to 2048 bytes and the response to 4096.
const maxMessage = 4096

// directive is one name=value pair of a message (RFC 2831 §7.1).
type directive struct {
	name   string // lowercased token
	value  string // the token, or the quoted string without quotes and quoting backslashes
	quoted bool
}

// parseDirectives reads a comma-separated list of name=value directives:
// the "#rule" of RFC 2831 §7.1, with empty elements and linear white space
// (SP, HT, CR, LF) around the commas and the '=' allowed. A value is a
// token or a quoted-string whose quoted-pairs are undone; control
// characters other than white space are refused.
func parseDirectives(data []byte) ([]directive, error) {
	if len(data) > maxMessage {
		return nil, syntaxError("longer than %d bytes", maxMessage)
	}
	var out []directive
	p := data
	for {
		p = skipLWSAndCommas(p)
		if len(p) == 0 {
			return out, nil
		}
		var d directive
		var err error
		if d.name, p, err = readToken(p); err != nil {
			return nil, err
		}
		d.name = strings.ToLower(d.name)
		p = skipLWS(p)
		if len(p) == 0 || p[0] != '=' {
			return nil, syntaxError("no '=' after %q", d.name)
		}
		p = skipLWS(p[1:])
		if len(p) > 0 && p[0] == '"' {
			d.quoted = true
			d.value, p, err = readQuoted(p)
		} else {
			d.value, p, err = readToken(p)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
		p = skipLWS(p)
		if len(p) > 0 && p[0] != ',' {
			return nil, syntaxError("%q after the value of %q", p[0], d.name)
		}
	}
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipLWS(p []byte) []byte {
	for len(p) > 0 && isLWS(p[0]) {
		p = p[1:]
	}
	return p
}

func skipLWSAndCommas(p []byte) []byte {
	for len(p) > 0 && (isLWS(p[0]) || p[0] == ',') {
		p = p[1:]
	}
	return p
}

// isTokenChar reports whether c may appear in a token: a CHAR that is
// neither a control nor a separator (RFC 2616 §2.2).
func isTokenChar(c byte) bool {
	if c <= 32 || c >= 127 {
		return false
	}
	return !strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c))
}

// readToken reads a non-empty token.
func readToken(p []byte) (string, []byte, error) {
	i := 0
	for i < len(p) && isTokenChar(p[i]) {
		i++
	}
	if i == 0 {
		if len(p) == 0 {
			return "", nil, syntaxError("a token is missing at the end")
		}
		return "", nil, syntaxError("%q where a token was expected", p[0])
	}
	return string(p[:i]), p[i:], nil
}

// readQuoted reads a quoted-string starting at p[0] == '"' and returns its
// value with the quoted-pairs undone.
func readQuoted(p []byte) (string, []byte, error) {
	var b strings.Builder
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"':
			return b.String(), p[i+1:], nil
		case c == '\\':
			if i+1 == len(p) {
				return "", nil, syntaxError("a quoted string ends in a backslash")
			}
			i++
			b.WriteByte(p[i])
		case (c < 32 && !isLWS(c)) || c == 127:
			return "", nil, syntaxError("control character %#x in a quoted string", c)
		default:
			b.WriteByte(c)
		}
	}
	return "", nil, syntaxError("an unterminated quoted string")
}

// quote writes v as a quoted-string, escaping '"' and '\' (RFC 2616 §2.2).
func quote(b *bytes.Buffer, v string) {
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// isHex reports whether s is n hexadecimal digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
