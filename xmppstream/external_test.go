package xmppstream

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SASL EXTERNAL is a MAY; the Server does not offer it, not even to a
// session created over TLS (it has no access to HTTP-level credentials).
func TestNoExternalOverTLS(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	req := httptest.NewRequest(http.MethodPost, "/http-bind", strings.NewReader(
		"<body content='text/xml; charset=utf-8' hold='0' rid='1000' ver='1.6' wait='60' xmlns='"+nsHTTPBind+"' "+defaultCreate+"/>"))
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	r := parseReply(t, rec.Body.Bytes())
	features := r.child(nsStream, "features")
	require.NotEmpty(t, features, r.raw)
	assert.Contains(t, features, "<mechanism>PLAIN</mechanism>")
	assert.NotContains(t, features, "EXTERNAL")
}

// with no EXTERNAL offered, a client that tries it anyway (with a
// 'from' on its restart, as describes) gets invalid-mechanism and may
// go on with another mechanism.
func TestExternalRefused(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s := h.open()
	r := s.send("", "<auth xmlns='"+nsSASL+"' mechanism='EXTERNAL'>=</auth>")
	assert.Equal(t, []string{failureXML("invalid-mechanism")}, r.children, r.raw)
	r = s.authPlain(testUser, testPass)
	assert.NotEmpty(t, r.child(nsSASL, "success"), r.raw)
}

// the Server has no server-side stream header to fill; a 'from' on
// the creation request names nobody: the identity comes from SASL only, so
// a stanza before authentication still ends the stream (XEP-0206 §5).
func TestCreationFromGrantsNothing(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	s, r := h.create(defaultCreate + " from='" + testUser + "@" + testDomain + "'")
	require.NotEmpty(t, s.sid, r.raw)
	r = s.send("", "<message to='romeo@example.net' xmlns='jabber:client'><body>hi</body></message>")
	requireStreamError(t, r, "not-authorized")
	assert.Empty(t, h.core.routes(), "nothing reached the core")
}
