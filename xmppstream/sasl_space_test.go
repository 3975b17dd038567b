package xmppstream

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The XEP-0206 examples (Ex. 4) wrap the base64 of <auth/> in line breaks
// and indentation; the whitespace is dropped before decoding.
func TestSASLBase64WithWhitespace(t *testing.T) {
	h := newHarness(t, ServerConfig{Domains: []string{testDomain}})
	s := h.open()
	b64 := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPass))
	spaced := "\n      " + b64[:8] + "\n      " + b64[8:] + "\n    "
	r := s.send("", "<auth xmlns='"+nsSASL+"' mechanism='PLAIN'>"+spaced+"</auth>")
	assert.NotEmpty(t, r.child(nsSASL, "success"), r.raw)
}
