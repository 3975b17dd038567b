package digestmd5

import (
	"bytes"
	"slices"
	"strings"
)

// The values this package speaks: RFC 2831 §2.1.1.
const (
	QOPAuth   = "auth"     // authentication only: no integrity or confidentiality layer
	Charset   = "utf-8"    // the only value the 'charset' directive may have
	Algorithm = "md5-sess" // the only value the 'algorithm' directive may have
	// FirstNC is the nonce-count of the first response to a nonce
	// (RFC 2831 §2.1.2); without subsequent authentication (§2.2) it is
	// the only valid one.
	FirstNC = "00000001"
)

// Challenge is a digest-challenge (RFC 2831 §2.1.1), as far as qop=auth
// needs it.
type Challenge struct {
	// Realms are the realms offered, in order; none when the server
	// leaves the choice to the client.
	Realms []string
	Nonce  string
	// QOP are the qop-options; ParseChallenge sets ["auth"] when the
	// directive is absent, its default.
	QOP []string
	// UTF8 is set by charset=utf-8: the client may then send its
	// username and password in UTF-8.
	UTF8 bool
}

// Encode writes the challenge as a server sends it, in the order of
// RFC 2831 §4 and XEP-0206 v1.2 Example 5: realm="…",nonce="…",
// qop="auth",charset=utf-8,algorithm=md5-sess.
func (c Challenge) Encode() []byte {
	var b bytes.Buffer
	for _, r := range c.Realms {
		b.WriteString("realm=")
		quote(&b, r)
		b.WriteByte(',')
	}
	b.WriteString("nonce=")
	quote(&b, c.Nonce)
	b.WriteString(",qop=")
	quote(&b, strings.Join(c.QOP, ","))
	if c.UTF8 {
		b.WriteString(",charset=" + Charset)
	}
	b.WriteString(",algorithm=" + Algorithm)
	return b.Bytes()
}

// ParseChallenge reads a digest-challenge. nonce and algorithm=md5-sess
// are required, exactly once (§2.1.1); charset, if present, must be
// utf-8; unknown directives are ignored (auth-param).
func ParseChallenge(data []byte) (Challenge, error) {
	ds, err := parseDirectives(data)
	if err != nil {
		return Challenge{}, err
	}
	var c Challenge
	seen := map[string]bool{}
	for _, d := range ds {
		if d.name != "realm" && seen[d.name] {
			switch d.name {
			case "nonce", "qop", "stale", "maxbuf", "charset", "algorithm", "cipher":
				return Challenge{}, syntaxError("%q more than once", d.name)
			}
		}
		seen[d.name] = true
		switch d.name {
		case "realm":
			c.Realms = append(c.Realms, d.value)
		case "nonce":
			c.Nonce = d.value
		case "qop":
			for q := range strings.SplitSeq(d.value, ",") {
				if q = strings.TrimSpace(q); q != "" {
					c.QOP = append(c.QOP, q)
				}
			}
		case "charset":
			if !strings.EqualFold(d.value, Charset) {
				return Challenge{}, syntaxError("charset %q", d.value)
			}
			c.UTF8 = true
		case "algorithm":
			if !strings.EqualFold(d.value, Algorithm) {
				return Challenge{}, syntaxError("algorithm %q", d.value)
			}
		}
	}
	switch {
	case !seen["nonce"]:
		return Challenge{}, syntaxError("no nonce")
	case !seen["algorithm"]:
		return Challenge{}, syntaxError("no algorithm")
	case !seen["qop"]:
		c.QOP = []string{QOPAuth}
	}
	return c, nil
}

// Response is a digest-response (RFC 2831 §2.1.2). The string fields hold
// the directives' values as sent (quoted strings unquoted); an absent
// directive is "" and, for the optional ones, marked by its Has field.
type Response struct {
	Username  string
	Realm     string
	HasRealm  bool
	Nonce     string
	CNonce    string
	NC        string // nonce-count: 8 hexadecimal digits
	QOP       string // "auth" when absent, its default
	DigestURI string // serv-type "/" host [ "/" serv-name ]
	Response  string // response-value: 32 hexadecimal digits
	// UTF8 is set by charset=utf-8: Username and the password are in
	// UTF-8; otherwise they are in ISO 8859-1.
	UTF8       bool
	AuthzID    string
	HasAuthzID bool
	HasCipher  bool   // a 'cipher' directive: only for qop=auth-conf
	MaxBuf     string // as sent; it matters only for auth-int and auth-conf
}

// responseOnce are the directives a response may carry at most once
// (RFC 2831 §2.1.2: "MUST be present exactly once" or "at most once").
var responseOnce = []string{"username", "realm", "nonce", "cnonce", "nc", "qop",
	"digest-uri", "response", "maxbuf", "charset", "cipher", "authzid"}

