package xmppstream

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// preAuthFeatures are the features of a new stream with the default
// mechanisms.
const preAuthFeatures = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
	"<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>" +
	"</mechanisms></stream:features>"

// TestCreationResponse: the creation response carries the
// XEP-0206 attributes, identified by namespace, and the SASL features
// with xmlns:stream declared on the <body/> (XEP-0206 §3, §4).
func TestCreationResponse(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	_, r := h.create(defaultCreate)
	require.NotEmpty(t, r.attrs["sid"], r.raw)

	v, ok := r.attr(nsXBOSH, "version")
	assert.True(t, ok && v == "1.0", "xmpp:version: %s", r.raw)
	v, ok = r.attr(nsXBOSH, "restartlogic")
	assert.True(t, ok && v == "true", "restartlogic: %s", r.raw)
	authid, _ := r.attr("", "authid")
	assert.Len(t, authid, 32, "authid: %s", r.raw)
	assert.NotEqual(t, r.attrs["sid"], authid)
	from, _ := r.attr("", "from")
	assert.Equal(t, testDomain, from, "from")
	assert.Equal(t, nsStream, r.decls["stream"], "xmlns:stream on <body/>: %s", r.raw)
	assert.Equal(t, []string{preAuthFeatures}, r.children)
	assert.NotContains(t, r.raw, "starttls", "no STARTTLS over BOSH (XEP-0206 §4)")
	assert.NotContains(t, r.raw, "compress", "no stream compression over BOSH")

	_, r2 := h.create(defaultCreate)
	authid2, _ := r2.attr("", "authid")
	assert.NotEqual(t, authid, authid2, "a fresh stream id per session")
}

// TestVersionAbsent: a creation request without xmpp:version is treated
// as version 1.0, its schema default: it gets the
// features and xmpp:version='1.0' all the same.
func TestVersionAbsent(t *testing.T) {
	for _, tc := range []struct{ name, attrs string }{
		{"xmpp:version='1.0'", defaultCreate},
		{"no xmpp:version", "to='example.com' xml:lang='en'"},
		{"version under another prefix", "to='example.com' xmlns:x='urn:xmpp:xbosh' x:version='1.0'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			_, r := h.create(tc.attrs)
			v, _ := r.attr(nsXBOSH, "version")
			assert.Equal(t, "1.0", v, r.raw)
			assert.Equal(t, []string{preAuthFeatures}, r.children)
		})
	}
}

// TestHostUnknown: a 'to' the server does not host ends the session with
// host-unknown (XEP-0124 §17.2); the domain is compared after preparation.
func TestHostUnknown(t *testing.T) {
	for _, tc := range []struct {
		name, to string
		want     string
	}{
		{"hosted", "example.com", ""},
		{"hosted, case and trailing dot (RFC 7622 §3.2)", "EXAMPLE.com.", ""},
		{"not hosted", "example.net", "host-unknown"},
		{"a JID, not a domain", "juliet@example.com", "host-unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			_, r := h.create("to='" + tc.to + "'")
			c, _ := r.terminated()
			assert.Equal(t, tc.want, c, r.raw)
		})
	}
}

// TestRestartByNamespace: a restart is {urn:xmpp:xbosh}restart set to
// "true" or "1", under any prefix; an un-namespaced 'restart' is not one
// (XEP-0206 §5).
func TestRestartByNamespace(t *testing.T) {
	for _, tc := range []struct {
		name, attrs string
		restart     bool
	}{
		{"xmpp:restart='true'", "xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'", true},
		{"xmpp:restart='1'", "xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='1'", true},
		{"prefix x", "xmlns:x='urn:xmpp:xbosh' x:restart='true'", true},
		{"xmpp:restart='false'", "xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='false'", false},
		{"un-namespaced restart", "restart='true'", false},
		{"restart in another namespace", "xmlns:xmpp='urn:example' xmpp:restart='true'", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{})
			s := h.open()
			r := s.authPlain(testUser, testPass)
			require.NotEmpty(t, r.child(nsSASL, "success"), r.raw)
			r = s.send("to='example.com' xml:lang='en' " + tc.attrs)
			_, term := r.terminated()
			require.False(t, term, r.raw)
			if !tc.restart {
				assert.Empty(t, r.children, "not a restart: an empty request: %s", r.raw)
				return
			}
			assert.Equal(t, nsStream, r.decls["stream"], r.raw)
			assert.Contains(t, r.child(nsStream, "features"), "<bind xmlns='"+nsBind+"'/>", r.raw)
		})
	}
}

