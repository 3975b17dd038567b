package prebind_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/xmppstream/prebind"
	"github.com/httpbind/httpbind/xmppstream/xmpptest"
)

// newServer starts an in-process server with alice and bob, and bob logged
// in over BOSH.
func newServer(t *testing.T, cfg xmpptest.Config) (*xmpptest.Server, *boshtest.Client) {
	t.Helper()
	srv, err := xmpptest.NewServer(cfg)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	require.NoError(t, srv.Core.AddUser("alice", "wonderland"))
	require.NoError(t, srv.Core.AddUser("bob", "builder"))
	ctx := testContext(t)
	bob := boshtest.NewClient(srv.URL, boshtest.ClientConfig{})
	t.Cleanup(func() { bob.Close() })
	require.NoError(t, bob.Connect(ctx, "localhost"))
	_, err = bob.Login(ctx, "bob", "builder", "laptop")
	require.NoError(t, err)
	return srv, bob
}

func TestPrebindThenContinue(t *testing.T) {
	tests := []struct {
		name      string
		mechanism sasl.Mechanism
		resource  string
		wantJID   string // exact, or a prefix when it ends with "/"
	}{
		{name: "PLAIN with a resource (RFC 6120 §7.7.2.1)", mechanism: sasl.Plain, resource: "web", wantJID: "alice@localhost/web"},
		{name: "default mechanism, server-made resource (RFC 6120 §7.6)", wantJID: "alice@localhost/"},
		{name: "SCRAM-SHA-1 (RFC 5802)", mechanism: sasl.ScramSha1, resource: "web", wantJID: "alice@localhost/web"},
		{name: "SCRAM-SHA-256 (RFC 7677)", mechanism: sasl.ScramSha256, wantJID: "alice@localhost/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			srv, bob := newServer(t, xmpptest.Config{})
			inflight := &counting{h: srv.Handler}
			p, err := prebind.New(prebind.Config{Handler: inflight, Mechanism: tt.mechanism})
			require.NoError(t, err)
			before := srv.Handler.Stats()

			s, err := p.Prebind(ctx, prebind.Request{Domain: "localhost", User: "alice", Password: "wonderland", Resource: tt.resource})
			require.NoError(t, err)
			if strings.HasSuffix(tt.wantJID, "/") {
				assert.True(t, strings.HasPrefix(s.JID, tt.wantJID) && len(s.JID) > len(tt.wantJID), "jid %q", s.JID)
			} else {
				assert.Equal(t, tt.wantJID, s.JID)
			}
			assert.NotEmpty(t, s.SID)
			after := srv.Handler.Stats()
			assert.Equal(t, before.Sessions+1, after.Sessions, "one session more")
			assert.Zero(t, inflight.n.Load(), "no request of the prebound session left held")
			assert.Positive(t, inflight.calls.Load())

			// The browser's side: the next request has exactly the returned rid.
			b := &browser{url: srv.URL, sid: s.SID, rid: s.RID}
			b.post(ctx, t, "<presence xmlns='jabber:client'/>")
			hello := fmt.Sprintf("<message to='bob@localhost/laptop' type='chat' xmlns='jabber:client'><body>hello from %s</body></message>", s.JID)
			got := b.exchange(ctx, t, hello, func() {
				m := receiveMessage(t, bob)
				assert.Equal(t, s.JID, m.From, "the server stamped the bound JID")
				assert.Equal(t, "hello from "+s.JID, m.Body)
				require.NoError(t, bob.Send(ctx, fmt.Appendf(nil,
					"<message to='%s' type='chat' xmlns='jabber:client'><body>hi alice</body></message>", s.JID)))
			})
			assert.Equal(t, []string{"hi alice"}, got)
		})
	}
}

// receiveMessage returns the next message bob receives, skipping other
// elements; bounded.
func receiveMessage(t *testing.T, c *boshtest.Client) struct{ From, Body string } {
	t.Helper()
	ctx := testContext(t)
	for range 20 {
		el, err := c.Receive(ctx)
		require.NoError(t, err)
		var m struct {
			XMLName xml.Name
			From    string `xml:"from,attr"`
			Body    string `xml:"body"`
		}
		if xml.Unmarshal(el, &m) == nil && m.XMLName.Local == "message" {
			return struct{ From, Body string }{m.From, m.Body}
		}
	}
	t.Fatal("no message among 20 elements")
	return struct{ From, Body string }{}
}

