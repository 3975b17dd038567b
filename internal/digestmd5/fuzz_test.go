package digestmd5

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

// FuzzParseResponse checks ParseResponse on arbitrary input: it never
// panics, refuses only with ErrSyntax, and what it accepts encodes to a
// response that parses back to the same values (decode, encode, decode is
// stable) and whose digests can be computed. Seeds: RFC 2831 §4 and
// XEP-0206 v1.2 Example 6, each also cut in two, and malformed variants;
// testdata/fuzz/FuzzParseResponse holds more.
func FuzzParseResponse(f *testing.F) {
	ex6, _ := base64.StdEncoding.DecodeString(xepEx6)
	for _, s := range []string{
		rfcResponse,
		string(ex6),
		`username="a\"b",realm="",nonce=n,cnonce="c",nc=00000001,qop="auth",digest-uri="x",response=0123456789abcdef0123456789ABCDEF,authzid="",cipher=rc4,maxbuf=1`,
		`username="u",username="u"`,
		`username="u`,
		",, ,\r\n",
	} {
		f.Add([]byte(s))
		f.Add([]byte(s[:len(s)/2]))
		f.Add([]byte(s[len(s)/2:]))
	}
	cred := Credential("chris", "elwood.innosoft.com", "secret")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseResponse(data)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			if r != nil {
				t.Fatalf("a Response with an error")
			}
			return
		}
		enc := r.Encode()
		again, err := ParseResponse(enc)
		if err != nil {
			t.Fatalf("the encoding of an accepted response is refused: %v\n%q\n%q", err, data, enc)
		}
		if *again != *r {
			t.Fatalf("decode, encode, decode changed the response:\n%+v\n%+v\n%q", r, again, enc)
		}
		if !bytes.Equal(again.Encode(), enc) {
			t.Fatalf("encode is not stable: %q, %q", enc, again.Encode())
		}
		if len(r.Value(cred)) != 32 || len(r.ResponseAuth(cred)) != 32 {
			t.Fatalf("digests are not 32 hex digits")
		}
	})
}
