package bosh

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/ids"
)

// TestSIDPrefix: with Config.SIDPrefix, every sid is the node id, a dot
// and a random part as long as without a prefix (XEP-0124 §7.2, §19.3).
func TestSIDPrefix(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, want string
	}{
		{"no prefix", "", ""},
		{"a node id", "n2", "n2."},
		{"the longest node id", "boshd-0123456789", "boshd-0123456789."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newTester(t, Config{SIDPrefix: tc.prefix})
			sid := x.create(1000, "").sid
			require.True(t, strings.HasPrefix(sid, tc.want), sid)
			random := strings.TrimPrefix(sid, tc.want)
			assert.Len(t, random, len(ids.New()), "the random part is unchanged")
			assert.NotContains(t, random, ".")
			owner, ok := SIDPrefixOf(sid)
			assert.Equal(t, tc.prefix, owner)
			assert.Equal(t, tc.prefix != "", ok)
		})
	}
}

func TestSIDPrefixOf(t *testing.T) {
	for _, tc := range []struct {
		sid, want string
		ok        bool
	}{
		{"n2.AAAA", "n2", true},
		{"boshd-1.x.y", "boshd-1", true},
		{"AAAAbbbb-_", "", false},
		{".AAAA", "", false},
		{"N2.AAAA", "", false},
		{"abcdefghijklmnopq.AAAA", "", false},
		{"n 2.AAAA", "", false},
		{"", "", false},
	} {
		got, ok := SIDPrefixOf(tc.sid)
		assert.Equal(t, tc.want, got, tc.sid)
		assert.Equal(t, tc.ok, ok, tc.sid)
	}
}

// FuzzSIDPrefixOf: no panic; a prefix found is a valid node id and the
// sid starts with it and a dot.
func FuzzSIDPrefixOf(f *testing.F) {
	for _, s := range []string{"n2.AAAA", "", ".", "a.b.c", "Z.1", "abcdefghijklmnop.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sid string) {
		id, ok := SIDPrefixOf(sid)
		if !ok {
			require.Empty(t, id)
			return
		}
		require.True(t, ValidNodeID(id))
		require.True(t, strings.HasPrefix(sid, id+"."))
	})
}
