package ids

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sids are unpredictable, at least 128 bits, and never repeated.
func TestNewIsUniqueAndLongEnough(t *testing.T) {
	seen := make(map[string]bool)
	for range 10000 {
		id := New()
		raw, err := base64.RawURLEncoding.DecodeString(id)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, len(raw)*8, 128)
		require.False(t, seen[id], "repeated id %q", id)
		seen[id] = true
	}
}
