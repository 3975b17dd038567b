package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{name: "odd sessions (they chat in pairs)", args: []string{"-password", "x", "-sessions", "3"}},
		{name: "no password", args: nil},
		{name: "both passwords", args: []string{"-password", "x", "-password-format", "p%d"}},
		{name: "user format without %d", args: []string{"-password", "x", "-user-format", "user"}},
		{name: "unknown mode", args: []string{"-password", "x", "-mode", "open"}},
		{name: "wait not whole seconds", args: []string{"-password", "x", "-wait", "1500ms"}},
		{name: "not http or https", args: []string{"-password", "x", "-url", "ws://127.0.0.1/http-bind"}},
		{name: "h2c over https", args: []string{"-password", "x", "-h2c", "-url", "https://127.0.0.1/http-bind"}},
		{name: "h2 over http", args: []string{"-password", "x", "-h2"}},
		{name: "h2 and h2c", args: []string{"-password", "x", "-h2", "-h2c"}},
		{name: "sessions per connection without HTTP/2", args: []string{"-password", "x", "-sessions-per-conn", "4"}},
		{name: "no sessions per connection", args: []string{"-password", "x", "-h2c", "-sessions-per-conn", "0"}},
		{name: "insecure over http", args: []string{"-password", "x", "-insecure"}},
		{name: "unreadable CA", args: []string{"-password", "x", "-url", "https://127.0.0.1/", "-ca", "/nonexistent/ca.pem"}},
		{name: "CA file without PEM", args: []string{"-password", "x", "-url", "https://127.0.0.1/", "-ca", "flags_test.go"}},
		{name: "sources need a loopback IPv4 host", args: []string{"-password", "x", "-url", "http://localhost:5280/", "-sources", "2"}},
		{name: "no duration", args: []string{"-password", "x", "-duration", "0s"}},
		{name: "cut of 1 (nothing would get through)", args: []string{"-password", "x", "-cut", "1"}},
		{name: "negative cut", args: []string{"-password", "x", "-cut", "-0.1"}},
		{name: "cut over h2c", args: []string{"-password", "x", "-cut", "0.1", "-h2c"}},
		{name: "cut over https", args: []string{"-password", "x", "-cut", "0.1", "-url", "https://127.0.0.1/http-bind", "-insecure"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, &bytes.Buffer{})
			assert.Error(t, err)
		})
	}
	o, err := parseFlags([]string{"-password", "x", "-sessions", "1000"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 2, o.sources, "one source address per 500 sessions")
	assert.Equal(t, "user7", o.user(7))
	o, err = parseFlags([]string{"-password-format", "pw-%d"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "pw-7", o.pass(7))
	o, err = parseFlags([]string{"-password", "x", "-h2c"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, o.perSession(), "HTTP/2: a connection per session")
	o, err = parseFlags([]string{"-password", "x", "-url", "https://127.0.0.1/http-bind", "-h2", "-insecure"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, o.perSession())
	o, err = parseFlags([]string{"-password", "x", "-url", "https://127.0.0.1/http-bind"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.False(t, o.perSession(), "HTTP/1.1 over TLS: shared connections")
	assert.Equal(t, 2000, o.conns(), "HTTP/1.1: two connections per session")
	o, err = parseFlags([]string{"-password", "x", "-sessions", "20000", "-h2c", "-sessions-per-conn", "3"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 6667, o.conns(), "HTTP/2: one connection per three sessions")
	assert.False(t, o.relogin, "no relogin unless asked")
	o, err = parseFlags([]string{"-password", "x", "-relogin", "-cut", "0.1"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, o.relogin, "relogin goes with cuts")
}
