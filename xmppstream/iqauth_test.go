package xmppstream

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// xep0078Digest is the <digest/> of XEP-0078 §3: the lowercase hex SHA-1
// of the stream id and the password.
func xep0078Digest(streamID, password string) string {
	sum := sha1.Sum([]byte(streamID + password))
	return hex.EncodeToString(sum[:])
}

// iqAuthSet is a jabber:iq:auth set with the given fields, in order.
func iqAuthSet(fields ...string) string {
	var b strings.Builder
	b.WriteString("<iq type='set' id='auth2' xmlns='jabber:client'><query xmlns='jabber:iq:auth'>")
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString("<" + fields[i] + ">" + fields[i+1] + "</" + fields[i] + ">")
	}
	b.WriteString("</query></iq>")
	return b.String()
}

// iqAuthErr is the error answer XEP-0078 §3 shows, with its legacy code.
func iqAuthErr(code, typ, cond string) string {
	return "<iq type='error' id='auth2' xmlns='jabber:client'><error code='" + code + "' type='" + typ + "'><" + cond +
		" xmlns='" + nsStanzas + "'/></error></iq>"
}

const iqAuthResult = "<iq type='result' id='auth2' xmlns='jabber:client'/>"

// openNonSASL opens a session on a Server offering non-SASL
// authentication and returns it with its stream id (authid).
func openNonSASL(t *testing.T, h *harness) (*session, string) {
	t.Helper()
	s, r := h.create(defaultCreate)
	require.NotEmpty(t, s.sid, r.raw)
	id, ok := r.attr("", "authid")
	require.True(t, ok, r.raw)
	return s, id
}

// TestNonSASLFeatures: the iq-auth feature (XEP-0078 §4) is advertised
// only when configured, beside the mechanisms or alone; never after
// authentication.
func TestNonSASLFeatures(t *testing.T) {
	mechs := "<mechanisms xmlns='" + nsSASL + "'><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
	iqAuth := "<auth xmlns='http://jabber.org/features/iq-auth'/>"
	for _, tc := range []struct {
		name string
		mode NonSASLAuthMode
		want string
	}{
		{"off by default", NonSASLAuthOff, mechs},
		{"beside SASL (XEP-0078 §4 example)", NonSASLAuthWithSASL, mechs + iqAuth},
		{"alone: no <mechanisms/>", NonSASLAuthOnly, iqAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{NonSASLAuth: tc.mode})
			s, r := h.create(defaultCreate)
			assert.Equal(t, "<stream:features xmlns:stream='"+nsStream+"'>"+tc.want+"</stream:features>", r.child(nsStream, "features"))
			if tc.mode != NonSASLAuthOnly {
				s.login()
				r = s.restart()
				assert.NotContains(t, r.child(nsStream, "features"), "iq-auth")
			}
		})
	}
}

// TestNonSASLOff: with the option off, jabber:iq:auth is answered with
// service-unavailable (XEP-0078 §3) and the stream goes on.
func TestNonSASLOff(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s, id := openNonSASL(t, h)
	want := "<iq type='error' id='auth1' xmlns='jabber:client'><error code='503' type='cancel'><service-unavailable xmlns='" + nsStanzas + "'/></error></iq>"
	r := s.send("", "<iq type='get' id='auth1' to='example.com' xmlns='jabber:client'><query xmlns='jabber:iq:auth'/></iq>")
	assert.Equal(t, []string{want}, r.children)
	r = s.send("", strings.Replace(iqAuthSet("username", testUser, "digest", xep0078Digest(id, testPass), "resource", "globe"), "auth2", "auth1", 1))
	assert.Equal(t, []string{want}, r.children)
	assert.Empty(t, h.core.bound)
	r = s.authPlain(testUser, testPass)
	assert.NotEmpty(t, r.child(nsSASL, "success"), r.raw)
}