// ParseResponse reads a digest-response. username, nonce, cnonce, nc,
// digest-uri and response are required; each known directive may appear
// at most once; nc must be 8 hexadecimal digits and response 32; charset,
// if present, must be utf-8; unknown directives are ignored (auth-param).
// Every error wraps ErrSyntax. Whether the values are the right ones is
// for the caller to check.
func ParseResponse(data []byte) (*Response, error) {
	ds, err := parseDirectives(data)
	if err != nil {
		return nil, err
	}
	r := &Response{QOP: QOPAuth}
	seen := map[string]bool{}
	for _, d := range ds {
		if slices.Contains(responseOnce, d.name) {
			if seen[d.name] {
				return nil, syntaxError("%q more than once", d.name)
			}
			seen[d.name] = true
		}
		if err := r.set(d); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"username", "nonce", "cnonce", "nc", "digest-uri", "response"} {
		if !seen[name] {
			return nil, syntaxError("no %s", name)
		}
	}
	return r, nil
}

// set stores one directive of a response.
func (r *Response) set(d directive) error {
	switch d.name {
	case "username":
		r.Username = d.value
	case "realm":
		r.Realm, r.HasRealm = d.value, true
	case "nonce":
		r.Nonce = d.value
	case "cnonce":
		r.CNonce = d.value
	case "nc":
		if !isHex(d.value, 8) {
			return syntaxError("nc %q is not 8 hexadecimal digits", d.value)
		}
		r.NC = d.value
	case "qop":
		r.QOP = d.value
	case "digest-uri":
		r.DigestURI = d.value
	case "response":
		if !isHex(d.value, 32) {
			return syntaxError("response is not 32 hexadecimal digits")
		}
		r.Response = strings.ToLower(d.value)
	case "charset":
		if !strings.EqualFold(d.value, Charset) {
			return syntaxError("charset %q", d.value)
		}
		r.UTF8 = true
	case "authzid":
		r.AuthzID, r.HasAuthzID = d.value, true
	case "cipher":
		r.HasCipher = true
	case "maxbuf":
		r.MaxBuf = d.value
	}
	return nil
}

// Encode writes the response in the order of XEP-0206 v1.2 Example 6:
// username, realm, nonce, cnonce, nc, qop, digest-uri, response, charset,
// then authzid. Quoted-string values are quoted, tokens are not. A
// Response that ParseResponse returned encodes to a message that parses
// back to the same Response (the cipher directive, which the Response does
// not keep, is written as cipher=rc4 when HasCipher is set).
func (r *Response) Encode() []byte {
	var b bytes.Buffer
	b.WriteString("username=")
	quote(&b, r.Username)
	if r.HasRealm {
		b.WriteString(",realm=")
		quote(&b, r.Realm)
	}
	b.WriteString(",nonce=")
	quote(&b, r.Nonce)
	b.WriteString(",cnonce=")
	quote(&b, r.CNonce)
	b.WriteString(",nc=" + r.NC)
	b.WriteString(",qop=")
	writeToken(&b, r.QOP)
	b.WriteString(",digest-uri=")
	quote(&b, r.DigestURI)
	b.WriteString(",response=" + r.Response)
	if r.UTF8 {
		b.WriteString(",charset=" + Charset)
	}
	if r.HasAuthzID {
		b.WriteString(",authzid=")
		quote(&b, r.AuthzID)
	}
	if r.MaxBuf != "" {
		b.WriteString(",maxbuf=")
		writeToken(&b, r.MaxBuf)
	}
	if r.HasCipher {
		b.WriteString(",cipher=rc4")
	}
	return b.Bytes()
}

// writeToken writes v bare when it is a token, and quoted otherwise (a
// parser that took a quoted value for a token directive gets it back).
func writeToken(b *bytes.Buffer, v string) {
	for i := 0; i < len(v); i++ {
		if !isTokenChar(v[i]) {
			quote(b, v)
			return
		}
	}
	if v == "" {
		quote(b, v)
		return
	}
	b.WriteString(v)
}

// ParseResponseAuth reads the server's last challenge, "rspauth=" and 32
// hexadecimal digits (RFC 2831 §2.1.3), and returns the digits in lower
// case.
func ParseResponseAuth(data []byte) (string, error) {
	ds, err := parseDirectives(data)
	if err != nil {
		return "", err
	}
	if len(ds) != 1 || ds[0].name != "rspauth" || !isHex(ds[0].value, 32) {
		return "", syntaxError("not a response-auth")
	}
	return strings.ToLower(ds[0].value), nil
}
