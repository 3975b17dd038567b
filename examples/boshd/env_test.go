package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"listen":                   "BOSHD_LISTEN",
		"upstream":                 "BOSHD_UPSTREAM",
		"max-sessions-per-address": "BOSHD_MAX_SESSIONS_PER_ADDRESS",
		"h2c":                      "BOSHD_H2C",
	} {
		assert.Equal(t, want, envName(flag))
	}
}

func TestEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		check   func(t *testing.T, o *options)
	}{
		{name: "a string", environ: []string{"BOSHD_LISTEN=127.0.0.1:9999"},
			check: func(t *testing.T, o *options) { assert.Equal(t, "127.0.0.1:9999", o.listen) }},
		{name: "the command line wins", args: []string{"-listen", "127.0.0.1:1111"}, environ: []string{"BOSHD_LISTEN=127.0.0.1:9999"},
			check: func(t *testing.T, o *options) { assert.Equal(t, "127.0.0.1:1111", o.listen) }},
		{name: "the command line wins, -flag=value form", args: []string{"-log-level=debug"}, environ: []string{"BOSHD_LOG_LEVEL=error"},
			check: func(t *testing.T, o *options) { assert.Equal(t, "DEBUG", o.level.String()) }},
		{name: "a boolean", environ: []string{"BOSHD_H2C=true"},
			check: func(t *testing.T, o *options) { assert.True(t, o.h2c) }},
		{name: "a boolean as 1", environ: []string{"BOSHD_H2C=1"},
			check: func(t *testing.T, o *options) { assert.True(t, o.h2c) }},
		{name: "a boolean false on the command line wins", args: []string{"-h2c=false"}, environ: []string{"BOSHD_H2C=true"},
			check: func(t *testing.T, o *options) { assert.False(t, o.h2c) }},
		{name: "numbers", environ: []string{"BOSHD_MAX_SESSIONS=30000", "BOSHD_SESSION_RATE=2.5", "BOSHD_MAX_SESSIONS_PER_ADDRESS=7"},
			check: func(t *testing.T, o *options) {
				assert.Equal(t, 30000, o.limits.maxSessions)
				assert.Equal(t, 2.5, o.limits.sessionsPerSecond)
				assert.Equal(t, 7, o.limits.maxSessionsPerAddress)
			}},
		{name: "upstream and domains, checked as the flags are",
			environ: []string{"BOSHD_UPSTREAM=TCP://127.0.0.1:5222", "BOSHD_DOMAIN=Example.com, chat.example.com"},
			check: func(t *testing.T, o *options) {
				require.NotNil(t, o.upstream)
				assert.Equal(t, "tcp://127.0.0.1:5222", o.upstream.url)
				assert.Equal(t, []string{"example.com", "chat.example.com"}, o.domains)
			}},
		{name: "log format", environ: []string{"BOSHD_LOG_FORMAT=json"},
			check: func(t *testing.T, o *options) { assert.Equal(t, "json", o.logFormat) }},
		{name: "an empty value is a value", args: []string{"-allow-origin", "*"}, environ: []string{"BOSHD_TRUSTED_PROXIES="},
			check: func(t *testing.T, o *options) { assert.Empty(t, o.trustedProxies) }},
		{name: "other variables are not boshd's", environ: []string{"PATH=/usr/bin", "BOSHDX=1", "boshd_listen=x", "LISTEN=x", "BOSHD"},
			check: func(t *testing.T, o *options) { assert.Equal(t, "127.0.0.1:5280", o.listen) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseConfig(tc.args, tc.environ, io.Discard)
			require.NoError(t, err)
			tc.check(t, o)
		})
	}
}