// TestNonSASLGetFields: the get returns the fields (XEP-0078 §3):
// <password/> only over TLS; the same answer for an unknown username.
func TestNonSASLGetFields(t *testing.T) {
	for _, secure := range []bool{false, true} {
		h := newHarness(t, ServerConfig{NonSASLAuth: NonSASLAuthWithSASL})
		h.secure = secure
		s, _ := openNonSASL(t, h)
		fields := "<username/><digest/><resource/>"
		if secure {
			fields = "<username/><password/><digest/><resource/>"
		}
		for _, user := range []string{testUser, "nobody"} {
			r := s.send("", "<iq type='get' to='example.com' id='auth1'><query xmlns='jabber:iq:auth'><username>"+user+"</username></query></iq>")
			assert.Equal(t, []string{"<iq type='result' id='auth1' xmlns='jabber:client'><query xmlns='jabber:iq:auth'>" + fields + "</query></iq>"}, r.children)
		}
	}
}

// TestNonSASLSuccess: a set with username, resource and digest (or
// password, over TLS) authenticates, binds the resource and establishes
// the session in one step: stanzas flow at once (XEP-0078 §3).
func TestNonSASLSuccess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   NonSASLAuthMode
		secure bool
		fields func(id string) []string
	}{
		{"digest (XEP-0078 §3)", NonSASLAuthWithSASL, false, func(id string) []string {
			return []string{"username", testUser, "digest", xep0078Digest(id, testPass), "resource", "globe"}
		}},
		{"digest in upper case, username to prepare", NonSASLAuthOnly, false, func(id string) []string {
			return []string{"username", "JULIET", "digest", strings.ToUpper(xep0078Digest(id, testPass)), "resource", "globe"}
		}},
		{"plain-text password over TLS", NonSASLAuthOnly, true, func(string) []string {
			return []string{"username", testUser, "password", testPass, "resource", "globe"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{NonSASLAuth: tc.mode})
			h.secure = tc.secure
			s, id := openNonSASL(t, h)
			r := s.send("", iqAuthSet(tc.fields(id)...))
			require.Equal(t, []string{iqAuthResult}, r.children)
			assert.Equal(t, []JID{{Local: testUser, Domain: testDomain, Resource: "globe"}}, h.core.bound)
			assert.Equal(t, 1, h.core.sessions, "the session is established (RFC 3921 §3)")

			r = s.send("", "<message to='romeo@example.net' xmlns='jabber:client'><body>hi</body></message>")
			_, term := r.terminated()
			require.False(t, term, r.raw)
			routed := h.core.routes()
			require.Len(t, routed, 1)
			assert.Equal(t, "juliet@example.com/globe", routed[0].From.String())

			r = s.bind("other")
			assert.Contains(t, r.raw, "<not-allowed ", "the resource is bound already")
		})
	}
}

