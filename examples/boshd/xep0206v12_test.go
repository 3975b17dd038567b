package main

import (
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/digestmd5"
	"github.com/httpbind/httpbind/internal/ejabberdtest"
)

// The replay of XEP-0206 v1.2 (2008-10-29), Examples 1–13, against boshd
// over real HTTP: the walk-through this project was built from, which
// logs in with SASL DIGEST-MD5 (Examples 4–9; v1.3 and v1.4 show
// SCRAM-SHA-1 there, and xep0206_test.go replays v1.4). Each request body
// is written out as in the XEP, with the XEP's rids; the base64 goes
// without the XEP's line breaks (RFC 6120 §6.4.2). The client computes
// its DIGEST-MD5 response as a real client does (internal/digestmd5: a
// random cnonce, the server's nonce and realm, digest-uri
// "xmpp/jabber.org") and checks the server's rspauth.
//
// It runs against boshd's in-memory core with -sasl-digest-md5, and
// against boshd relaying to a real ejabberd (-upstream), which offers
// DIGEST-MD5 itself: the TCP upstream relays that mechanism as any other.

const (
	v12Domain   = "jabber.org" // Examples 1, 10 and 13
	v12User     = "stpeter"    // Example 13's JID
	v12Password = "pencil"
)

func TestXEP0206v12Examples1To13DigestMD5(t *testing.T) {
	t.Run("in-memory core", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "users")
		require.NoError(t, os.WriteFile(file, []byte(v12User+":"+v12Password+"\n"), 0o600))
		replayXEP0206v12(t, start(t, "-users", file, "-domain", v12Domain, "-sasl-digest-md5", "-max-wait", "60s").url, true)
	})
	t.Run("TCP upstream to ejabberd", func(t *testing.T) {
		ej := ejabberdtest.Start(t, ejabberdtest.Config{Domain: v12Domain})
		ej.Register(v12User, v12Password)
		replayXEP0206v12(t, start(t, "-upstream", "tcp://"+ej.C2SAddr, "-domain", v12Domain, "-max-wait", "60s").url, false)
	})
}

// saslData returns the decoded content of a SASL element.
func saslData(t *testing.T, n *node) []byte {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Text), ""))
	require.NoError(t, err)
	return data
}

