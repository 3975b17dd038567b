package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/xmppstream"
)

// flagCase is one command line for parseFlags: error, a substring of the
// error naming the flag, or check for what it parsed.
type flagCase struct {
	name  string
	args  []string
	check func(t *testing.T, o *options)
	error string
}

// runFlagCases runs parseFlags on each case as a subtest.
func runFlagCases(t *testing.T, tests []flagCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if tt.error != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.error)
				return
			}
			require.NoError(t, err)
			tt.check(t, o)
		})
	}
}

func TestParseFlagsUpstream(t *testing.T) {
	dir := t.TempDir()
	ca, _, _ := selfSigned(t)
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	users := filepath.Join(dir, "users")
	require.NoError(t, os.WriteFile(users, []byte("a:b\n"), 0o600))

	tests := []flagCase{
		{name: "defaults: in-memory core for localhost", args: nil, check: func(t *testing.T, o *options) {
			assert.Nil(t, o.upstream)
			assert.Equal(t, []string{"localhost"}, o.domains)
			assert.Empty(t, o.routes)
			assert.Empty(t, o.trustedProxies)
		}},
		{name: "tcp upstream, STARTTLS, several domains prepared", args: []string{"-upstream", "TCP://127.0.0.1:5222", "-domain", "Example.com, chat.example.com"},
			check: func(t *testing.T, o *options) {
				require.NotNil(t, o.upstream)
				assert.Equal(t, "127.0.0.1:5222", o.upstream.addr)
				assert.False(t, o.upstream.directTLS)
				assert.Equal(t, "tcp://127.0.0.1:5222", o.upstream.url)
				assert.Nil(t, o.upstream.roots, "system roots")
				assert.Equal(t, []string{"example.com", "chat.example.com"}, o.domains)
				assert.False(t, o.upstream.proxy, "no PROXY header unless asked")
			}},
		{name: "PROXY v2 header to the upstream", args: []string{"-upstream", "tcp://127.0.0.1:5222", "-upstream-proxy-header"},
			check: func(t *testing.T, o *options) {
				require.NotNil(t, o.upstream)
				assert.True(t, o.upstream.proxy)
			}},
		{name: "PROXY header without upstream", args: []string{"-upstream-proxy-header"}, error: "-upstream-proxy-header"},
		{name: "TLS toward the upstream unless it is on loopback, by default", args: []string{"-upstream", "tcp://xmpp.example.com:5222"},
			check: func(t *testing.T, o *options) {
				require.NotNil(t, o.upstream)
				assert.False(t, o.upstream.insecure)
			}},
		{name: "plain text to the upstream only when asked as insecure", args: []string{"-upstream", "tcp://xmpp.example.com:5222", "-upstream-insecure-plaintext"},
			check: func(t *testing.T, o *options) {
				require.NotNil(t, o.upstream)
				assert.True(t, o.upstream.insecure)
			}},
		{name: "insecure plaintext without upstream", args: []string{"-upstream-insecure-plaintext"}, error: "-upstream-insecure-plaintext"},
		{name: "max wait (XEP-0124 §7.2)", args: []string{"-max-wait", "5s"},
			check: func(t *testing.T, o *options) { assert.Equal(t, 5*time.Second, o.maxWait) }},
		{name: "max wait by default", args: nil,
			check: func(t *testing.T, o *options) { assert.Equal(t, bosh.DefaultMaxWait, o.maxWait) }},
		{name: "tls upstream with CA", args: []string{"-upstream", "tls://[::1]:5223", "-upstream-ca", ca},
			check: func(t *testing.T, o *options) {
				require.NotNil(t, o.upstream)
				assert.Equal(t, "[::1]:5223", o.upstream.addr)
				assert.True(t, o.upstream.directTLS)
				assert.NotNil(t, o.upstream.roots)
			}},
		{name: "routes and trusted proxies", args: []string{"-route-allow", "xmpp:chat.example.com:5222, xmpp:[::1]:5222", "-trusted-proxies", "10.0.0.0/8,::1, 192.0.2.7"},
			check: func(t *testing.T, o *options) {
				assert.Equal(t, []string{"xmpp:chat.example.com:5222", "xmpp:[::1]:5222"}, o.routes)
				assert.Equal(t, []string{"10.0.0.0/8", "::1", "192.0.2.7"}, o.trustedProxies)
			}},
		{name: "bad scheme", args: []string{"-upstream", "http://127.0.0.1:5222"}, error: "-upstream"},
		{name: "no scheme", args: []string{"-upstream", "127.0.0.1:5222"}, error: "-upstream"},
		{name: "missing port", args: []string{"-upstream", "tcp://127.0.0.1"}, error: "-upstream"},
		{name: "port out of range", args: []string{"-upstream", "tcp://127.0.0.1:70000"}, error: "-upstream"},
		{name: "path", args: []string{"-upstream", "tcp://127.0.0.1:5222/x"}, error: "-upstream"},
		{name: "unreadable CA file", args: []string{"-upstream", "tcp://127.0.0.1:5222", "-upstream-ca", filepath.Join(dir, "missing.pem")}, error: "-upstream-ca"},
		{name: "CA file without PEM", args: []string{"-upstream", "tcp://127.0.0.1:5222", "-upstream-ca", notPEM}, error: "-upstream-ca"},
		{name: "CA without upstream", args: []string{"-upstream-ca", ca}, error: "-upstream-ca needs -upstream"},
		{name: "several domains need an upstream", args: []string{"-domain", "a.example,b.example"}, error: "-domain"},
		{name: "empty domain list", args: []string{"-domain", " , "}, error: "-domain"},
		{name: "bad domain in list", args: []string{"-upstream", "tcp://127.0.0.1:5222", "-domain", "a.example,bad domain"}, error: "-domain"},
		{name: "users with upstream", args: []string{"-upstream", "tcp://127.0.0.1:5222", "-users", users}, error: "-users"},
		{name: "route without port (XEP-0124 §7.1)", args: []string{"-route-allow", "xmpp:chat.example.com"}, error: "-route-allow"},
		{name: "route with bad port", args: []string{"-route-allow", "xmpp:chat.example.com:x"}, error: "-route-allow"},
		{name: "route without proto", args: []string{"-route-allow", ":chat.example.com:5222"}, error: "-route-allow"},
		{name: "proxy not an address", args: []string{"-trusted-proxies", "proxy.example"}, error: "-trusted-proxies"},
		{name: "proxy bad prefix", args: []string{"-trusted-proxies", "10.0.0.0/33"}, error: "-trusted-proxies"},
	}
	runFlagCases(t, tests)
}

