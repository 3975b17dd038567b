package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStanzaJSDigestMD5: StanzaJS in Node (npm stanza, unmodified), with
// every SASL mechanism but DIGEST-MD5 disabled in its own configuration,
// logs in to boshd -sasl-digest-md5 (RFC 2831; XEP-0206 v1.2 Examples
// 4–9) and exchanges messages both ways with a second user; boshd's
// /metrics counts the login under DIGEST-MD5.
func TestStanzaJSDigestMD5(t *testing.T) {
	node := requireNodePackages(t, "stanza")
	users := newUsers()
	cfg := &config{}
	base := boshd(t, cfg, "-listen", "127.0.0.1:0", "-users", writeAccounts(t, users),
		"-max-wait", clientWait.String(), "-sasl-digest-md5")
	ep := &endpoint{url: cfg.BOSH, stats: func() stats { return boshStats(t, base) }}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()

	c := startNodeClient(ctx, t, node, "client-stanza.mjs")
	c.ep, c.password = ep, users["alice"]
	guard := guardRSS(c.cmd.Process.Pid)
	defer guard.check(t, "client-stanza.mjs")
	c.do("login", map[string]any{"url": ep.url, "jid": "alice@" + clientDomain, "password": users["alice"],
		"mechanisms": []string{"DIGEST-MD5"}})
	online := c.expect("online", func(ev event) bool { return ev.Ev == "online" })
	assert.Equal(t, "alice@"+clientDomain, bare(online.JID))
	assert.Equal(t, 1.0, saslSuccesses(t, base, "DIGEST-MD5"), "alice logged in with DIGEST-MD5")

	bob := newPeer(ctx, t, ep, "bob", users["bob"])
	c.sendMessage(bob.jid, "hello, bob")
	m := bob.expect("alice's message", func(s *stanza) bool { return s.XMLName.Local == "message" && s.Body != "" })
	assert.Equal(t, "hello, bob", m.Body)
	bob.send("<message xmlns='jabber:client' to='%s' type='chat'><body>hello, alice</body></message>", online.JID)
	c.waitMessage(bare(bob.jid), "hello, alice")

	c.disconnect()
	require.NoError(t, bob.c.Terminate(ctx))
}

// saslSuccesses reads boshd's xmpp_sasl_successes_total for mechanism.
func saslSuccesses(t *testing.T, base, mechanism string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	prefix := `xmpp_sasl_successes_total{mechanism="` + mechanism + `"} `
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			require.NoError(t, err)
			return f
		}
	}
	return 0
}