// TestEnvironmentErrors: an invalid value in a variable gets the error the
// flag gets, and names the variable.
func TestEnvironmentErrors(t *testing.T) {
	tests := []struct {
		name  string
		flag  string
		value string
		want  string // in the error, with the flag and with the variable
	}{
		{name: "not a number", flag: "max-sessions", value: "many", want: `value "many" for`},
		{name: "out of bosh.Config's bounds", flag: "max-sessions", value: "0", want: "-max-sessions 0: want 1 to 1073741824"},
		{name: "not a boolean", flag: "h2c", value: "maybe", want: `invalid boolean value "maybe" for`},
		{name: "NaN as a rate", flag: "session-rate", value: "NaN", want: "-session-rate NaN: want 1 to 1e6"},
		{name: "not an upstream URL", flag: "upstream", value: "http://x:1", want: `-upstream "http://x:1": want tcp://host:port or tls://host:port`},
		{name: "not a log level", flag: "log-level", value: "loud", want: `-log-level "loud" is not debug, info, warn or error`},
		{name: "not a log format", flag: "log-format", value: "xml", want: `-log-format "xml" is not text or json`},
		{name: "a path without /", flag: "path", value: "http-bind", want: `-path "http-bind" does not start with /`},
		{name: "a taken path", flag: "path", value: "/readyz", want: `-path "/readyz" is taken`},
		{name: "needs another flag", flag: "upstream-ca", value: "/etc/ssl/ca.pem", want: "-upstream-ca needs -upstream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, flagErr := parseConfig([]string{"-" + tc.flag + "=" + tc.value}, nil, io.Discard)
			require.Error(t, flagErr)
			assert.Contains(t, flagErr.Error(), tc.want, "with the flag")
			assert.NotContains(t, flagErr.Error(), "BOSHD_", "a flag error names no variable")

			v := envName(tc.flag)
			_, envErr := parseConfig(nil, []string{v + "=" + tc.value}, io.Discard)
			require.Error(t, envErr)
			assert.Contains(t, envErr.Error(), tc.want, "with the variable: the flag's error")
			assert.Contains(t, envErr.Error(), v, "names the variable")
		})
	}
}

func TestEnvironmentUnknownVariable(t *testing.T) {
	_, err := parseConfig(nil, []string{"BOSHD_LISTN=127.0.0.1:1"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BOSHD_LISTN names no flag")
}

// TestEnvironmentErrorNamesOnlyItsVariable: a check that fails on a flag
// from the command line does not blame the variables of other flags; one
// about -upstream-ca names BOSHD_UPSTREAM_CA, not BOSHD_UPSTREAM.
func TestEnvironmentErrorNamesOnlyItsVariable(t *testing.T) {
	_, err := parseConfig([]string{"-max-sessions", "0"}, []string{"BOSHD_LISTEN=127.0.0.1:0"}, io.Discard)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "BOSHD_")

	_, err = parseConfig(nil, []string{"BOSHD_UPSTREAM_CA=/nonexistent", "BOSHD_UPSTREAM_PROXY_HEADER=true"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BOSHD_UPSTREAM_CA")
	assert.NotContains(t, err.Error(), "BOSHD_UPSTREAM_PROXY_HEADER")
}

// TestHelpNamesVariables: boshd -h says that every flag has a variable,
// that the command line wins, and names each flag's variable.
func TestHelpNamesVariables(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"-h"}, nil, &out)
	require.True(t, errors.Is(err, flag.ErrHelp), "%v", err)
	help := out.String()
	assert.Contains(t, help, "BOSHD_<FLAG>")
	assert.Contains(t, help, "command line wins")
	names := 0
	for line := range strings.Lines(help) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "-"); ok {
			name, _, _ = strings.Cut(name, " ")
			names++
			assert.Contains(t, help, "["+envName(name)+"]", "the variable of -%s", name)
		}
	}
	assert.GreaterOrEqual(t, names, 20, "every flag is listed")
}

// TestEnvironmentReachesRun: run reads the process's environment.
func TestEnvironmentReachesRun(t *testing.T) {
	t.Setenv("BOSHD_PATH", "/bosh")
	d := start(t)
	assert.True(t, strings.HasSuffix(d.url, "/bosh"), d.url)
}
