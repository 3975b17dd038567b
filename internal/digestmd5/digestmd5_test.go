package digestmd5

import (
	"crypto/md5"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example of RFC 2831 §4: user chris, password secret.
const (
	rfcChallenge = `realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`
	rfcResponse  = `charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth`
	rfcRspAuth   = `rspauth=ea40f60335c427b5527b84dbabcdfffd`
)

// The SASL data of XEP-0206 v1.2 (2008-10-29) Examples 5, 6 and 7, in the
// base64 the XEP shows. Each ends in a line feed. Examples 6 and 7 copy
// the response-value and the response-auth of RFC 2831 §4, so they do not
// check out for their own username, realm and digest-uri.
const (
	xepEx5 = "cmVhbG09InNvbWVyZWFsbSIsbm9uY2U9Ik9BNk1HOXRFUUdtMmhoIixxb3A9ImF1dGgiLGNoYXJzZXQ9dXRmLTgsYWxnb3JpdGhtPW1kNS1zZXNzCg=="
	xepEx6 = "dXNlcm5hbWU9InNvbWVub2RlIixyZWFsbT0ic29tZXJlYWxtIixub25jZT0iT0E2TUc5dEVRR20yaGgiLGNub25jZT0iT0E2TUhYaDZWcVRyUmsiLG5jPTAwMDAwMDAxLHFvcD1hdXRoLGRpZ2VzdC11cmk9InhtcHAvZXhhbXBsZS5jb20iLHJlc3BvbnNlPWQzODhkYWQ5MGQ0YmJkNzYwYTE1MjMyMWYyMTQzYWY3LGNoYXJzZXQ9dXRmLTgK"
	xepEx7 = "cnNwYXV0aD1lYTQwZjYwMzM1YzQyN2I1NTI3Yjg0ZGJhYmNkZmZmZAo="
)

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestRFC2831Example checks the arithmetic against RFC 2831 §4: the
// published response-value and response-auth for chris/secret.
func TestRFC2831Example(t *testing.T) {
	ch, err := ParseChallenge([]byte(rfcChallenge))
	require.NoError(t, err)
	assert.Equal(t, Challenge{Realms: []string{"elwood.innosoft.com"}, Nonce: "OA6MG9tEQGm2hh", QOP: []string{"auth"}, UTF8: true}, ch)

	r, err := ParseResponse([]byte(rfcResponse))
	require.NoError(t, err)
	assert.Equal(t, &Response{Username: "chris", Realm: "elwood.innosoft.com", HasRealm: true,
		Nonce: "OA6MG9tEQGm2hh", CNonce: "OA6MHXh6VqTrRk", NC: "00000001", QOP: "auth",
		DigestURI: "imap/elwood.innosoft.com", Response: "d388dad90d4bbd760a152321f2143af7", UTF8: true}, r)

	cred := Credential("chris", "elwood.innosoft.com", "secret")
	assert.Equal(t, "d388dad90d4bbd760a152321f2143af7", r.Value(cred), "response-value (§2.1.2.1)")
	assert.Equal(t, "ea40f60335c427b5527b84dbabcdfffd", r.ResponseAuth(cred), "response-auth (§2.1.3)")
	got, err := ParseResponseAuth([]byte(rfcRspAuth))
	require.NoError(t, err)
	assert.Equal(t, r.ResponseAuth(cred), got)
}

// TestXEP0206v12Examples reads the SASL data of XEP-0206 v1.2 Examples 5
// to 7, trailing line feeds included.
func TestXEP0206v12Examples(t *testing.T) {
	ch, err := ParseChallenge(b64(t, xepEx5))
	require.NoError(t, err)
	assert.Equal(t, Challenge{Realms: []string{"somerealm"}, Nonce: "OA6MG9tEQGm2hh", QOP: []string{"auth"}, UTF8: true}, ch)
	r, err := ParseResponse(b64(t, xepEx6))
	require.NoError(t, err)
	assert.Equal(t, "somenode", r.Username)
	assert.Equal(t, "xmpp/example.com", r.DigestURI)
	assert.True(t, r.UTF8)
	got, err := ParseResponseAuth(b64(t, xepEx7))
	require.NoError(t, err)
	assert.Equal(t, "ea40f60335c427b5527b84dbabcdfffd", got)
}

// TestParseResponse covers the grammar of RFC 2831 §2.1.2 and §7.1.
func TestParseResponse(t *testing.T) {
	const ok = `username="u",nonce="n",cnonce="c",nc=00000001,digest-uri="xmpp/example.com",response=0123456789abcdef0123456789ABCDEF`
	for _, tc := range []struct {
		name string
		in   string
		want *Response // nil: ErrSyntax
	}{
		{"minimal; qop defaults to auth (§2.1.2)", ok, &Response{Username: "u", Nonce: "n", CNonce: "c", NC: "00000001",
			QOP: "auth", DigestURI: "xmpp/example.com", Response: "0123456789abcdef0123456789abcdef"}},
		{"white space and empty elements (§7.1 #rule)", " , \r\n" + strings.ReplaceAll(ok, ",", " ,\t, ") + " ,\n",
			&Response{Username: "u", Nonce: "n", CNonce: "c", NC: "00000001", QOP: "auth", DigestURI: "xmpp/example.com",
				Response: "0123456789abcdef0123456789abcdef"}},
		{"quoted-pairs undone, tokens quoted (RFC 2616 §2.2)", `username="a\"b\\c",nonce=n,cnonce="c",nc="00000001",qop="auth",digest-uri="x",response="0123456789abcdef0123456789abcdef",authzid="",realm=""`,
			&Response{Username: `a"b\c`, Nonce: "n", CNonce: "c", NC: "00000001", QOP: "auth", DigestURI: "x",
				Response: "0123456789abcdef0123456789abcdef", HasAuthzID: true, HasRealm: true}},
		{"directive names are case-insensitive, auth-params ignored", strings.Replace(ok, "username", "UserName", 1) + `,x-foo="bar",maxbuf=65536,CHARSET=UTF-8`,
			&Response{Username: "u", Nonce: "n", CNonce: "c", NC: "00000001", QOP: "auth", DigestURI: "xmpp/example.com",
				Response: "0123456789abcdef0123456789abcdef", MaxBuf: "65536", UTF8: true}},
		{"cipher is kept as a flag", ok + ",cipher=rc4", &Response{Username: "u", Nonce: "n", CNonce: "c", NC: "00000001",
			QOP: "auth", DigestURI: "xmpp/example.com", Response: "0123456789abcdef0123456789abcdef", HasCipher: true}},
		{"empty", "", nil},
		{"only commas", ",,,", nil},
		{"no username (required, §2.1.2)", strings.Replace(ok, `username="u",`, "", 1), nil},
		{"no nonce", strings.Replace(ok, `nonce="n",`, "", 1), nil},
		{"no cnonce", strings.Replace(ok, `cnonce="c",`, "", 1), nil},
		{"no nc", strings.Replace(ok, `nc=00000001,`, "", 1), nil},
		{"no digest-uri", strings.Replace(ok, `digest-uri="xmpp/example.com",`, "", 1), nil},
		{"no response", strings.Replace(ok, `,response=0123456789abcdef0123456789ABCDEF`, "", 1), nil},
		{"username twice (exactly once, §2.1.2)", ok + `,username="v"`, nil},
		{"realm twice (at most once)", ok + `,realm="a",realm="a"`, nil},
		{"nc not 8 hex digits", strings.Replace(ok, "00000001", "0000001", 1), nil},
		{"nc not hex", strings.Replace(ok, "00000001", "0000000g", 1), nil},
		{"response too short", strings.Replace(ok, "0123456789abcdef0123456789ABCDEF", "0123", 1), nil},
		{"charset other than utf-8 (§2.1.2)", ok + ",charset=iso-8859-1", nil},
		{"unterminated quoted string", `username="u`, nil},
		{"backslash at the end", `username="u\`, nil},
		{"control character in a quoted string", "username=\"u\x01\"," + ok[14:], nil},
		{"no '='", `username "u"`, nil},
		{"missing value", `username=,` + ok, nil},
		{"separator in a token", `nc=0000:001`, nil},
		{"junk after a value", `username="u"x,` + ok[12:], nil},
		{"NUL byte", "username=\x00", nil},
		{"too long (§2.1.2: 4096 bytes)", ok + `,x="` + strings.Repeat("a", 4096) + `"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseResponse([]byte(tc.in))
			if tc.want == nil {
				assert.ErrorIs(t, err, ErrSyntax)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			again, err := ParseResponse(got.Encode())
			require.NoError(t, err, "%s", got.Encode())
			assert.Equal(t, got, again, "Encode round trip")
		})
	}
}

// TestParseChallenge covers RFC 2831 §2.1.1 as a client reads it.
func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want *Challenge
	}{
		{"no realm and no qop (ejabberd's form; qop defaults to auth)", `nonce="abc",charset=utf-8,algorithm=md5-sess`,
			&Challenge{Nonce: "abc", QOP: []string{"auth"}, UTF8: true}},
		{"several realms, several qop-options", `realm="a",realm="b",nonce="n",qop="auth,auth-int",algorithm=md5-sess`,
			&Challenge{Realms: []string{"a", "b"}, Nonce: "n", QOP: []string{"auth", "auth-int"}}},
		{"no nonce", `realm="a",algorithm=md5-sess`, nil},
		{"no algorithm (required, §2.1.1)", `nonce="n"`, nil},
		{"algorithm md5", `nonce="n",algorithm=md5`, nil},
		{"nonce twice", `nonce="n",nonce="m",algorithm=md5-sess`, nil},
		{"charset other than utf-8", `nonce="n",algorithm=md5-sess,charset=latin1`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseChallenge([]byte(tc.in))
			if tc.want == nil {
				assert.ErrorIs(t, err, ErrSyntax)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, *tc.want, got)
			again, err := ParseChallenge(got.Encode())
			require.NoError(t, err)
			assert.Equal(t, got, again, "Encode round trip")
		})
	}
}

