package xmppstream

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"
)

func plainResponse(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
}

func failureXML(cond string) string {
	return "<failure xmlns='" + nsSASL + "'><" + cond + "/></failure>"
}

// saslText returns the decoded data of a <challenge/> or <success/>.
func saslText(t *testing.T, el string) []byte {
	t.Helper()
	_, data, _, cond := readSASL([]byte(el))
	require.Empty(t, cond, el)
	return data
}

// scramLogin runs a SCRAM exchange with a mellium.im/sasl client and
// returns the last reply and the client's verdict on it.
func scramLogin(t *testing.T, s *session, mech sasl.Mechanism, user, password, authz string) (*reply, error) {
	t.Helper()
	c := sasl.NewClient(mech, sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(password), []byte(authz)
	}))
	_, first, err := c.Step(nil)
	require.NoError(t, err)
	r := s.send("", "<auth xmlns='"+nsSASL+"' mechanism='"+mech.Name+"'>"+base64.StdEncoding.EncodeToString(first)+"</auth>")
	ch := r.child(nsSASL, "challenge")
	require.NotEmpty(t, ch, "a challenge even for an unknown user (RFC 5802 §5.1): %s", r.raw)
	_, final, err := c.Step(saslText(t, ch))
	require.NoError(t, err)
	r = s.send("", "<response xmlns='"+nsSASL+"'>"+base64.StdEncoding.EncodeToString(final)+"</response>")
	succ := r.child(nsSASL, "success")
	if succ == "" {
		return r, errors.New("no success")
	}
	_, _, err = c.Step(saslText(t, succ))
	return r, err
}

// TestSASLSuccess: PLAIN, SCRAM-SHA-1 and SCRAM-SHA-256 succeed against a
// password or salted credentials; SCRAM's <success/> carries the server
// signature the client verifies (RFC 6120 §6.4.6, RFC 5802 §3).
func TestSASLSuccess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mech   sasl.Mechanism
		salted bool
	}{
		{"PLAIN, password", sasl.Plain, false},
		{"PLAIN, salted only", sasl.Plain, true},
		{"SCRAM-SHA-1, password", sasl.ScramSha1, false},
		{"SCRAM-SHA-1, salted", sasl.ScramSha1, true},
		{"SCRAM-SHA-256, password", sasl.ScramSha256, false},
		{"SCRAM-SHA-256, salted", sasl.ScramSha256, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			if tc.salted {
				h.core.addSalted(testUser, testPass)
			}
			s := h.open()
			if tc.mech.Name == MechPlain {
				r := s.authPlain(testUser, testPass)
				require.Equal(t, []string{"<success xmlns='" + nsSASL + "'/>"}, r.children)
			} else {
				r, err := scramLogin(t, s, tc.mech, testUser, testPass, "")
				require.NoError(t, err, "the client verifies the server signature: %s", r.raw)
				require.Len(t, r.children, 1, r.raw)
				assert.Contains(t, string(saslText(t, r.children[0])), "v=")
			}
			r := s.restart()
			require.NotEmpty(t, r.child(nsStream, "features"), r.raw)
			r = s.bind("balcony")
			assert.Contains(t, r.raw, "<jid>juliet@example.com/balcony</jid>")
		})
	}
}

// TestSASLNoInitialResponse: an <auth/> without data gets an empty
// challenge, and the <response/> carries the initial response (RFC 6120
// §6.4.2); a username is prepared (RFC 7622 §3.3).
func TestSASLNoInitialResponse(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.open()
	r := s.send("", "<auth xmlns='"+nsSASL+"' mechanism='PLAIN'/>")
	require.Equal(t, []string{"<challenge xmlns='" + nsSASL + "'/>"}, r.children)
	r = s.send("", "<response xmlns='"+nsSASL+"'>"+plainResponse("JULIET", testPass)+"</response>")
	require.Equal(t, []string{"<success xmlns='" + nsSASL + "'/>"}, r.children)
	s.restart()
	r = s.bind("")
	assert.Contains(t, r.raw, "<jid>juliet@example.com/gen1</jid>")
}

