package interop

import (
	"time"

	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/prosodytest"
	"github.com/httpbind/httpbind/internal/syncbuf"
	"github.com/httpbind/httpbind/xmppstream"
)

// message is the part of a <message/> the tests look at.
type message struct {
	From string `xml:"from,attr"`
	To   string `xml:"to,attr"`
	Body string `xml:"body"`
}

// receiveMessage returns the next <message/> the BOSH client receives,
// skipping other elements; the loop is bounded.
func receiveMessage(ctx context.Context, t testing.TB, c *boshtest.Client) message {
	t.Helper()
	for range 20 {
		el, err := c.Receive(ctx)
		require.NoError(t, err)
		if m, ok := parseMessage(el); ok {
			return m
		}
	}
	t.Fatal("no <message/> among 20 elements")
	return message{}
}

// nextMessage returns the next <message/> the TCP client receives,
// skipping other elements; the loop is bounded.
func nextMessage(ctx context.Context, t testing.TB, c *prosodytest.TCPClient) message {
	t.Helper()
	for range 20 {
		el, err := c.Next(ctx)
		require.NoError(t, err)
		if m, ok := parseMessage(el); ok {
			return m
		}
	}
	t.Fatal("no <message/> among 20 elements")
	return message{}
}

func parseMessage(el []byte) (message, bool) {
	var m message
	if !strings.HasPrefix(string(el), "<message") || xml.Unmarshal(el, &m) != nil {
		return message{}, false
	}
	return m, true
}

// TestLoginAndMessagesBothWays logs in through the connection manager to
// Prosody with each SASL mechanism (XEP-0206 §5, RFC 6120 §6), checks the
// features after the stream restart, and exchanges messages with a user
// connected to Prosody directly.
func TestLoginAndMessagesBothWays(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mech      sasl.Mechanism
		directTLS bool
	}{
		{"PLAIN after STARTTLS", sasl.Plain, false},
		{"SCRAM-SHA-1 after STARTTLS", sasl.ScramSha1, false},
		{"PLAIN over direct TLS (XEP-0368)", sasl.Plain, true},
	} {
		mech := tc.mech
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			ctx := testContext(t)
			e := newEnv(t, tc.directTLS)
			bob := e.dialBob(ctx, t, "")

			var trace syncbuf.Buffer
			alice := boshtest.NewClient(e.url, boshtest.ClientConfig{Mechanism: mech, Trace: &trace})
			defer alice.Close()
			require.NoError(t, alice.Connect(ctx, domain))
			jid, err := alice.Login(ctx, "alice", alicePass, "web")
			require.NoError(t, err, "trace:\n%s\nlogs:\n%s", &trace, e.logs)
			assert.Equal(t, "alice@"+domain+"/web", jid)

			// the restart brings Prosody's post-SASL features,
			// with <bind/> and without mechanisms or <starttls/>.
			features := restartFeatures(trace.String())
			assert.Contains(t, features, "urn:ietf:params:xml:ns:xmpp-bind")
			assert.NotContains(t, features, "<mechanisms")
			assert.NotContains(t, features, "starttls")

			require.NoError(t, alice.Send(ctx, []byte("<message to='"+bob.JID()+"' type='chat' xmlns='jabber:client'><body>hello &amp; ü</body></message>")))
			m := nextMessage(ctx, t, bob)
			assert.Equal(t, jid, m.From, "Prosody stamps the BOSH client's full JID")
			assert.Equal(t, "hello & ü", m.Body)

			require.NoError(t, bob.Send([]byte("<message to='"+jid+"' type='chat'><body>hi alice &lt;3</body></message>")))
			m = receiveMessage(ctx, t, alice)
			assert.Equal(t, bob.JID(), m.From)
			assert.Equal(t, "hi alice <3", m.Body)

			require.NoError(t, alice.Terminate(ctx))
			logs := e.logs.String()
			assert.NotContains(t, logs, alicePass, "logs never contain passwords")
			assert.NotContains(t, logs, "hello", "logs never contain message bodies, even at debug")
		})
	}
}

// TestConflictFromProsody: a second login with the same full JID makes
// Prosody end the first stream with <stream:error><conflict/> (RFC 6120
// §4.9.3.3), which reaches the BOSH client as remote-stream-error carrying
// the stream error (XEP-0206 §6).
func TestConflictFromProsody(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	e := newEnv(t)
	alice := boshtest.NewClient(e.url, boshtest.ClientConfig{})
	defer alice.Close()
	require.NoError(t, alice.Connect(ctx, domain))
	_, err := alice.Login(ctx, "alice", alicePass, "web")
	require.NoError(t, err)

	again, err := prosodytest.Dial(ctx, e.prosody.C2SAddr, domain, "alice", alicePass, e.prosody.CAPool, "web")
	require.NoError(t, err)
	defer again.Close()
	assert.Equal(t, "alice@"+domain+"/web", again.JID())

	for range 20 {
		if _, err = alice.Receive(ctx); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, bosh.RemoteStreamError)
	var te *boshtest.TerminateError
	require.True(t, errors.As(err, &te))
	assert.Contains(t, string(te.StreamError), "<conflict")
	assert.Contains(t, string(te.StreamError), "urn:ietf:params:xml:ns:xmpp-streams")
	assert.NoError(t, ctx.Err())
}

// TestProsodyKilledMidSession: when Prosody dies, the held request is
// answered with remote-connection-failed (XEP-0206 §6), nothing hangs,
// and no goroutine is left behind. The context's deadline is a hang
// guard, not a speed claim.
func TestProsodyKilledMidSession(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	e := newEnv(t)
	alice := boshtest.NewClient(e.url, boshtest.ClientConfig{})
	defer alice.Close()
	require.NoError(t, alice.Connect(ctx, domain))
	_, err := alice.Login(ctx, "alice", alicePass, "web")
	require.NoError(t, err)

	e.prosody.Kill()
	for range 20 {
		if _, err = alice.Receive(ctx); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, bosh.RemoteConnectionFailed, "logs:\n%s", e.logs)
	assert.NoError(t, ctx.Err(), "the held request was answered before the hang guard")
	// The handler counts the end just after the terminate body went out.
	assert.Eventually(t, func() bool { return e.handler.Stats().Sessions == 0 }, 5*time.Second, 5*time.Millisecond,
		"the session ended at the handler")
}

// TestHostUnknownWithoutDialling: a 'to' that the upstream does not serve
// is refused with host-unknown (XEP-0124 §17.2) without a connection to
// the XMPP server. It needs no Prosody.
func TestHostUnknownWithoutDialling(t *testing.T) {
	checkGoroutines(t)
	ctx := testContext(t)
	var dials atomic.Int32
	up, err := xmppstream.NewTCPUpstream(xmppstream.TCPConfig{
		Addr:    "127.0.0.1:5222",
		Domains: []string{domain},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return nil, errors.New("no dialling expected")
		},
	})
	require.NoError(t, err)
	_, srv := serve(t, up, slog.New(slog.DiscardHandler))
	c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
	defer c.Close()
	err = c.Connect(ctx, "other.example")
	require.ErrorIs(t, err, bosh.HostUnknown)
	assert.Zero(t, dials.Load(), "no connection to the server")
}
