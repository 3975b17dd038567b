package xmpptest

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/syncbuf"
	"github.com/httpbind/httpbind/internal/xmppwire"
	"github.com/httpbind/httpbind/xmppstream"
	"github.com/httpbind/httpbind/xmppstream/memcore"
)

// newUser adds user to srv and returns a logged-in Client.
func newUser(t *testing.T, srv *Server, user, resource string, cfg boshtest.ClientConfig) *boshtest.Client {
	t.Helper()
	ctx := testContext(t)
	if err := srv.Core.AddUser(user, user+"-pw"); err != nil {
		require.ErrorIs(t, err, memcore.ErrUserExists)
	}
	c := boshtest.NewClient(srv.URL, cfg)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Connect(ctx, srv.Core.Domain()))
	_, err := c.Login(ctx, user, user+"-pw", resource)
	require.NoError(t, err)
	return c
}

type message struct {
	From string `xml:"from,attr"`
	To   string `xml:"to,attr"`
	Body string `xml:"body"`
}

// waitHeld waits until the server holds one request, the empty request
// of the only client.
func waitHeld(t *testing.T, srv *Server) {
	t.Helper()
	require.Eventually(t, func() bool { return srv.Handler.Stats().Held == 1 }, 10*time.Second, time.Millisecond,
		"the client's empty request is held")
}

func receiveMessage(t *testing.T, c *boshtest.Client) message {
	t.Helper()
	for {
		raw, err := c.Receive(testContext(t))
		require.NoError(t, err)
		var m message
		var head struct{ XMLName xml.Name }
		require.NoError(t, xml.Unmarshal(raw, &head))
		if head.XMLName.Local != "message" {
			continue // presence and the like
		}
		require.NoError(t, xml.Unmarshal(raw, &m))
		return m
	}
}

func TestServerChat(t *testing.T) {
	ctx := testContext(t)
	srv, err := NewServer(Config{})
	require.NoError(t, err)
	defer srv.Close()
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/http-bind$`, srv.URL)
	alice := newUser(t, srv, "alice", "a", boshtest.ClientConfig{})
	bob := newUser(t, srv, "bob", "b", boshtest.ClientConfig{Mechanism: sasl.ScramSha256})
	assert.Equal(t, "bob@localhost/b", bob.JID())

	require.NoError(t, alice.Send(ctx, []byte("<message to='bob@localhost/b' type='chat' xmlns='jabber:client'><body>ping</body></message>")))
	m := receiveMessage(t, bob)
	assert.Equal(t, message{From: "alice@localhost/a", To: "bob@localhost/b", Body: "ping"}, m, "'from' stamped by the server")

	require.NoError(t, bob.Send(ctx, []byte("<message to='alice@localhost/a' type='chat' xmlns='jabber:client'><body>pong</body></message>")))
	m = receiveMessage(t, alice)
	assert.Equal(t, "pong", m.Body)
	assert.Equal(t, "bob@localhost/b", m.From)

	assert.Equal(t, int64(2), srv.Handler.Stats().Sessions)
	require.NoError(t, alice.Terminate(ctx))
	require.NoError(t, bob.Terminate(ctx))
	assert.Zero(t, srv.Handler.Stats().Sessions)
}

func TestServerCloseEndsSessions(t *testing.T) {
	ctx := testContext(t)
	srv, err := NewServer(Config{})
	require.NoError(t, err)
	c := newUser(t, srv, "alice", "a", boshtest.ClientConfig{})
	waitHeld(t, srv)
	srv.Close()
	_, err = c.Receive(ctx)
	assert.ErrorIs(t, err, bosh.SystemShutdown, "held requests answered with system-shutdown (XEP-0124 §17.2)")
	srv.Close() // idempotent
}

func TestServerOptions(t *testing.T) {
	ctx := testContext(t)
	var trace syncbuf.Buffer
	srv, err := NewServer(Config{Domain: "example.org", Handler: bosh.Config{MaxWait: 5 * time.Second}, Stream: xmppstream.ServerConfig{Mechanisms: []string{"SCRAM-SHA-1"}}, Core: &memcore.Config{Policy: memcore.RefuseNew}})
	require.NoError(t, err)
	defer srv.Close()
	assert.Equal(t, "example.org", srv.Core.Domain())
	require.NoError(t, srv.Core.AddUser("u", "p"))

	c := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
	defer c.Close()
	assert.ErrorIs(t, c.Connect(ctx, "localhost"), bosh.HostUnknown, "only the configured domain")

	plain := boshtest.NewClient(srv.URL, boshtest.ClientConfig{Trace: &trace})
	defer plain.Close()
	require.NoError(t, plain.Connect(ctx, "example.org"))
	assert.Contains(t, trace.String(), "wait='5'", "the handler's MaxWait applies")
	_, err = plain.Login(ctx, "u", "p", "r")
	assert.ErrorContains(t, err, "does not offer PLAIN")

	first := boshtest.NewClient(srv.URL, boshtest.ClientConfig{Mechanism: sasl.ScramSha1})
	defer first.Close()
	require.NoError(t, first.Connect(ctx, "example.org"))
	_, err = first.Login(ctx, "u", "p", "r")
	require.NoError(t, err)

	second := boshtest.NewClient(srv.URL, boshtest.ClientConfig{Mechanism: sasl.ScramSha1})
	defer second.Close()
	require.NoError(t, second.Connect(ctx, "example.org"))
	_, err = second.Login(ctx, "u", "p", "r")
	assert.ErrorContains(t, err, "conflict", "RefuseNew keeps the first client")
}

func TestServerInvalidConfigIsAnError(t *testing.T) {
	_, err := NewServer(Config{Handler: bosh.Config{MaxHold: 100}})
	var ce *bosh.ConfigError
	assert.ErrorAs(t, err, &ce, "the handler's configuration error")
	_, err = NewServer(Config{Stream: xmppstream.ServerConfig{Mechanisms: []string{"MD5"}}})
	assert.ErrorContains(t, err, "xmpptest: ", "the stream configuration's error")
	_, err = NewServer(Config{Core: &memcore.Config{Domain: "not a domain"}})
	assert.Error(t, err, "the core configuration's error")
}

// The real-server variant of logging in twice with the
// same full JID ends the first session with remote-stream-error carrying
// a <conflict/> stream error (RFC 6120 §4.9.3.3, XEP-0206 §6), in a body
// that declares xmlns:stream itself, although the first
// client's empty request was held when it happened.
func TestConflictEndsOldSession(t *testing.T) {
	ctx := testContext(t)
	srv, err := NewServer(Config{})
	require.NoError(t, err)
	defer srv.Close()
	var trace syncbuf.Buffer
	old := newUser(t, srv, "alice", "same", boshtest.ClientConfig{Trace: &trace})
	waitHeld(t, srv)
	newUser(t, srv, "alice", "same", boshtest.ClientConfig{})

	for err == nil {
		_, err = old.Receive(ctx)
	}
	require.ErrorIs(t, err, bosh.RemoteStreamError)
	var te *boshtest.TerminateError
	require.ErrorAs(t, err, &te)
	assert.Contains(t, string(te.StreamError), "<conflict")

	var terminate string
	for line := range strings.Lines(trace.String()) {
		if strings.HasPrefix(line, "← ") && strings.Contains(line, "<stream:error") {
			terminate = line
		}
	}
	require.NotEmpty(t, terminate)
	start := terminate[:strings.Index(terminate, ">")]
	assert.Contains(t, start, "type='terminate'")
	assert.Contains(t, start, "xmlns:stream='"+xmppwire.NSStream+"'", "on <body/>: %s", terminate)
}