func replayXEP0206v12(t *testing.T, url string, memcore bool) {
	rid := 1573741820 // the XEP's own
	var sid string

	// Examples 1 and 2 (XEP-0206 §3, §4), Example 1 as written in v1.2:
	// no 'ver' (a legacy session for error reporting only, XEP-0124
	// §17.1) and secure='true'.
	ok := t.Run("Ex. 1-2 session creation with DIGEST-MD5 among the mechanisms", func(t *testing.T) {
		body := exchange(t, url, fmt.Sprintf(`<body content='text/xml; charset=utf-8'
      hold='1'
      rid='%d'
      to='jabber.org'
      route='xmpp:jabber.org:9999'
      secure='true'
      wait='60'
      xml:lang='en'
      xmpp:version='1.0'
      xmlns='http://jabber.org/protocol/httpbind'
      xmlns:xmpp='urn:xmpp:xbosh'/>`, rid))
		sid, _ = body.attr("", "sid")
		require.NotEmpty(t, sid, "sid (XEP-0124 §7.2)")
		for _, a := range []struct{ local, want string }{{"wait", "60"}, {"requests", "2"}, {"hold", "1"}} {
			v, _ := body.attr("", a.local)
			assert.Equal(t, a.want, v, a.local)
		}
		v, _ := body.attr(nsXBOSH, "version")
		assert.Equal(t, "1.0", v, "xmpp:version")
		v, _ = body.attr("", "authid")
		assert.NotEmpty(t, v, "authid, the stream id")
		declaresStream(t, body)
		require.Len(t, body.Nodes, 1, "one <stream:features/>")
		features := body.child(nsStream, "features")
		require.NotNil(t, features, "features in the creation response: Ex. 3 (a later response with them) does not arise")
		mechs := mechanisms(features)
		d, p := slices.Index(mechs, "DIGEST-MD5"), slices.Index(mechs, "PLAIN")
		require.True(t, d >= 0 && p > d, "DIGEST-MD5, then PLAIN, as in Ex. 2: %v", mechs)
	})
	if !ok {
		return
	}

	// Examples 4 to 9 (XEP-0206 §5): DIGEST-MD5 (RFC 2831).
	ok = t.Run("Ex. 4-9 SASL DIGEST-MD5 ending in <success/>", func(t *testing.T) {
		client := &digestmd5.Client{Username: v12User, Password: v12Password, Domain: v12Domain}
		rid++
		body := exchange(t, url, fmt.Sprintf(`<body rid='%d'
      sid='%s'
      xmlns='http://jabber.org/protocol/httpbind'>
  <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>
</body>`, rid, sid))
		require.Len(t, body.Nodes, 1, "one SASL element")
		ch := body.child(nsSASL, "challenge")
		require.NotNil(t, ch, "Ex. 5: <challenge/> in %+v", body)
		data := saslData(t, ch)
		c, err := digestmd5.ParseChallenge(data)
		require.NoError(t, err, "Ex. 5: %q", data)
		assert.Contains(t, c.QOP, "auth", "qop=\"auth\"")
		assert.True(t, c.UTF8, "charset=utf-8")
		assert.NotEmpty(t, c.Nonce)
		if memcore || len(c.Realms) > 0 {
			assert.Equal(t, []string{v12Domain}, c.Realms, "realm = the domain")
		}
		resp, err := client.Step(data)
		require.NoError(t, err)

		// Example 6: the client's digest-response; Example 7: rspauth.
		rid++
		body = exchange(t, url, fmt.Sprintf(`<body rid='%d'
      sid='%s'
      xmlns='http://jabber.org/protocol/httpbind'>
  <response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>
</body>`, rid, sid, base64.StdEncoding.EncodeToString(resp)))
		require.Len(t, body.Nodes, 1, "one SASL element")
		ch = body.child(nsSASL, "challenge")
		require.NotNil(t, ch, "Ex. 7: <challenge/> with rspauth in %+v", body)
		last, err := client.Step(saslData(t, ch))
		require.NoError(t, err, "the server's rspauth (RFC 2831 §2.1.3)")
		require.Empty(t, last)

		// Example 8: the empty response; Example 9: success.
		rid++
		body = exchange(t, url, fmt.Sprintf(`<body rid='%d'
      sid='%s'
      xmlns='http://jabber.org/protocol/httpbind'>
  <response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>
</body>`, rid, sid))
		require.Len(t, body.Nodes, 1, "one SASL element")
		success := body.child(nsSASL, "success")
		require.NotNil(t, success, "Ex. 9: <success/> in %+v", body)
		assert.Empty(t, strings.TrimSpace(success.Text), "Ex. 9: an empty <success/>")
	})
	if !ok {
		return
	}

	// Examples 10 and 11 (XEP-0206 §5): the restart request and its result.
	ok = t.Run("Ex. 10-11 restart request and the new features", func(t *testing.T) {
		rid++
		replayRestart(t, url, sid, rid, v12Domain, "Ex. 11")
	})
	if !ok {
		return
	}

	// Examples 12 and 13 (XEP-0206 §5): resource binding.
	t.Run("Ex. 12-13 resource binding", func(t *testing.T) {
		rid++
		replayBind(t, url, sid, rid, "Ex. 13", "stpeter@jabber.org/httpclient")

		// The session ends at the client's request (XEP-0124 §13).
		rid++
		replayTerminate(t, url, sid, rid)
	})
}

// boshSession is a BOSH session opened on boshd for the login tests: its
// sid, its stream id (authid) and the next rid.
type boshSession struct {
	t      *testing.T
	client *http.Client
	url    string
	sid    string
	authid string
	rid    int
}

// openSession creates a session (XEP-0206 §3, §4) and returns it with
// the creation response.
func openSession(t *testing.T, client *http.Client, url string) (*boshSession, *node) {
	t.Helper()
	s := &boshSession{t: t, client: client, url: url, rid: 1000}
	body := exchangeWith(t, client, url, fmt.Sprintf(`<body content='text/xml; charset=utf-8' hold='1' rid='%d' to='localhost' `+
		`ver='1.11' wait='60' xml:lang='en' xmpp:version='1.0' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>`, s.rid))
	s.sid, _ = body.attr("", "sid")
	s.authid, _ = body.attr("", "authid")
	require.NotEmpty(t, s.sid)
	return s, body
}

