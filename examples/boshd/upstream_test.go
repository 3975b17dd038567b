package main

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/prosodytest"
)

// TestUpstreamProsody runs boshd with -upstream and -upstream-ca in front
// of a real Prosody: a BOSH client logs in with SCRAM-SHA-1 and exchanges
// messages with a user connected to Prosody directly; a domain not in
// -domain gets host-unknown (XEP-0124 §17.2). It skips without Prosody
// outside CI.
func TestUpstreamProsody(t *testing.T) {
	ctx := testContext(t)
	p := prosodytest.Start(t, prosodytest.Config{Domain: "example.test"})
	p.Register("alice", "alice secret")
	p.Register("bob", "bob secret")
	d := start(t, "-upstream", "tcp://"+p.C2SAddr, "-upstream-ca", p.CAFile,
		"-domain", "example.test,other.example", "-route-allow", "xmpp:example.test:5222", "-trusted-proxies", "127.0.0.1")
	assert.Empty(t, d.accounts, "no demo accounts with -upstream")

	bob, err := prosodytest.Dial(ctx, p.C2SAddr, p.Domain, "bob", "bob secret", p.CAPool, "")
	require.NoError(t, err)
	defer bob.Close()

	alice := boshtest.NewClient(d.url, boshtest.ClientConfig{Mechanism: sasl.ScramSha1})
	defer alice.Close()
	require.NoError(t, alice.Connect(ctx, "example.test"))
	jid, err := alice.Login(ctx, "alice", "alice secret", "web")
	require.NoError(t, err, "stderr: %s", d.stderr)
	assert.Equal(t, "alice@example.test/web", jid)

	require.NoError(t, alice.Send(ctx, []byte("<message to='"+bob.JID()+"' xmlns='jabber:client'><body>up</body></message>")))
	var m struct {
		From string `xml:"from,attr"`
		Body string `xml:"body"`
	}
	for range 20 {
		el, err := bob.Next(ctx)
		require.NoError(t, err)
		if strings.HasPrefix(string(el), "<message") {
			require.NoError(t, xml.Unmarshal(el, &m))
			break
		}
	}
	assert.Equal(t, jid, m.From)
	assert.Equal(t, "up", m.Body)

	require.NoError(t, bob.Send([]byte("<message to='"+jid+"'><body>down</body></message>")))
	for range 20 {
		el, err := alice.Receive(ctx)
		require.NoError(t, err)
		if strings.HasPrefix(string(el), "<message") {
			require.NoError(t, xml.Unmarshal(el, &m))
			break
		}
	}
	assert.Equal(t, bob.JID(), m.From)
	assert.Equal(t, "down", m.Body)
	require.NoError(t, alice.Terminate(ctx))

	other := boshtest.NewClient(d.url, boshtest.ClientConfig{})
	defer other.Close()
	assert.ErrorIs(t, other.Connect(ctx, "elsewhere.example"), bosh.HostUnknown)
	assert.NotContains(t, d.stderr.String(), "alice secret", "logs never contain passwords")
}
