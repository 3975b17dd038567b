package xmpptest_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// waitFor polls cond every millisecond for at most 5 s: a bounded wait for
// a state another goroutine reaches (the server noticing a closed
// connection), not a timing rule.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestShutdownLosesNothing: a message queued for a BOSH client that has no
// request held survives Handler.Shutdown. The held requests get
// system-shutdown (§17.2); the queued message goes back to the upstream
// (Closing.Undelivered → xmppstream.Server → Core.Unbind), which stores it
// offline, and the user gets it, with a <delay/> (XEP-0203), on logging in
// to a new handler over the same core.
func TestShutdownLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := xmpptest.NewServer(xmpptest.Config{})
	require.NoError(t, err)
	defer srv.Close()
	require.NoError(t, srv.Core.AddUser("alice", "a-pass"))
	require.NoError(t, srv.Core.AddUser("bob", "b-pass"))
	login := func(url, user, pass, res string) *boshtest.Client {
		c := boshtest.NewClient(url, boshtest.ClientConfig{})
		require.NoError(t, c.Connect(ctx, "localhost"))
		_, err := c.Login(ctx, user, pass, res)
		require.NoError(t, err)
		require.NoError(t, c.Send(ctx, []byte("<presence xmlns='jabber:client'/>")))
		return c
	}
	alice := login(srv.URL, "alice", "a-pass", "a")
	defer alice.Close()
	bob := login(srv.URL, "bob", "b-pass", "b")
	// Bob's client goes away without a word: its held request's connection
	// closes, and the session stays until inactivity (§10) with nothing
	// held.
	require.NoError(t, bob.Close())
	waitFor(t, "the server to see bob's request gone", func() bool { return srv.Handler.Stats().Held == 1 })

	const body = "kept through the shutdown"
	require.NoError(t, alice.Send(ctx, []byte("<message to='bob@localhost/b' type='chat' id='m1' xmlns='jabber:client'><body>"+body+"</body></message>")))
	// A ping after it: once its result is back, the message was routed.
	require.NoError(t, alice.Send(ctx, []byte("<iq type='get' id='p1' to='localhost' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>")))
	for {
		st, err := alice.Receive(ctx)
		require.NoError(t, err)
		if strings.Contains(string(st), "id='p1'") || strings.Contains(string(st), `id="p1"`) {
			break
		}
	}
	require.Equal(t, int64(2), srv.Handler.Stats().Sessions)

	require.NoError(t, srv.Handler.Shutdown(ctx))
	_, err = alice.Receive(ctx)
	assert.ErrorIs(t, err, bosh.SystemShutdown, "the held request got system-shutdown")
	var te *boshtest.TerminateError
	assert.True(t, errors.As(err, &te))
	assert.Equal(t, uint64(2), srv.Handler.Stats().Ended["system-shutdown"])
	assert.Zero(t, srv.Handler.Stats().Sessions)

	// A new handler over the same core: bob logs in and gets the message.
	up, err := xmppstream.NewServer(srv.Core, xmppstream.ServerConfig{Domains: []string{"localhost"}})
	require.NoError(t, err)
	h, err := bosh.NewHandler(up, bosh.Config{})
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	defer ts.Close()
	defer h.Shutdown(context.Background())
	bob2 := login(ts.URL, "bob", "b-pass", "b2")
	defer bob2.Close()
	var got string
	for got == "" {
		st, err := bob2.Receive(ctx)
		require.NoError(t, err)
		if strings.HasPrefix(string(st), "<message") {
			got = string(st)
		}
	}
	assert.Contains(t, got, body)
	assert.Contains(t, got, "urn:xmpp:delay", "stored offline, with a <delay/>")
	require.NoError(t, bob2.Terminate(ctx))
}