// TestRunFlagErrorsNameTheFlag checks that run reports the new flags'
// errors before it listens.
func TestRunFlagErrorsNameTheFlag(t *testing.T) {
	for _, args := range [][]string{
		{"-upstream", "udp://127.0.0.1:5222"},
		{"-route-allow", "nonsense"},
		{"-trusted-proxies", "nonsense"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			err := run(t.Context(), append([]string{"-listen", "127.0.0.1:0"}, args...), io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), args[0])
		})
	}
}

// TestParseFlagsServing covers -tls-cert, -tls-key, -h2c and the session
// limits: defaults are bosh.Config's, values map one to one, and a bad
// value is an error naming its flag.
func TestParseFlagsServing(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	_, otherKey, _ := selfSigned(t)

	tests := []flagCase{
		{name: "defaults: plain HTTP/1.1, bosh.Config's limits", check: func(t *testing.T, o *options) {
			assert.Nil(t, o.cert)
			assert.False(t, o.h2c)
			assert.Equal(t, "http", o.scheme())
			assert.Equal(t, limits{
				sessionsPerSecond:     bosh.DefaultSessionsPerSecond,
				sessionBurst:          bosh.DefaultSessionBurst,
				maxSessions:           bosh.DefaultMaxSessions,
				maxSessionsPerAddress: bosh.DefaultMaxSessionsPerAddress,
			}, o.limits)
		}},
		{name: "TLS", args: []string{"-tls-cert", certFile, "-tls-key", keyFile}, check: func(t *testing.T, o *options) {
			assert.NotNil(t, o.cert)
			assert.Equal(t, "https", o.scheme())
		}},
		{name: "h2c", args: []string{"-h2c"}, check: func(t *testing.T, o *options) { assert.True(t, o.h2c) }},
		{name: "park by default", args: nil, check: func(t *testing.T, o *options) { assert.True(t, o.park) }},
		{name: "no park", args: []string{"-park=false"}, check: func(t *testing.T, o *options) { assert.False(t, o.park) }},
		{name: "limits", args: []string{"-session-rate", "2500.5", "-session-burst", "5000", "-max-sessions", "30000", "-max-sessions-per-address", "20000"},
			check: func(t *testing.T, o *options) {
				assert.Equal(t, limits{sessionsPerSecond: 2500.5, sessionBurst: 5000, maxSessions: 30000, maxSessionsPerAddress: 20000}, o.limits)
			}},
		{name: "cert without key", args: []string{"-tls-cert", certFile}, error: "-tls-cert and -tls-key"},
		{name: "key without cert", args: []string{"-tls-key", keyFile}, error: "-tls-cert and -tls-key"},
		{name: "missing cert file", args: []string{"-tls-cert", certFile + ".missing", "-tls-key", keyFile}, error: "-tls-cert"},
		{name: "key of another certificate", args: []string{"-tls-cert", certFile, "-tls-key", otherKey}, error: "-tls-cert"},
		{name: "h2c with TLS", args: []string{"-h2c", "-tls-cert", certFile, "-tls-key", keyFile}, error: "-h2c"},
		{name: "session rate 0", args: []string{"-session-rate", "0"}, error: "-session-rate"},
		{name: "session rate NaN", args: []string{"-session-rate", "NaN"}, error: "-session-rate"},
		{name: "session rate above 1e6", args: []string{"-session-rate", "2e6"}, error: "-session-rate"},
		{name: "session rate not a number", args: []string{"-session-rate", "fast"}, error: "-session-rate"},
		{name: "burst 0", args: []string{"-session-burst", "0"}, error: "-session-burst"},
		{name: "max sessions negative", args: []string{"-max-sessions", "-1"}, error: "-max-sessions"},
		{name: "max sessions above 1<<30", args: []string{"-max-sessions", "1073741825"}, error: "-max-sessions"},
		{name: "per address 0", args: []string{"-max-sessions-per-address", "0"}, error: "-max-sessions-per-address"},
	}
	runFlagCases(t, tests)
}

