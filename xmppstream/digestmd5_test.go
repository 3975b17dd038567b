package xmppstream

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/digestmd5"
)

// digestConfig offers DIGEST-MD5 beside PLAIN.
var digestConfig = ServerConfig{Mechanisms: []string{MechDigestMD5, MechPlain}}

// digestAuth is <auth mechanism='DIGEST-MD5'/> (XEP-0206 v1.2 Example 4).
const digestAuth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>"

// addDigest adds a user known only by the DIGEST-MD5 credential.
func (c *fakeCore) addDigest(user, password string) {
	c.users[user] = Credentials{DigestMD5: DigestMD5Credential(user, testDomain, password)}
}

// saslResponse is a <response/> carrying data.
func saslResponse(data []byte) string {
	return "<response xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString(data) + "</response>"
}

// digestChallenge sends Example 4 and reads the challenge (Example 5).
func digestChallenge(t *testing.T, s *session) digestmd5.Challenge {
	t.Helper()
	r := s.send("", digestAuth)
	el := r.child(nsSASL, "challenge")
	require.NotEmpty(t, el, r.raw)
	ch, err := digestmd5.ParseChallenge(saslText(t, el))
	require.NoError(t, err)
	return ch
}

// digestResponse is the response a client computes for password, after
// mod changed what it sends: the digest always matches what it claims.
func digestResponse(ch digestmd5.Challenge, user, password string, mod func(*digestmd5.Response)) []byte {
	r := &digestmd5.Response{Username: user, Realm: ch.Realms[0], HasRealm: true, Nonce: ch.Nonce, CNonce: "OA6MHXh6VqTrRk",
		NC: digestmd5.FirstNC, QOP: digestmd5.QOPAuth, DigestURI: "xmpp/" + testDomain, UTF8: true}
	if mod != nil {
		mod(r)
	}
	username := r.Username
	if !r.UTF8 {
		username = digestmd5.Latin1ToUTF8(username)
	}
	r.Response = r.Value(digestmd5.Credential(username, r.Realm, password))
	return r.Encode()
}

// TestDigestMD5Success runs XEP-0206 v1.2 Examples 4–9 against the
// server: the challenge (RFC 2831 §2.1.1) with the domain as realm, the
// client's response, rspauth in a second challenge (§2.1.3), an empty
// response, success; then restart and bind.
func TestDigestMD5Success(t *testing.T) {
	for _, tc := range []struct {
		name  string
		creds func(c *fakeCore)
		user  string
		mod   func(*digestmd5.Response)
	}{
		{name: "stored credential (RFC 2831 §2.1.2.1)", creds: func(c *fakeCore) { c.addDigest(testUser, testPass) }, user: testUser},
		{name: "password", user: testUser},
		{name: "password, username as the client wrote it", user: "JULIET"},
		{name: "authzid: the user's bare JID (RFC 6120 §6.3.8)", user: testUser,
			mod: func(r *digestmd5.Response) { r.AuthzID, r.HasAuthzID = "juliet@example.com", true }},
		{name: "no charset: ISO 8859-1 (RFC 2831 §2.1.2)", user: testUser, mod: func(r *digestmd5.Response) { r.UTF8 = false }},
		{name: "digest-uri with the domain as serv-name (RFC 2831 §2.1.2)", user: testUser,
			mod: func(r *digestmd5.Response) { r.DigestURI = "xmpp/xmpp1.example.com/example.com" }},
		{name: "digest-uri host in another case", user: testUser, mod: func(r *digestmd5.Response) { r.DigestURI = "xmpp/EXAMPLE.com" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, digestConfig)
			if tc.creds != nil {
				tc.creds(h.core)
			}
			s := h.open()
			ch := digestChallenge(t, s)
			assert.Equal(t, []string{testDomain}, ch.Realms, "realm = the domain")
			assert.Equal(t, []string{"auth"}, ch.QOP)
			assert.True(t, ch.UTF8, "charset=utf-8")

			resp := digestResponse(ch, tc.user, testPass, tc.mod)
			r := s.send("", saslResponse(resp))
			el := r.child(nsSASL, "challenge")
			require.NotEmpty(t, el, "Example 7: rspauth: %s", r.raw)
			sent, err := digestmd5.ParseResponse(resp)
			require.NoError(t, err)
			got, err := digestmd5.ParseResponseAuth(saslText(t, el))
			require.NoError(t, err)
			username := tc.user
			if !sent.UTF8 {
				username = digestmd5.Latin1ToUTF8(username)
			}
			assert.Equal(t, sent.ResponseAuth(digestmd5.Credential(username, testDomain, testPass)), got, "rspauth (RFC 2831 §2.1.3)")

			r = s.send("", "<response xmlns='"+nsSASL+"'/>")
			require.Equal(t, []string{"<success xmlns='" + nsSASL + "'/>"}, r.children, "Example 9")
			s.restart()
			r = s.bind("httpclient")
			assert.Contains(t, r.raw, "<jid>juliet@example.com/httpclient</jid>")
		})
	}
}