// TestNonSASLFailures: each bad set gets the error XEP-0078 §3 gives it,
// with its legacy code, without the request echoed; nothing is bound, and
// a correct set then succeeds.
func TestNonSASLFailures(t *testing.T) {
	digest := func(id string) string { return xep0078Digest(id, testPass) }
	for _, tc := range []struct {
		name   string
		secure bool
		setup  func(h *harness)
		fields func(id string) []string
		want   string
	}{
		{name: "plain-text password without TLS (XEP-0078 §7)", fields: func(string) []string {
			return []string{"username", testUser, "password", testPass, "resource", "globe"}
		}, want: "<iq type='error' id='auth2' xmlns='jabber:client'><error code='406' type='modify'><not-acceptable xmlns='" + nsStanzas +
			"'/><text xmlns='" + nsStanzas + "'>a plain-text password needs a session over TLS; use digest</text></error></iq>"},
		{name: "digest with a wrong value", fields: func(id string) []string {
			return []string{"username", testUser, "digest", xep0078Digest(id, "nope"), "resource", "globe"}
		}, want: iqAuthErr("401", "auth", "not-authorized")},
		{name: "digest for another stream id", fields: func(string) []string {
			return []string{"username", testUser, "digest", xep0078Digest("3EE948B0", testPass), "resource", "globe"}
		}, want: iqAuthErr("401", "auth", "not-authorized")},
		{name: "wrong password over TLS", secure: true, fields: func(string) []string {
			return []string{"username", testUser, "password", "nope", "resource", "globe"}
		}, want: iqAuthErr("401", "auth", "not-authorized")},
		{name: "unknown user", fields: func(id string) []string {
			return []string{"username", "romeo", "digest", digest(id), "resource", "globe"}
		}, want: iqAuthErr("401", "auth", "not-authorized")},
		{name: "username that is not a localpart", fields: func(id string) []string {
			return []string{"username", "a@b", "digest", digest(id), "resource", "globe"}
		}, want: iqAuthErr("401", "auth", "not-authorized")},
		{name: "digest without a stored password", setup: func(h *harness) { h.core.addSalted(testUser, testPass) },
			fields: func(id string) []string {
				return []string{"username", testUser, "digest", digest(id), "resource", "globe"}
			}, want: iqAuthErr("401", "auth", "not-authorized")},
		{name: "no resource (XEP-0078 §3: required)", fields: func(id string) []string {
			return []string{"username", testUser, "digest", digest(id)}
		}, want: iqAuthErr("406", "modify", "not-acceptable")},
		{name: "empty resource", fields: func(id string) []string {
			return []string{"username", testUser, "digest", digest(id), "resource", ""}
		}, want: iqAuthErr("406", "modify", "not-acceptable")},
		{name: "no username", fields: func(id string) []string {
			return []string{"digest", digest(id), "resource", "globe"}
		}, want: iqAuthErr("406", "modify", "not-acceptable")},
		{name: "neither password nor digest", fields: func(string) []string {
			return []string{"username", testUser, "resource", "globe"}
		}, want: iqAuthErr("406", "modify", "not-acceptable")},
		{name: "both password and digest", secure: true, fields: func(id string) []string {
			return []string{"username", testUser, "password", testPass, "digest", digest(id), "resource", "globe"}
		}, want: iqAuthErr("406", "modify", "not-acceptable")},
		{name: "a field twice", fields: func(id string) []string {
			return []string{"username", testUser, "username", testUser, "digest", digest(id), "resource", "globe"}
		}, want: iqAuthErr("406", "modify", "not-acceptable")},
		{name: "an element inside a field", fields: func(id string) []string {
			return []string{"username", "<x/>", "digest", digest(id), "resource", "globe"}
		}, want: iqAuthErr("406", "modify", "not-acceptable")},
		{name: "resource that fails preparation (RFC 7622 §3.4)", fields: func(id string) []string {
			return []string{"username", testUser, "digest", digest(id), "resource", "globe\u0085"}
		}, want: iqAuthErr("406", "modify", "not-acceptable")},
		{name: "resource conflict, the core keeps the old client (XEP-0078 §3)", setup: func(h *harness) { h.core.conflicts["globe"] = true },
			fields: func(id string) []string {
				return []string{"username", testUser, "digest", digest(id), "resource", "globe"}
			}, want: iqAuthErr("409", "cancel", "conflict")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{NonSASLAuth: NonSASLAuthOnly})
			h.secure = tc.secure
			if tc.setup != nil {
				tc.setup(h)
			}
			s, id := openNonSASL(t, h)
			r := s.send("", iqAuthSet(tc.fields(id)...))
			require.Equal(t, []string{tc.want}, r.children)
			assert.NotContains(t, r.raw, "query", "the request is not echoed (XEP-0078 §3)")
			_, term := r.terminated()
			require.False(t, term, r.raw)
			assert.Zero(t, h.core.sessions)

			r = s.send("", "<message to='romeo@example.net'><body>hi</body></message>")
			requireStreamError(t, r, "not-authorized")
			assert.Empty(t, h.core.routes(), "nothing flows before authentication")
		})
	}
}