// TestChallengeEncode writes the challenge as XEP-0206 v1.2 Example 5
// shows it.
func TestChallengeEncode(t *testing.T) {
	c := Challenge{Realms: []string{"somerealm"}, Nonce: "OA6MG9tEQGm2hh", QOP: []string{"auth"}, UTF8: true}
	assert.Equal(t, strings.TrimSuffix(string(b64(t, xepEx5)), "\n"), string(c.Encode()))
}

// TestCredentialCharset checks §2.1.2.1: username and password are hashed
// in ISO 8859-1 when they can be, in UTF-8 otherwise; the realm as given.
func TestCredentialCharset(t *testing.T) {
	sum := func(parts ...string) []byte {
		s := md5.Sum([]byte(strings.Join(parts, ":")))
		return s[:]
	}
	assert.Equal(t, sum("chris", "elwood.innosoft.com", "secret"), Credential("chris", "elwood.innosoft.com", "secret"))
	assert.Equal(t, sum("j\xfcrgen", "example.com", "caf\xe9"), Credential("jürgen", "example.com", "café"), "ISO 8859-1 when possible")
	assert.Equal(t, sum("j\xfcrgen", "example.com", "пароль"), Credential("jürgen", "example.com", "пароль"), "each string on its own")
	assert.Equal(t, "jürgen", Latin1ToUTF8("j\xfcrgen"))

	assert.Equal(t, [][]byte{sum("chris", "r", "secret")}, CredentialForms("chris", "r", "secret"), "ASCII: one form")
	assert.Equal(t, [][]byte{sum("chris", "r", "caf\xe9"), sum("chris", "r", "café")}, CredentialForms("chris", "r", "café"),
		"ISO 8859-1 as the RFC asks, and UTF-8 as given")
	assert.Equal(t, [][]byte{sum("chris", "r", "пароль")}, CredentialForms("chris", "r", "пароль"), "no ISO 8859-1 form: one form")
}