// TestSASLFailures: each failure gets its RFC 6120 §6.4.5 condition, the
// stream stays open, and a later attempt can succeed.
func TestSASLFailures(t *testing.T) {
	auth := func(mech, data string) string {
		return "<auth xmlns='" + nsSASL + "' mechanism='" + mech + "'>" + data + "</auth>"
	}
	for _, tc := range []struct {
		name     string
		cfg      ServerConfig
		credsErr error
		payloads []string
		want     string
	}{
		{name: "wrong password", payloads: []string{plainAuth("", testUser, "nope")}, want: "not-authorized"},
		{name: "unknown user", payloads: []string{plainAuth("", "romeo", testPass)}, want: "not-authorized"},
		{name: "username that is not a localpart", payloads: []string{plainAuth("", "a@b", testPass)}, want: "not-authorized"},
		{name: "PLAIN without separators", payloads: []string{auth("PLAIN", base64.StdEncoding.EncodeToString([]byte("juliet")))}, want: "malformed-request"},
		{name: "zero-length initial response", payloads: []string{auth("PLAIN", "=")}, want: "malformed-request"},
		{name: "SCRAM garbage", payloads: []string{auth("SCRAM-SHA-1", base64.StdEncoding.EncodeToString([]byte("x,y")))}, want: "malformed-request"},
		{name: "child element in auth", payloads: []string{auth("PLAIN", "<x/>")}, want: "malformed-request"},
		{name: "bad base64", payloads: []string{auth("PLAIN", "!!!not base64")}, want: "incorrect-encoding"},
		{name: "bad base64 in response", payloads: []string{auth("PLAIN", ""), "<response xmlns='" + nsSASL + "'>%%%</response>"}, want: "incorrect-encoding"},
		{name: "response without auth", payloads: []string{"<response xmlns='" + nsSASL + "'>" + plainResponse(testUser, testPass) + "</response>"}, want: "malformed-request"},
		{name: "abort", payloads: []string{auth("PLAIN", ""), "<abort xmlns='" + nsSASL + "'/>"}, want: "aborted"},
		{name: "unknown mechanism", payloads: []string{auth("DIGEST-MD5", "")}, want: "invalid-mechanism"},
		{name: "mechanism not configured", cfg: ServerConfig{Mechanisms: []string{"SCRAM-SHA-256"}}, payloads: []string{plainAuth("", testUser, testPass)}, want: "invalid-mechanism"},
		{name: "PLAIN without TLS", cfg: ServerConfig{RequireSecurePlain: true}, payloads: []string{plainAuth("", testUser, testPass)}, want: "mechanism-too-weak"},
		{name: "authzid of another user", payloads: []string{plainAuth("romeo@example.com", testUser, testPass)}, want: "invalid-authzid"},
		{name: "core failure", credsErr: errors.New("database down"), payloads: []string{plainAuth("", testUser, testPass)}, want: "temporary-auth-failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			h.core.credsErr = tc.credsErr
			s := h.open()
			var r *reply
			for _, p := range tc.payloads {
				r = s.send("", p)
			}
			require.Equal(t, []string{failureXML(tc.want)}, r.children, r.raw)
			_, term := r.terminated()
			require.False(t, term, r.raw)

			h.core.credsErr = nil
			if tc.want == "mechanism-too-weak" || tc.want == "invalid-mechanism" {
				_, err := scramLogin(t, s, sasl.ScramSha256, testUser, testPass, "")
				assert.NoError(t, err, "another attempt succeeds")
				return
			}
			r = s.authPlain(testUser, testPass)
			assert.NotEmpty(t, r.child(nsSASL, "success"), "another attempt succeeds: %s", r.raw)
		})
	}
}

// TestSASLSCRAMFailures: SCRAM fails with not-authorized for a wrong
// password and for an unknown user alike, both only after the proof, and
// with invalid-authzid for another user's authzid.
func TestSASLSCRAMFailures(t *testing.T) {
	for _, tc := range []struct {
		name, user, password, authz string
		want                        string
	}{
		{"wrong password", testUser, "nope", "", "not-authorized"},
		{"unknown user", "romeo", testPass, "", "not-authorized"},
		{"authzid of another user", testUser, testPass, "romeo@example.com", "invalid-authzid"},
		{"own bare JID as authzid", testUser, testPass, "juliet@example.com", ""},
	} {
		for _, mech := range []sasl.Mechanism{sasl.ScramSha1, sasl.ScramSha256} {
			t.Run(tc.name+" "+mech.Name, func(t *testing.T) {
				h := newHarness(t, ServerConfig{})
				s := h.open()
				r, err := scramLogin(t, s, mech, tc.user, tc.password, tc.authz)
				if tc.want == "" {
					assert.NoError(t, err, r.raw)
					return
				}
				assert.Equal(t, []string{failureXML(tc.want)}, r.children, r.raw)
			})
		}
	}
}

// TestSASLUnknownUserStableSalt: an unknown user is shown the same salt on
// every attempt, as a real account is (RFC 5802 §5.1).
func TestSASLUnknownUserStableSalt(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	salt := func(user string) string {
		s := h.open()
		first := "n,,n=" + user + ",r=abcdefgh"
		r := s.send("", "<auth xmlns='"+nsSASL+"' mechanism='SCRAM-SHA-1'>"+base64.StdEncoding.EncodeToString([]byte(first))+"</auth>")
		ch := string(saslText(t, r.child(nsSASL, "challenge")))
		for _, f := range strings.Split(ch, ",") {
			if strings.HasPrefix(f, "s=") {
				return f
			}
		}
		t.Fatalf("no salt in %q", ch)
		return ""
	}
	assert.Equal(t, salt("romeo"), salt("romeo"), "unknown user")
	assert.Equal(t, salt(testUser), salt(testUser), "user with a plain password")
	assert.NotEqual(t, salt("romeo"), salt("mercutio"))
}

// TestSASLTooManyFailures: the fifth failure ends the stream with a
// not-authorized stream error (RFC 6120 §6.4.5); four do not.
func TestSASLTooManyFailures(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.open()
	for i := 1; i < MaxAuthFailures; i++ {
		r := s.authPlain(testUser, "nope")
		require.Equal(t, []string{failureXML("not-authorized")}, r.children, "attempt %d", i)
	}
	r := s.authPlain(testUser, "nope")
	requireStreamError(t, r, "not-authorized")
	assert.Equal(t, failureXML("not-authorized"), r.children[0], "the failure comes first")

	s = h.open()
	for i := 1; i < MaxAuthFailures; i++ {
		s.authPlain(testUser, "nope")
	}
	r = s.authPlain(testUser, testPass)
	assert.NotEmpty(t, r.child(nsSASL, "success"), r.raw)
}

// TestSASLAfterSuccess: SASL elements after authentication end the stream.
func TestSASLAfterSuccess(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.open()
	s.login()
	r := s.authPlain(testUser, testPass)
	requireStreamError(t, r, "unsupported-stanza-type")
}

// TestSecurePlainOffer: with RequireSecurePlain, PLAIN is not offered on a
// session without TLS.
func TestSecurePlainOffer(t *testing.T) {
	h := newHarness(t, ServerConfig{RequireSecurePlain: true})
	_, r := h.create(defaultCreate)
	f := r.child(nsStream, "features")
	assert.NotContains(t, f, "PLAIN")
	assert.Contains(t, f, "<mechanism>SCRAM-SHA-256</mechanism>")
}
