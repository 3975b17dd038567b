package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/bosh/cluster"
	"github.com/httpbind/httpbind/internal/proxytest"
)

// TestClusterBehindHAProxy: three boshd nodes behind Debian's HAProxy with
// the README's configurations. Sessions log in, send and end through it
// over HTTP/2 and TLS; with routing by the sid in the body no request is
// forwarded (a session is created on the node HAProxy picks, which owns
// it); with plain round-robin, requests are forwarded and every session
// works as well.
func TestClusterBehindHAProxy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		routed bool
	}{
		{"routing by sid", "haproxy-cluster", true},
		{"round-robin", "haproxy-cluster-rr", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			addrs := []string{proxytest.FreeAddr(t), proxytest.FreeAddr(t), proxytest.FreeAddr(t)}
			var peers []string
			for i, a := range addrs {
				peers = append(peers, fmt.Sprintf("n%d=http://%s", i+1, a))
			}
			users := filepath.Join(t.TempDir(), "users")
			require.NoError(t, os.WriteFile(users, []byte("alice:secret\n"), 0o600))
			replace := []string{}
			nodes := make([]*boshd, len(addrs))
			for i, a := range addrs {
				nodes[i] = start(t, "-listen", a, "-node-id", fmt.Sprintf("n%d", i+1), "-peers", strings.Join(peers, ","),
					"-trusted-proxies", "127.0.0.1", "-users", users, "-log-level", "error")
				replace = append(replace, fmt.Sprintf("server n%d 10.0.0.%d:5280", i+1, i+1), fmt.Sprintf("server n%d %s", i+1, a))
			}
			cert := proxytest.Cert(t, proxyHost)
			addr := proxytest.FreeAddr(t)
			replace = append(replace, "bind :443 ", "bind "+addr+" ", "/etc/haproxy/certs/chat.example.com.pem", cert.Combined)
			proxytest.HAProxy(t, addr, readmeConfig(t, tc.config, replace...))
			hc := newProxyClient(addr, true, cert).http("127.0.0.1")

			const sessions = 6
			for i := range sessions {
				c := boshtest.NewClient("https://"+proxyHost+"/http-bind", boshtest.ClientConfig{HTTPClient: hc})
				require.NoError(t, clusterSession(ctx, c), "session %d", i)
			}
			var created, forwarded, failed uint64
			for _, d := range nodes {
				all, st := vars(t, d)
				var cs cluster.Stats
				require.NoError(t, json.Unmarshal(all["cluster"], &cs))
				created, forwarded, failed = created+st.Created, forwarded+cs.Forwarded, failed+cs.Failed
			}
			assert.Equal(t, uint64(sessions), created)
			assert.Zero(t, failed)
			t.Logf("%s: %d sessions, %d requests forwarded", tc.name, sessions, forwarded)
			if tc.routed {
				assert.Zero(t, forwarded, "every request went to its owner")
			} else {
				assert.NotZero(t, forwarded)
			}
		})
	}
}

// clusterSession logs in as alice, sends a presence and terminates.
func clusterSession(ctx context.Context, c *boshtest.Client) error {
	defer c.Close()
	if err := c.Connect(ctx, "localhost"); err != nil {
		return err
	}
	if _, err := c.Login(ctx, "alice", "secret", ""); err != nil {
		return err
	}
	if err := c.Send(ctx, []byte("<presence xmlns='jabber:client'/>")); err != nil {
		return err
	}
	return c.Terminate(ctx)
}