// TestNonSASLRetry: after a failure, a correct set on the same stream
// succeeds.
func TestNonSASLRetry(t *testing.T) {
	h := newHarness(t, ServerConfig{NonSASLAuth: NonSASLAuthOnly})
	s, id := openNonSASL(t, h)
	r := s.send("", iqAuthSet("username", testUser, "digest", xep0078Digest(id, "nope"), "resource", "globe"))
	require.Equal(t, []string{iqAuthErr("401", "auth", "not-authorized")}, r.children)
	r = s.send("", iqAuthSet("username", testUser, "digest", xep0078Digest(id, testPass), "resource", "globe"))
	assert.Equal(t, []string{iqAuthResult}, r.children)
}

// TestNonSASLFailureLimit: the fifth failure ends the stream with a
// not-authorized stream error, as for SASL (RFC 6120 §6.4.5).
func TestNonSASLFailureLimit(t *testing.T) {
	h := newHarness(t, ServerConfig{NonSASLAuth: NonSASLAuthOnly})
	s, id := openNonSASL(t, h)
	var r *reply
	for range MaxAuthFailures {
		r = s.send("", iqAuthSet("username", testUser, "digest", xep0078Digest(id, "nope"), "resource", "globe"))
	}
	requireStreamError(t, r, "not-authorized")
}

// TestNonSASLAfterSASLFailure: after a failed SASL attempt, jabber:iq:auth
// gets a policy-violation stream error (XEP-0078 §3, §7).
func TestNonSASLAfterSASLFailure(t *testing.T) {
	for _, typ := range []string{"get", "set"} {
		t.Run(typ, func(t *testing.T) {
			h := newHarness(t, ServerConfig{NonSASLAuth: NonSASLAuthWithSASL})
			s, id := openNonSASL(t, h)
			r := s.authPlain(testUser, "nope")
			require.Equal(t, []string{failureXML("not-authorized")}, r.children)
			req := iqAuthSet("username", testUser, "digest", xep0078Digest(id, testPass), "resource", "globe")
			if typ == "get" {
				req = "<iq type='get' id='auth1'><query xmlns='jabber:iq:auth'/></iq>"
			}
			requireStreamError(t, s.send("", req), "policy-violation")
		})
	}
}

// TestNonSASLSessionRefused: when the Core refuses the session, the set
// gets its error; the client is bound but stanzas wait for a session.
func TestNonSASLSessionRefused(t *testing.T) {
	h := newHarness(t, ServerConfig{NonSASLAuth: NonSASLAuthOnly})
	h.core.sessionErr = &StanzaError{Type: "auth", Condition: "forbidden"}
	s, id := openNonSASL(t, h)
	r := s.send("", iqAuthSet("username", testUser, "digest", xep0078Digest(id, testPass), "resource", "globe"))
	require.Equal(t, []string{iqAuthErr("403", "auth", "forbidden")}, r.children)

	h.core.sessionErr = nil
	r = s.send("", "<iq type='set' id='sess_1'><session xmlns='"+nsSession+"'/></iq>")
	require.Contains(t, r.raw, "type='result'", r.raw)
	r = s.send("", "<message to='romeo@example.net'><body>hi</body></message>")
	_, term := r.terminated()
	assert.False(t, term, r.raw)
	assert.Len(t, h.core.routes(), 1)
}

// TestXEP0078DigestExample checks the digest against XEP-0078 §3: stream
// id 3EE948B0 and password Calli0pe.
func TestXEP0078DigestExample(t *testing.T) {
	s := &stream{id: "3EE948B0"}
	assert.True(t, s.digestMatches(Credentials{Password: "Calli0pe"}, "48fc78be9ec8f86d8ce1c39c320c97c21d62334d"))
	assert.False(t, s.digestMatches(Credentials{Password: "Calli0pe"}, "48fc78be9ec8f86d8ce1c39c320c97c21d62334e"))
	assert.False(t, s.digestMatches(Credentials{}, xep0078Digest("3EE948B0", "")))
}