// TestDigestMD5Client logs in with the client of internal/digestmd5, as
// the replays do.
func TestDigestMD5Client(t *testing.T) {
	h := newHarness(t, digestConfig)
	h.core.addDigest(testUser, testPass)
	s := h.open()
	c := &digestmd5.Client{Username: testUser, Password: testPass, Domain: testDomain}
	r := s.send("", digestAuth)
	for range 2 {
		data, err := c.Step(saslText(t, r.child(nsSASL, "challenge")))
		require.NoError(t, err)
		r = s.send("", saslResponse(data))
	}
	assert.NotEmpty(t, r.child(nsSASL, "success"), r.raw)
}

// TestDigestMD5FreshNonce: every exchange gets a nonce of its own,
// unpredictable (crypto/rand).
func TestDigestMD5FreshNonce(t *testing.T) {
	h := newHarness(t, digestConfig)
	seen := map[string]bool{}
	for range 5 {
		ch := digestChallenge(t, h.open())
		assert.GreaterOrEqual(t, len(ch.Nonce), 16)
		assert.False(t, seen[ch.Nonce], "nonce %s repeated", ch.Nonce)
		seen[ch.Nonce] = true
	}
}

// TestDigestMD5Failures: every bad response gets its RFC 6120 §6.5
// failure, the stream stays open, and a later login succeeds.
func TestDigestMD5Failures(t *testing.T) {
	xepEx6, err := base64.StdEncoding.DecodeString("dXNlcm5hbWU9InNvbWVub2RlIixyZWFsbT0ic29tZXJlYWxtIixub25jZT0iT0E2TUc5dEVRR20yaGgiLGNub25jZT0iT0E2TUhYaDZWcVRyUmsiLG5jPTAwMDAwMDAxLHFvcD1hdXRoLGRpZ2VzdC11cmk9InhtcHAvZXhhbXBsZS5jb20iLHJlc3BvbnNlPWQzODhkYWQ5MGQ0YmJkNzYwYTE1MjMyMWYyMTQzYWY3LGNoYXJzZXQ9dXRmLTgK")
	require.NoError(t, err)
	type exch struct {
		h  *harness
		s  *session
		ch digestmd5.Challenge
	}
	respond := func(mod func(*digestmd5.Response)) func(x exch) []string {
		return func(x exch) []string {
			return []string{saslResponse(digestResponse(x.ch, testUser, testPass, mod))}
		}
	}
	raw := func(data string) func(x exch) []string {
		return func(exch) []string { return []string{saslResponse([]byte(data))} }
	}
	for _, tc := range []struct {
		name     string
		payloads func(x exch) []string
		want     string
	}{
		{"malformed digest-response (RFC 2831 §2.1.2)", raw(`username="juliet",nonce=`), "malformed-request"},
		{"digest-response without a response directive", raw(`username="juliet",realm="example.com",nonce="n",cnonce="c",nc=00000001,digest-uri="xmpp/example.com"`), "malformed-request"},
		{"directive twice", func(x exch) []string {
			return []string{saslResponse(append(digestResponse(x.ch, testUser, testPass, nil), `,nonce="x"`...))}
		}, "malformed-request"},
		{"qop=auth-int, not offered (RFC 2831 §2.1.2)", respond(func(r *digestmd5.Response) { r.QOP = "auth-int" }), "malformed-request"},
		{"a cipher without auth-conf", respond(func(r *digestmd5.Response) { r.HasCipher = true }), "malformed-request"},
		{"no realm, though one was offered", respond(func(r *digestmd5.Response) { r.HasRealm, r.Realm = false, "" }), "malformed-request"},
		{"username not UTF-8 under charset=utf-8", respond(func(r *digestmd5.Response) { r.Username = "juli\xffet" }), "malformed-request"},
		{"wrong realm", respond(func(r *digestmd5.Response) { r.Realm = "example.org" }), "not-authorized"},
		{"wrong digest-uri host (RFC 2831 §2.1.2)", respond(func(r *digestmd5.Response) { r.DigestURI = "xmpp/example.org" }), "not-authorized"},
		{"wrong digest-uri serv-type", respond(func(r *digestmd5.Response) { r.DigestURI = "imap/example.com" }), "not-authorized"},
		{"wrong digest-uri serv-name", respond(func(r *digestmd5.Response) { r.DigestURI = "xmpp/example.com/example.org" }), "not-authorized"},
		{"reused nonce: a response of an earlier exchange replayed", func(x exch) []string {
			old := x.h.open()
			first := digestResponse(digestChallenge(x.h.t, old), testUser, testPass, nil)
			return []string{saslResponse(first)}
		}, "not-authorized"},
		{"XEP-0206 v1.2 Example 6 replayed", raw(string(xepEx6)), "not-authorized"},
		{"made-up nonce", respond(func(r *digestmd5.Response) { r.Nonce = "OA6MG9tEQGm2hh" }), "not-authorized"},
		{"nonce-count 2 for a fresh nonce (RFC 2831 §2.1.2)", respond(func(r *digestmd5.Response) { r.NC = "00000002" }), "not-authorized"},
		{"wrong password", func(x exch) []string {
			return []string{saslResponse(digestResponse(x.ch, testUser, "nope", nil))}
		}, "not-authorized"},
		{"unknown user", func(x exch) []string {
			return []string{saslResponse(digestResponse(x.ch, "romeo", testPass, nil))}
		}, "not-authorized"},
		{"username that is not a localpart", func(x exch) []string {
			return []string{saslResponse(digestResponse(x.ch, "a@b", testPass, nil))}
		}, "not-authorized"},
		{"user without a usable credential", func(x exch) []string {
			x.h.core.addSalted("nurse", "n")
			return []string{saslResponse(digestResponse(x.ch, "nurse", "n", nil))}
		}, "not-authorized"},
		{"authzid of another user", respond(func(r *digestmd5.Response) { r.AuthzID, r.HasAuthzID = "romeo@example.com", true }), "invalid-authzid"},
		{"core failure", func(x exch) []string {
			x.h.core.credsErr = errors.New("database down")
			return []string{saslResponse(digestResponse(x.ch, testUser, testPass, nil))}
		}, "temporary-auth-failure"},
		{"data after rspauth instead of an empty response", func(x exch) []string {
			return []string{saslResponse(digestResponse(x.ch, testUser, testPass, nil)), saslResponse([]byte("x"))}
		}, "malformed-request"},
		{"aborted after rspauth (RFC 6120 §6.4.4)", func(x exch) []string {
			return []string{saslResponse(digestResponse(x.ch, testUser, testPass, nil)), "<abort xmlns='" + nsSASL + "'/>"}
		}, "aborted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, digestConfig)
			s := h.open()
			x := exch{h: h, s: s, ch: digestChallenge(t, s)}
			var r *reply
			for _, p := range tc.payloads(x) {
				r = s.send("", p)
			}
			require.Equal(t, []string{failureXML(tc.want)}, r.children, r.raw)
			_, term := r.terminated()
			require.False(t, term, r.raw)

			h.core.credsErr = nil
			r = s.authPlain(testUser, testPass)
			assert.NotEmpty(t, r.child(nsSASL, "success"), "another attempt succeeds: %s", r.raw)
		})
	}
}

