package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSoakShort: a two-second soak with four clients logs in, chats and
// reports, without failures, and ends with no session left.
func TestSoakShort(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-sessions", "4", "-duration", "2s", "-interval", "1s", "-wait", "1s"}, &out)
	require.NoError(t, err, out.String())
	s := out.String()
	assert.Contains(t, s, "rss=")
	lines := strings.Split(strings.TrimSpace(s), "\n")
	last := lines[len(lines)-1]
	assert.True(t, strings.HasPrefix(last, "soak: done: logins="), last)
	assert.NotContains(t, last, "logins=0 ", "clients logged in")
	assert.NotContains(t, last, "sent=0 ", "clients chatted")
	assert.Contains(t, lines[len(lines)-2], "sessions=0 held=0", "the final report after shutdown")
}

func TestSoakFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-sessions", "3"},
		{"-sessions", "0"},
		{"-duration", "0s"},
		{"-messages", "0"},
		{"-wait", "500ms"},
	} {
		_, err := parseFlags(args, &bytes.Buffer{})
		assert.Error(t, err, "%v", args)
	}
	o, err := parseFlags(nil, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 1000, o.sessions)
}