// send posts payloads in the session's next request.
func (s *boshSession) send(payloads string) *node {
	s.t.Helper()
	s.rid++
	return exchangeWith(s.t, s.client, s.url, fmt.Sprintf(`<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'>%s</body>`,
		s.rid, s.sid, payloads))
}

// iqAuth sends a XEP-0078 set with the fields given as name, value pairs.
func (s *boshSession) iqAuth(fields ...string) *node {
	s.t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "<%s>%s</%s>", fields[i], fields[i+1], fields[i])
	}
	return s.send("<iq type='set' id='auth2' xmlns='jabber:client'><query xmlns='jabber:iq:auth'>" + b.String() + "</query></iq>")
}

// iqResult returns the type of the single iq in body and the condition of
// its error, if any.
func iqResult(t *testing.T, body *node) (typ, cond string) {
	t.Helper()
	require.Len(t, body.Nodes, 1, "%+v", body)
	iq := body.child(nsClient, "iq")
	require.NotNil(t, iq, "%+v", body)
	typ, _ = iq.attr("", "type")
	if e := iq.child(nsClient, "error"); e != nil && len(e.Nodes) > 0 {
		cond = e.Nodes[0].XMLName.Local
	}
	return typ, cond
}

// TestBoshdLoginsOffByDefault: without -sasl-digest-md5 and
// -non-sasl-auth, boshd offers neither DIGEST-MD5 nor the iq-auth feature,
// and accepts neither: invalid-mechanism (RFC 6120 §6.4.5) and
// service-unavailable (XEP-0078 §3).
func TestBoshdLoginsOffByDefault(t *testing.T) {
	d := start(t)
	s, body := openSession(t, http.DefaultClient, d.url)
	features := body.child(nsStream, "features")
	require.NotNil(t, features)
	assert.NotContains(t, mechanisms(features), "DIGEST-MD5")
	assert.Nil(t, features.child("http://jabber.org/features/iq-auth", "auth"))

	body = s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")
	failure := body.child(nsSASL, "failure")
	require.NotNil(t, failure, "%+v", body)
	assert.NotNil(t, failure.child(nsSASL, "invalid-mechanism"))

	digest := sha1.Sum([]byte(s.authid + d.accounts["alice"]))
	typ, cond := iqResult(t, s.iqAuth("username", "alice", "digest", hex.EncodeToString(digest[:]), "resource", "r"))
	assert.Equal(t, "error", typ)
	assert.Equal(t, "service-unavailable", cond)
}

// TestBoshdNonSASLAuth: with -non-sasl-auth only, boshd offers no SASL
// mechanism and the iq-auth feature (XEP-0078 §4); a digest login (the
// SHA-1 of 'authid' and the password) works over plain HTTP, where a
// plain-text password is refused (not-acceptable, XEP-0078 §7); over
// HTTPS the plain-text password works. Either login binds the resource
// and starts the session: the roster comes at once.
func TestBoshdNonSASLAuth(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	httpsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	for _, tc := range []struct {
		name     string
		args     []string
		client   *http.Client
		password bool
		want     string // the iq type
		cond     string
	}{
		{"digest over HTTP", nil, http.DefaultClient, false, "result", ""},
		{"plain-text password over HTTP", nil, http.DefaultClient, true, "error", "not-acceptable"},
		{"plain-text password over HTTPS", []string{"-tls-cert", certFile, "-tls-key", keyFile}, httpsClient, true, "result", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := start(t, append([]string{"-non-sasl-auth", "only"}, tc.args...)...)
			s, body := openSession(t, tc.client, d.url)
			features := body.child(nsStream, "features")
			require.NotNil(t, features)
			assert.Nil(t, features.child(nsSASL, "mechanisms"), "no SASL mechanism")
			assert.NotNil(t, features.child("http://jabber.org/features/iq-auth", "auth"))

			password := d.accounts["alice"]
			cred := []string{"digest", func() string { s := sha1.Sum([]byte(s.authid + password)); return hex.EncodeToString(s[:]) }()}
			if tc.password {
				cred = []string{"password", password}
			}
			typ, cond := iqResult(t, s.iqAuth(append(append([]string{"username", "alice"}, cred...), "resource", "globe")...))
			require.Equal(t, tc.want, typ)
			assert.Equal(t, tc.cond, cond)
			if typ != "result" {
				return
			}
			typ, _ = iqResult(t, s.send("<iq type='get' id='roster_1' xmlns='jabber:client'><query xmlns='jabber:iq:roster'/></iq>"))
			assert.Equal(t, "result", typ, "stanzas flow: bound and in session")
		})
	}
}

