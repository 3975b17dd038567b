package cluster

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPriorHops(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		want   []string
	}{
		{"Forwarded kept as it is (RFC 7239)", http.Header{"Forwarded": {`for=192.0.2.7;proto=https`, `for="[2001:db8::1]:80"`}},
			[]string{`for=192.0.2.7;proto=https`, `for="[2001:db8::1]:80"`}},
		{"X-Forwarded-For as Forwarded elements", http.Header{"X-Forwarded-For": {"192.0.2.7, 198.51.100.1", "203.0.113.9"}},
			[]string{`for="192.0.2.7"`, `for="198.51.100.1"`, `for="203.0.113.9"`}},
		{"Forwarded wins over X-Forwarded-For", http.Header{"Forwarded": {`for=192.0.2.7`}, "X-Forwarded-For": {"198.51.100.1"}},
			[]string{`for=192.0.2.7`}},
		{"none", http.Header{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, priorHops(tc.header))
		})
	}
	assert.Equal(t, `for="[::1]:5280";proto=https`, forwardedElement("[::1]:5280", true))
	assert.Equal(t, `for="192.0.2.1:1";proto=http`, forwardedElement("192.0.2.1:1", false))
}

// FuzzForwardedElement: whatever a hop's address holds, this hop's
// Forwarded element is one quoted-string for= and a proto, with nothing
// that could start another parameter or element (RFC 7239 §4).
func FuzzForwardedElement(f *testing.F) {
	for _, s := range []string{"192.0.2.1:1", "[::1]:80", `x";proto=https`, "a,b", "\r\nX: y", `\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, from string) {
		e := forwardedElement(from, false)
		require.True(t, strings.HasPrefix(e, `for="`) && strings.HasSuffix(e, `";proto=http`), e)
		inner := strings.TrimSuffix(strings.TrimPrefix(e, `for="`), `";proto=http`)
		require.NotContains(t, inner, `"`)
		require.NotContains(t, inner, `\`)
		for _, c := range []byte(inner) {
			require.True(t, c >= 0x20 && c < 0x7f, "%q", e)
		}
	})
}
