package main

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
)

// unitSettings reads a systemd unit file: section.Key → values, in order
// (systemd.syntax(7): '#' and ';' start comment lines).
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := make(map[string][]string)
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "%s: %q", path, line)
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestSystemdUnit: boshd.service has what the README promises (a
// dedicated user, sandboxing, restart on failure, descriptors for the
// default MaxSessions, the BOSHD_* environment file). `make test` also
// runs systemd-analyze verify on it (verify-unit.sh).
func TestSystemdUnit(t *testing.T) {
	u := unitSettings(t, "boshd.service")
	for _, tc := range []struct{ key, want string }{
		{"Service.User", "boshd"},
		{"Service.ExecStart", "/usr/local/bin/boshd"},
		{"Service.EnvironmentFile", "-/etc/default/boshd"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.ProtectSystem", "strict"},
		{"Service.PrivateTmp", "yes"},
		{"Service.Restart", "on-failure"},
		{"Install.WantedBy", "multi-user.target"},
	} {
		assert.Equal(t, []string{tc.want}, u[tc.key], tc.key)
	}
	require.Len(t, u["Service.LimitNOFILE"], 1)
	n, err := strconv.Atoi(u["Service.LimitNOFILE"][0])
	require.NoError(t, err)
	// Per session: a held HTTP/1.1 connection, a second while it sends,
	// one to the XMPP server with -upstream.
	assert.GreaterOrEqual(t, n, 3*bosh.DefaultMaxSessions, "LimitNOFILE for the default -max-sessions")
}

// TestSystemdEnvironmentFile: the example /etc/default/boshd is valid for
// boshd: every line a BOSHD_ variable that names a flag, with a value the
// flag takes.
func TestSystemdEnvironmentFile(t *testing.T) {
	data, err := os.ReadFile("boshd.env")
	require.NoError(t, err)
	var environ []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		require.True(t, strings.HasPrefix(line, envPrefix), "%q", line)
		require.NotContains(t, line, " =", "no spaces around '='")
		environ = append(environ, line)
	}
	require.NotEmpty(t, environ)
	o, err := parseConfig(nil, environ, io.Discard)
	require.NoError(t, err)
	require.NotNil(t, o.upstream)
	assert.Equal(t, "tcp://xmpp.example.com:5222", o.upstream.url)
	assert.Equal(t, "json", o.logFormat)
	assert.Equal(t, []string{"127.0.0.1", "::1"}, o.trustedProxies)
}
