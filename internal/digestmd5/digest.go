package digestmd5

import (
	"crypto/md5"
	"encoding/hex"
)

// Credential returns H({ username, ":", realm, ":", password }), the
// first part of A1 (RFC 2831 §2.1.2.1): what a server may store instead
// of the password. username and password are UTF-8; each is hashed in
// ISO 8859-1 when all its characters have one, as §2.1.2.1 asks even under
// charset=utf-8 (so that such databases can be shared with HTTP Digest),
// and in UTF-8 otherwise. The realm is hashed as given.
func Credential(username, realm, password string) []byte {
	h := md5.New()
	h.Write(latin1IfPossible(username))
	h.Write([]byte(":" + realm + ":"))
	h.Write(latin1IfPossible(password))
	return h.Sum(nil)
}

// CredentialForms returns the credentials a client may have computed for
// username, realm and password: Credential's, as RFC 2831 §2.1.2.1 asks,
// and, when it differs (a username or password with characters of ISO
// 8859-1 beyond ASCII), the one over the UTF-8 bytes as given, which
// clients and servers that skip the conversion use (ejabberd 23.01 does).
func CredentialForms(username, realm, password string) [][]byte {
	rfc := Credential(username, realm, password)
	raw := md5.Sum([]byte(username + ":" + realm + ":" + password))
	if string(raw[:]) == string(rfc) {
		return [][]byte{rfc}
	}
	return [][]byte{rfc, raw[:]}
}

// latin1IfPossible returns s in ISO 8859-1 when every character of s is
// in it (U+0000 to U+00FF), and s's UTF-8 bytes otherwise.
func latin1IfPossible(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff { // also utf8.RuneError, for bytes that are not UTF-8
			return []byte(s)
		}
		out = append(out, byte(r))
	}
	return out
}

// Latin1ToUTF8 returns the ISO 8859-1 string s in UTF-8: a response
// without charset=utf-8 carries its username that way (RFC 2831 §2.1.2).
func Latin1ToUTF8(s string) string {
	out := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = rune(s[i])
	}
	return string(out)
}

// Value returns the response-value the response must carry for the
// credential cred (see Credential): RFC 2831 §2.1.2.1, with
// A2 = "AUTHENTICATE:" digest-uri for qop=auth.
func (r *Response) Value(cred []byte) string {
	return r.kd(cred, "AUTHENTICATE:")
}

// ResponseAuth returns the response-auth the server sends back once the
// response checked out (RFC 2831 §2.1.3): the same computation with
// A2 = ":" digest-uri.
func (r *Response) ResponseAuth(cred []byte) string {
	return r.kd(cred, ":")
}

// kd is HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))) with
// A1 = cred:nonce:cnonce[:authzid] and A2 = a2prefix digest-uri.
func (r *Response) kd(cred []byte, a2prefix string) string {
	a1 := md5.New()
	a1.Write(cred)
	a1.Write([]byte(":" + r.Nonce + ":" + r.CNonce))
	if r.HasAuthzID {
		a1.Write([]byte(":" + r.AuthzID))
	}
	a2 := md5.Sum([]byte(a2prefix + r.DigestURI))
	kd := md5.Sum([]byte(hex.EncodeToString(a1.Sum(nil)) + ":" + r.Nonce + ":" + r.NC + ":" +
		r.CNonce + ":" + r.QOP + ":" + hex.EncodeToString(a2[:])))
	return hex.EncodeToString(kd[:])
}