func TestPrebindFailures(t *testing.T) {
	tests := []struct {
		name    string
		req     prebind.Request
		mech    sasl.Mechanism
		is      error
		op      string
		sasl    string
		created bool // a session was created, and must be terminated
	}{
		{name: "wrong password: not-authorized (RFC 6120 §6.5.10)", req: prebind.Request{Domain: "localhost", User: "alice", Password: "nope"},
			is: prebind.ErrAuth, op: prebind.OpAuth, sasl: "not-authorized", created: true},
		{name: "wrong password with SCRAM-SHA-256", req: prebind.Request{Domain: "localhost", User: "alice", Password: "nope"}, mech: sasl.ScramSha256,
			is: prebind.ErrAuth, op: prebind.OpAuth, sasl: "not-authorized", created: true},
		{name: "unknown user: not-authorized", req: prebind.Request{Domain: "localhost", User: "mallory", Password: "x"},
			is: prebind.ErrAuth, op: prebind.OpAuth, sasl: "not-authorized", created: true},
		{name: "unknown domain: host-unknown (XEP-0124 §17.2)", req: prebind.Request{Domain: "example.org", User: "alice", Password: "wonderland"},
			is: bosh.HostUnknown, op: prebind.OpCreate},
		{name: "no user", req: prebind.Request{Domain: "localhost"}, op: prebind.OpCreate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			srv, _ := newServer(t, xmpptest.Config{})
			p, err := prebind.New(prebind.Config{Handler: srv.Handler, Mechanism: tt.mech})
			require.NoError(t, err)
			before := srv.Handler.Stats()

			s, err := p.Prebind(ctx, tt.req)
			require.Error(t, err)
			assert.Zero(t, s)
			var e *prebind.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.op, e.Op)
			assert.Equal(t, tt.sasl, e.SASL)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.NotContains(t, err.Error(), "wonderland", "no password in the error")
			assert.Equal(t, before.Sessions, waitSessions(srv.Handler, before.Sessions), "no session left")
			after := srv.Handler.Stats()
			if tt.created {
				assert.Equal(t, before.Ended["terminate"]+1, after.Ended["terminate"], "the session was terminated (XEP-0124 §13)")
			}
		})
	}
}

func TestPrebindPerAddressLimit(t *testing.T) {
	// bosh.Config.MaxSessionsPerAddress counts the end user's address,
	// not the host's.
	ctx := testContext(t)
	srv, _ := newServer(t, xmpptest.Config{Handler: bosh.Config{MaxSessionsPerAddress: 2}})
	// bob's own session counts for 127.0.0.1.
	p, err := prebind.New(prebind.Config{Handler: srv.Handler})
	require.NoError(t, err)
	req := prebind.Request{Domain: "localhost", User: "alice", Password: "wonderland", RemoteAddr: "192.0.2.7:4242"}
	_, err = p.Prebind(ctx, req)
	require.NoError(t, err)
	_, err = p.Prebind(ctx, req)
	require.NoError(t, err)
	_, err = p.Prebind(ctx, req)
	require.ErrorIs(t, err, bosh.ErrOverloaded, "third session from 192.0.2.7")
	var over *bosh.OverloadError
	require.ErrorAs(t, err, &over)
	assert.Equal(t, 5*time.Second, over.RetryAfter, "Retry-After from the handler")

	req.RemoteAddr = "" // default 127.0.0.1: bob has one there
	_, err = p.Prebind(ctx, req)
	require.NoError(t, err)
	_, err = p.Prebind(ctx, req)
	require.ErrorIs(t, err, bosh.ErrOverloaded, "third session from 127.0.0.1")
}

// silent is a stream that never answers.
type silent struct{}

func (silent) Send(context.Context, *bosh.Request) error { return nil }
func (silent) Close(bosh.Closing)                        {}

func TestPrebindTimeoutLeavesNothing(t *testing.T) {
	// An upstream that never sends stream features: Prebind's request is
	// held until its Timeout ends it; the request is released and the
	// session terminated.
	h, err := bosh.NewHandler(bosh.UpstreamFunc(func(context.Context, *bosh.OpenRequest, bosh.Sink) (bosh.Stream, error) {
		return silent{}, nil
	}), bosh.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { h.Shutdown(context.Background()) })
	p, err := prebind.New(prebind.Config{Handler: h, Timeout: 100 * time.Millisecond})
	require.NoError(t, err)

	_, err = p.Prebind(testContext(t), prebind.Request{Domain: "localhost", User: "alice", Password: "x"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var e *prebind.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, prebind.OpAuth, e.Op)
	st := h.Stats()
	assert.Zero(t, st.Held, "no request left held")
	assert.Zero(t, waitSessions(h, 0), "the session was terminated")
	assert.Equal(t, uint64(1), h.Stats().Ended["terminate"])
}

func TestNewConfig(t *testing.T) {
	h := bosh.Handler{}
	tests := []struct {
		name string
		cfg  prebind.Config
		ok   bool
	}{
		{name: "defaults", cfg: prebind.Config{Handler: &h}, ok: true},
		{name: "no handler", cfg: prebind.Config{}},
		{name: "relative path", cfg: prebind.Config{Handler: &h, Path: "http-bind"}},
		{name: "wait below 1s (XEP-0124 §7.1)", cfg: prebind.Config{Handler: &h, Wait: time.Millisecond}},
		{name: "wait not whole seconds", cfg: prebind.Config{Handler: &h, Wait: 1500 * time.Millisecond}},
		{name: "wait above 65535s (XEP-0124 §22)", cfg: prebind.Config{Handler: &h, Wait: 65536 * time.Second}},
		{name: "wait 59s", cfg: prebind.Config{Handler: &h, Wait: 59 * time.Second}, ok: true},
		{name: "hold 0 would be polling", cfg: prebind.Config{Handler: &h, Hold: -1}},
		{name: "hold 17", cfg: prebind.Config{Handler: &h, Hold: 17}},
		{name: "SCRAM-SHA-1", cfg: prebind.Config{Handler: &h, Mechanism: sasl.ScramSha1}, ok: true},
		{name: "unsupported mechanism", cfg: prebind.Config{Handler: &h, Mechanism: sasl.ScramSha1Plus}},
		{name: "negative timeout", cfg: prebind.Config{Handler: &h, Timeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := prebind.New(tt.cfg)
			if tt.ok {
				assert.NoError(t, err)
				assert.NotNil(t, p)
			} else {
				assert.Error(t, err)
			}
		})
	}
}