// TestBoshdDigestMD5BadInput: over real HTTP against the in-memory core
// (whose accounts keep the DIGEST-MD5 credential), each bad
// digest-response gets its SASL failure (RFC 6120 §6.5), the session
// lives on, and a correct login on it then succeeds.
func TestBoshdDigestMD5BadInput(t *testing.T) {
	d := start(t, "-sasl-digest-md5")
	password := d.accounts["alice"]
	auth := "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>"
	challenge := func(s *boshSession) digestmd5.Challenge {
		t.Helper()
		ch := s.send(auth).child(nsSASL, "challenge")
		require.NotNil(t, ch)
		c, err := digestmd5.ParseChallenge(saslData(t, ch))
		require.NoError(t, err)
		return c
	}
	// responseWith is what a client computes with password, after mod
	// changed what it sends.
	responseWith := func(c digestmd5.Challenge, password string, mod func(r *digestmd5.Response)) []byte {
		r := &digestmd5.Response{Username: "alice", Realm: c.Realms[0], HasRealm: true, Nonce: c.Nonce, CNonce: "cn",
			NC: digestmd5.FirstNC, QOP: digestmd5.QOPAuth, DigestURI: "xmpp/localhost", UTF8: true}
		if mod != nil {
			mod(r)
		}
		r.Response = r.Value(digestmd5.Credential(r.Username, r.Realm, password))
		return r.Encode()
	}
	response := func(c digestmd5.Challenge, mod func(r *digestmd5.Response)) []byte {
		return responseWith(c, password, mod)
	}
	for _, tc := range []struct {
		name string
		data func(s *boshSession, c digestmd5.Challenge) []byte
		want string
	}{
		{"malformed digest-response (RFC 2831 §2.1.2)", func(*boshSession, digestmd5.Challenge) []byte { return []byte(`username="alice",nonce`) }, "malformed-request"},
		{"wrong realm", func(_ *boshSession, c digestmd5.Challenge) []byte {
			return response(c, func(r *digestmd5.Response) { r.Realm = "example.com" })
		}, "not-authorized"},
		{"wrong digest-uri", func(_ *boshSession, c digestmd5.Challenge) []byte {
			return response(c, func(r *digestmd5.Response) { r.DigestURI = "xmpp/example.com" })
		}, "not-authorized"},
		{"reused nonce", func(_ *boshSession, _ digestmd5.Challenge) []byte {
			other, _ := openSession(t, http.DefaultClient, d.url)
			return response(challenge(other), nil)
		}, "not-authorized"},
		{"wrong nonce-count", func(_ *boshSession, c digestmd5.Challenge) []byte {
			return response(c, func(r *digestmd5.Response) { r.NC = "00000002" })
		}, "not-authorized"},
		{"wrong password", func(_ *boshSession, c digestmd5.Challenge) []byte {
			return responseWith(c, password+"x", nil)
		}, "not-authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openSession(t, http.DefaultClient, d.url)
			c := challenge(s)
			body := s.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(tc.data(s, c)) + "</response>")
			failure := body.child(nsSASL, "failure")
			require.NotNil(t, failure, "%+v", body)
			require.Len(t, failure.Nodes, 1)
			assert.Equal(t, tc.want, failure.Nodes[0].XMLName.Local)

			client := &digestmd5.Client{Username: "alice", Password: password, Domain: "localhost"}
			body = s.send(auth)
			for range 2 {
				ch := body.child(nsSASL, "challenge")
				require.NotNil(t, ch, "%+v", body)
				data, err := client.Step(saslData(t, ch))
				require.NoError(t, err)
				body = s.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(data) + "</response>")
			}
			assert.NotNil(t, body.child(nsSASL, "success"), "a correct login afterwards: %+v", body)
		})
	}
}