// TestClient runs the client against the server side of this package.
func TestClient(t *testing.T) {
	c := &Client{Username: "juliet", Password: "r0m30", Domain: "example.com", CNonce: "cn"}
	first, err := c.Step(Challenge{Realms: []string{"example.com"}, Nonce: "abc", QOP: []string{"auth"}, UTF8: true}.Encode())
	require.NoError(t, err)
	r, err := ParseResponse(first)
	require.NoError(t, err)
	assert.Equal(t, "xmpp/example.com", r.DigestURI)
	assert.Equal(t, FirstNC, r.NC)
	cred := Credential("juliet", "example.com", "r0m30")
	assert.Equal(t, r.Value(cred), r.Response)

	t.Run("wrong rspauth", func(t *testing.T) {
		c2 := *c
		_, err := c2.Step([]byte("rspauth=" + strings.Repeat("0", 32)))
		assert.Error(t, err)
	})
	last, err := c.Step([]byte("rspauth=" + r.ResponseAuth(cred)))
	require.NoError(t, err)
	assert.Empty(t, last)
	_, err = c.Step(nil)
	assert.Error(t, err, "the exchange is over")

	t.Run("no realm offered: the domain", func(t *testing.T) {
		c := &Client{Username: "juliet", Password: "r0m30", Domain: "example.com"}
		out, err := c.Step([]byte(`nonce="n",qop="auth",charset=utf-8,algorithm=md5-sess`))
		require.NoError(t, err)
		r, err := ParseResponse(out)
		require.NoError(t, err)
		assert.Equal(t, "example.com", r.Realm)
		assert.NotEmpty(t, r.CNonce, "a random cnonce")
	})
	t.Run("qop=auth not offered", func(t *testing.T) {
		c := &Client{Username: "juliet", Password: "r0m30", Domain: "example.com"}
		_, err := c.Step([]byte(`nonce="n",qop="auth-conf",algorithm=md5-sess`))
		assert.Error(t, err)
	})
}