// TestSessionLimitFlags: -max-sessions and -max-sessions-per-address reach
// the handler: with 1, a second creation is refused with HTTP 503 and
// Retry-After while the first session is open (bosh.Config.MaxSessions,
// MaxSessionsPerAddress, bosh.OverloadError), and succeeds once it ends.
func TestSessionLimitFlags(t *testing.T) {
	for _, flag := range []string{"-max-sessions", "-max-sessions-per-address"} {
		t.Run(flag, func(t *testing.T) {
			ctx := testContext(t)
			d := start(t, flag, "1")
			first := boshtest.NewClient(d.url, boshtest.ClientConfig{})
			defer first.Close()
			require.NoError(t, first.Connect(ctx, "localhost"))
			creation := "<body rid='1000' to='localhost' wait='30' hold='1' ver='1.11' xmlns='http://jabber.org/protocol/httpbind'/>"
			res, err := http.Post(d.url, "text/xml; charset=utf-8", strings.NewReader(creation))
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
			assert.Equal(t, "5", res.Header.Get("Retry-After"))
			require.NoError(t, first.Terminate(ctx))
			second := boshtest.NewClient(d.url, boshtest.ClientConfig{})
			defer second.Close()
			assert.NoError(t, second.Connect(ctx, "localhost"))
		})
	}
}

// TestParseFlagsAuth covers -sasl-digest-md5 and -non-sasl-auth, and the
// xmppstream.ServerConfig they make.
func TestParseFlagsAuth(t *testing.T) {
	runFlagCases(t, []flagCase{
		{name: "both off by default", args: nil, check: func(t *testing.T, o *options) {
			assert.Equal(t, auth{}, o.auth)
			cfg := o.auth.serverConfig("localhost", nil)
			assert.Empty(t, cfg.Mechanisms, "the library's default mechanisms")
			assert.Equal(t, xmppstream.NonSASLAuthOff, cfg.NonSASLAuth)
		}},
		{name: "DIGEST-MD5 before PLAIN", args: []string{"-sasl-digest-md5"}, check: func(t *testing.T, o *options) {
			assert.Equal(t, []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "DIGEST-MD5", "PLAIN"}, o.auth.serverConfig("localhost", nil).Mechanisms)
		}},
		{name: "non-SASL beside SASL", args: []string{"-non-sasl-auth", "with-sasl", "-sasl-digest-md5"}, check: func(t *testing.T, o *options) {
			assert.Equal(t, xmppstream.NonSASLAuthWithSASL, o.auth.serverConfig("localhost", nil).NonSASLAuth)
		}},
		{name: "non-SASL only", args: []string{"-non-sasl-auth", "only"}, check: func(t *testing.T, o *options) {
			cfg := o.auth.serverConfig("localhost", nil)
			assert.Equal(t, xmppstream.NonSASLAuthOnly, cfg.NonSASLAuth)
			assert.Empty(t, cfg.Mechanisms)
		}},
		{name: "unknown mode", args: []string{"-non-sasl-auth", "on"}, error: "-non-sasl-auth"},
		{name: "DIGEST-MD5 with no SASL", args: []string{"-non-sasl-auth", "only", "-sasl-digest-md5"}, error: "-sasl-digest-md5"},
		{name: "DIGEST-MD5 with an upstream", args: []string{"-upstream", "tcp://127.0.0.1:5222", "-sasl-digest-md5"}, error: "-upstream"},
		{name: "non-SASL with an upstream", args: []string{"-upstream", "tcp://127.0.0.1:5222", "-non-sasl-auth", "only"}, error: "-upstream"},
	})
}