// TestDigestMD5PasswordForms: for a password with characters of ISO
// 8859-1 beyond ASCII, a client may hash it in ISO 8859-1 (RFC 2831
// §2.1.2.1) or, skipping the conversion, in UTF-8. From the password the
// server accepts both; the stored credential is the RFC's form only.
func TestDigestMD5PasswordForms(t *testing.T) {
	const password = "caf\u00e9 cr\u00e8me"
	for _, tc := range []struct {
		name   string
		stored bool
		latin1 bool
		want   string // "" for success, or the failure
	}{
		{"password, ISO 8859-1 form", false, true, ""},
		{"password, UTF-8 form", false, false, ""},
		{"stored credential, ISO 8859-1 form", true, true, ""},
		{"stored credential, UTF-8 form", true, false, "not-authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, digestConfig)
			h.core.addPlain(testUser, password)
			if tc.stored {
				h.core.addDigest(testUser, password)
			}
			s := h.open()
			ch := digestChallenge(t, s)
			r := &digestmd5.Response{Username: testUser, Realm: testDomain, HasRealm: true, Nonce: ch.Nonce, CNonce: "c",
				NC: digestmd5.FirstNC, QOP: digestmd5.QOPAuth, DigestURI: "xmpp/" + testDomain, UTF8: true}
			forms := digestmd5.CredentialForms(testUser, testDomain, password)
			require.Len(t, forms, 2)
			cred := forms[1]
			if tc.latin1 {
				cred = forms[0]
			}
			r.Response = r.Value(cred)
			rep := s.send("", saslResponse(r.Encode()))
			if tc.want != "" {
				assert.Equal(t, []string{failureXML(tc.want)}, rep.children, rep.raw)
				return
			}
			el := rep.child(nsSASL, "challenge")
			require.NotEmpty(t, el, rep.raw)
			assert.Equal(t, "rspauth="+r.ResponseAuth(cred), string(saslText(t, el)), "rspauth of the form the client used")
		})
	}
}