// TestStanzaInRestartIgnored: stanzas inside a restart request are not
// delivered (XEP-0206 §5).
func TestStanzaInRestartIgnored(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.ready()
	r := s.send("xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'",
		"<message to='romeo@example.net' xmlns='jabber:client'><body>hi</body></message>")
	_, term := r.terminated()
	require.False(t, term, r.raw)
	assert.NotEmpty(t, r.child(nsStream, "features"), r.raw)
	assert.Empty(t, h.core.routes())

	r = s.send("", "<message to='romeo@example.net'><body>hi</body></message>")
	_, term = r.terminated()
	require.False(t, term, r.raw)
	assert.Len(t, h.core.routes(), 1, "the stream still works after the restart")
}

// TestPostAuthFeatures: after SASL success, a restart yields the bind
// and session features, with xmlns:stream on the <body/>; before it,
// nothing (XEP-0206 §5, RFC 6120 §4.3.1, §7.4, RFC 3921 §3).
func TestPostAuthFeatures(t *testing.T) {
	for _, tc := range []struct {
		name           string
		requireSession bool
		want           string
	}{
		{"session optional", false, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>" +
			"<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>"},
		{"session required", true, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>" +
			"<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ServerConfig{RequireSession: tc.requireSession})
			s := h.open()
			r := s.restart()
			assert.Empty(t, r.children, "a restart before SASL success: no new features (the creation response had them)")

			r = s.authPlain(testUser, testPass)
			require.NotEmpty(t, r.child(nsSASL, "success"), r.raw)
			r = s.restart()
			assert.Equal(t, []string{tc.want}, r.children)
			assert.Equal(t, nsStream, r.decls["stream"], "%s", r.raw)
		})
	}
}

// TestRestartDropsSASLExchange: a restart in the middle of an exchange
// abandons it; a <response/> afterwards has nothing to answer.
func TestRestartDropsSASLExchange(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.open()
	r := s.send("", "<auth xmlns='"+nsSASL+"' mechanism='PLAIN'/>")
	require.Equal(t, []string{"<challenge xmlns='" + nsSASL + "'/>"}, r.children)
	s.restart()
	r = s.send("", "<response xmlns='"+nsSASL+"'>"+plainResponse(testUser, testPass)+"</response>")
	assert.Equal(t, []string{"<failure xmlns='" + nsSASL + "'><malformed-request/></failure>"}, r.children)
}

func TestNewServerConfig(t *testing.T) {
	core := newFakeCore()
	for _, tc := range []struct {
		name string
		core Core
		cfg  ServerConfig
		ok   bool
	}{
		{"defaults", core, ServerConfig{Domains: []string{"example.com"}}, true},
		{"mechanisms by name, any case", core, ServerConfig{Domains: []string{"example.com"}, Mechanisms: []string{"plain", "SCRAM-SHA-1"}}, true},
		{"nil core", nil, ServerConfig{Domains: []string{"example.com"}}, false},
		{"no domains", core, ServerConfig{}, false},
		{"a JID as domain", core, ServerConfig{Domains: []string{"a@example.com"}}, false},
		{"empty domain", core, ServerConfig{Domains: []string{""}}, false},
		{"unsupported mechanism", core, ServerConfig{Domains: []string{"example.com"}, Mechanisms: []string{"CRAM-MD5"}}, false},
		{"DIGEST-MD5 when listed (RFC 2831)", core, ServerConfig{Domains: []string{"example.com"}, Mechanisms: []string{"digest-md5", "PLAIN"}}, true},
		{"non-SASL authentication beside SASL (XEP-0078)", core, ServerConfig{Domains: []string{"example.com"}, NonSASLAuth: NonSASLAuthWithSASL}, true},
		{"non-SASL authentication only", core, ServerConfig{Domains: []string{"example.com"}, NonSASLAuth: NonSASLAuthOnly}, true},
		{"non-SASL authentication only, with mechanisms", core, ServerConfig{Domains: []string{"example.com"}, NonSASLAuth: NonSASLAuthOnly, Mechanisms: []string{"PLAIN"}}, false},
		{"unknown non-SASL mode", core, ServerConfig{Domains: []string{"example.com"}, NonSASLAuth: 3}, false},
		{"-PLUS mechanism", core, ServerConfig{Domains: []string{"example.com"}, Mechanisms: []string{"SCRAM-SHA-1-PLUS"}}, false},
		{"mechanism twice", core, ServerConfig{Domains: []string{"example.com"}, Mechanisms: []string{"PLAIN", "PLAIN"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(tc.core, tc.cfg)
			if !tc.ok {
				assert.Error(t, err)
				assert.Nil(t, s)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, s)
		})
	}
}