// TestDigestMD5InitialResponse: DIGEST-MD5 is server-first (RFC 2831
// §2.1), so <auth/> with data is malformed-request (RFC 6120 §6.5.9); a
// zero-length initial response ("=", RFC 6120 §6.4.2), which StanzaJS
// sends, carries nothing and gets the challenge.
func TestDigestMD5InitialResponse(t *testing.T) {
	h := newHarness(t, digestConfig)
	s := h.open()
	r := s.send("", "<auth xmlns='"+nsSASL+"' mechanism='DIGEST-MD5'>"+base64.StdEncoding.EncodeToString([]byte(`username="juliet"`))+"</auth>")
	assert.Equal(t, []string{failureXML("malformed-request")}, r.children, r.raw)
	r = s.send("", "<auth xmlns='"+nsSASL+"' mechanism='DIGEST-MD5'>=</auth>")
	require.Len(t, r.children, 1, r.raw)
	assert.True(t, strings.HasPrefix(r.children[0], "<challenge xmlns='"+nsSASL+"'>"), r.raw)
}

// TestDigestMD5FailureLimit: the fifth failed attempt ends the stream
// with a not-authorized stream error, as for the other mechanisms (RFC
// 6120 §6.4.5).
func TestDigestMD5FailureLimit(t *testing.T) {
	h := newHarness(t, digestConfig)
	s := h.open()
	var r *reply
	for i := range MaxAuthFailures {
		ch := digestChallenge(t, s)
		r = s.send("", saslResponse(digestResponse(ch, testUser, "wrong"+strconv.Itoa(i), nil)))
		if i < MaxAuthFailures-1 {
			require.Equal(t, []string{failureXML("not-authorized")}, r.children, r.raw)
		}
	}
	requireStreamError(t, r, "not-authorized")
}

// TestDigestMD5Off: by default DIGEST-MD5 is neither offered nor
// accepted (invalid-mechanism, RFC 6120 §6.4.5).
func TestDigestMD5Off(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s, r := h.create(defaultCreate)
	features := r.child(nsStream, "features")
	require.NotEmpty(t, features, r.raw)
	assert.NotContains(t, features, "DIGEST-MD5")
	r = s.send("", digestAuth)
	assert.Equal(t, []string{failureXML("invalid-mechanism")}, r.children, r.raw)
}

// TestDigestMD5Offered: the mechanism is advertised where Mechanisms puts
// it, as in XEP-0206 v1.2 Example 2.
func TestDigestMD5Offered(t *testing.T) {
	h := newHarness(t, digestConfig)
	_, r := h.create(defaultCreate)
	assert.Equal(t, "<stream:features xmlns:stream='"+nsStream+"'><mechanisms xmlns='"+nsSASL+"'>"+
		"<mechanism>DIGEST-MD5</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
		r.child(nsStream, "features"))
}

// TestDigestMD5CredentialRFC2831 checks DigestMD5Credential against RFC
// 2831 §4 through the server's own check: with the RFC's nonce, the RFC's
// response (for imap/, so it is refused for its digest-uri) becomes valid
// once the digest-uri is this service's and the digest is recomputed.
func TestDigestMD5CredentialRFC2831(t *testing.T) {
	cred := DigestMD5Credential("chris", "elwood.innosoft.com", "secret")
	r, err := digestmd5.ParseResponse([]byte(`charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth`))
	require.NoError(t, err)
	assert.Equal(t, r.Response, r.Value(cred))

	d := &digestServer{domain: "elwood.innosoft.com", nonce: "OA6MG9tEQGm2hh",
		creds: func(username string) (Credentials, JID, saslCondition) {
			return Credentials{DigestMD5: cred}, JID{Local: username, Domain: "elwood.innosoft.com"}, ""
		}}
	_, err = d.verify(r.Encode())
	assert.Equal(t, saslCondition("not-authorized"), err, "imap/ is not this service")
	r.DigestURI = "xmpp/elwood.innosoft.com"
	r.Response = r.Value(cred)
	rspauth, err := d.verify(r.Encode())
	require.NoError(t, err)
	assert.Equal(t, r.ResponseAuth(cred), rspauth)
}
