package memcore

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/xmppstream"
)

func TestBind(t *testing.T) {
	c := newCore(t, Config{})
	ctx := context.Background()
	alice := xmppstream.JID{Local: "alice", Domain: "example.com"}

	j, err := c.Bind(ctx, &fakeClient{}, alice, "desk")
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com/desk", j.String(), "client-chosen resource (RFC 6120 §7.5)")

	seen := map[string]bool{}
	for range 20 {
		j, err := c.Bind(ctx, &fakeClient{}, alice, "")
		require.NoError(t, err)
		assert.GreaterOrEqual(t, len(j.Resource), 16, "generated resource is long enough to be unpredictable (RFC 6120 §7.6)")
		_, err = xmppstream.NewJID(j.Local, j.Domain, j.Resource)
		assert.NoError(t, err, "generated resource is a valid resourcepart")
		assert.False(t, seen[j.Resource], "generated resources differ")
		seen[j.Resource] = true
	}

	_, err = c.Bind(ctx, &fakeClient{}, xmppstream.JID{Local: "nobody", Domain: "example.com"}, "")
	assert.ErrorIs(t, err, xmppstream.ErrNoAccount)
	_, err = c.Bind(ctx, &fakeClient{}, xmppstream.JID{Local: "alice", Domain: "example.org"}, "")
	assert.ErrorIs(t, err, xmppstream.ErrNoAccount, "another domain")

	f := &fakeClient{}
	j1, err := c.Bind(ctx, f, alice, "same")
	require.NoError(t, err)
	j2, err := c.Bind(ctx, f, alice, "same")
	require.NoError(t, err)
	assert.Equal(t, j1, j2, "binding the resource one holds again is no conflict")
	assert.Empty(t, f.kicked())
}

// TestBindConflict covers RFC 6120 §7.7.2.2 under both policies.
func TestBindConflict(t *testing.T) {
	tests := []struct {
		name   string
		policy ConflictPolicy
	}{
		{name: "ReplaceOld kicks the old client", policy: ReplaceOld},
		{name: "RefuseNew refuses the new client", policy: RefuseNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t, Config{Policy: tt.policy})
			subscribeBoth(t, c)
			bob := login(t, c, "bob", "b", 0)
			old := login(t, c, "alice", "r", 0)
			bob.take(t)

			nu := &fakeClient{}
			j, err := c.Bind(context.Background(), nu, old.JID().Bare(), "r")
			if tt.policy == RefuseNew {
				assert.ErrorIs(t, err, xmppstream.ErrConflict)
				assert.Empty(t, old.kicked())
				assert.Empty(t, bob.take(t), "contacts see nothing")
				route(t, c, bob, "<message to='alice@example.com/r' type='chat'><body>x</body></message>")
				assert.Len(t, old.take(t), 1, "the old client keeps its resource")
				return
			}
			require.NoError(t, err)
			nu.jid = j
			assert.Equal(t, "alice@example.com/r", j.String())
			assert.Equal(t, []string{"conflict"}, old.kicked(), "RFC 6120 §4.9.3.3")
			assert.Equal(t, []string{"presence unavailable alice@example.com/r→bob@example.com"}, kinds(bob.take(t)), "the old client went unavailable")

			route(t, c, old, "<message to='bob@example.com' type='chat'><body>late</body></message>")
			assert.Empty(t, bob.take(t), "stanzas from the replaced client are dropped")
			c.Unbind(old, nil)
			route(t, c, bob, "<message to='alice@example.com/r' type='chat'><body>x</body></message>")
			assert.Empty(t, old.take(t))
			require.Equal(t, 0, offline(c, "alice"))
			assert.Equal(t, []string{"message chat bob@example.com/b→alice@example.com/r"}, kinds(nu.take(t)), "the old client's Unbind leaves the new binding alone")
		})
	}
}

// TestStartSession covers the outcomes of RFC 3921 §3.
func TestStartSession(t *testing.T) {
	forbidden := &xmppstream.StanzaError{Type: "auth", Condition: "forbidden"}
	tests := []struct {
		name       string
		policy     ConflictPolicy
		hook       func(xmppstream.JID) error
		setup      func(t *testing.T, c *Core) (cl *fakeClient, holder *fakeClient)
		wantType   string
		wantCond   string
		wantKick   bool
		wantActive bool // cl holds the resource with a session afterwards
	}{
		{
			name:       "bound client: success",
			setup:      func(t *testing.T, c *Core) (*fakeClient, *fakeClient) { return bindOnly(t, c, "alice", "r"), nil },
			wantActive: true,
		},
		{
			name:     "hook refuses with forbidden (auth)",
			hook:     func(xmppstream.JID) error { return forbidden },
			setup:    func(t *testing.T, c *Core) (*fakeClient, *fakeClient) { return bindOnly(t, c, "alice", "r"), nil },
			wantType: "auth", wantCond: "forbidden",
		},
		{
			name:     "hook fails: internal-server-error (wait)",
			hook:     func(xmppstream.JID) error { return errors.New("database down") },
			setup:    func(t *testing.T, c *Core) (*fakeClient, *fakeClient) { return bindOnly(t, c, "alice", "r"), nil },
			wantType: "wait", wantCond: "internal-server-error",
		},
		{
			name: "unknown account: forbidden (auth)",
			setup: func(t *testing.T, c *Core) (*fakeClient, *fakeClient) {
				return &fakeClient{jid: xmppstream.JID{Local: "nobody", Domain: "example.com", Resource: "r"}}, nil
			},
			wantType: "auth", wantCond: "forbidden",
		},
		{
			name: "not bound: internal-server-error (wait)",
			setup: func(t *testing.T, c *Core) (*fakeClient, *fakeClient) {
				return &fakeClient{jid: xmppstream.JID{Local: "alice", Domain: "example.com", Resource: "r"}}, nil
			},
			wantType: "wait", wantCond: "internal-server-error",
		},
		{
			name:   "RefuseNew, another active resource with the JID: conflict (cancel)",
			policy: RefuseNew,
			setup: func(t *testing.T, c *Core) (*fakeClient, *fakeClient) {
				holder := bind(t, c, "alice", "r")
				return &fakeClient{jid: holder.JID()}, holder
			},
			wantType: "cancel", wantCond: "conflict",
		},
		{
			name:   "ReplaceOld, another active resource with the JID: it is kicked",
			policy: ReplaceOld,
			setup: func(t *testing.T, c *Core) (*fakeClient, *fakeClient) {
				holder := bind(t, c, "alice", "r")
				return &fakeClient{jid: holder.JID()}, holder
			},
			wantKick: true, wantActive: true,
		},
		{
			name:   "ReplaceOld, the client was itself replaced: conflict (cancel)",
			policy: ReplaceOld,
			setup: func(t *testing.T, c *Core) (*fakeClient, *fakeClient) {
				old := bindOnly(t, c, "alice", "r")
				bind(t, c, "alice", "r")
				return old, nil
			},
			wantType: "cancel", wantCond: "conflict",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t, Config{Policy: tt.policy, SessionHook: tt.hook})
			cl, holder := tt.setup(t, c)
			err := c.StartSession(context.Background(), cl)
			if tt.wantCond == "" {
				assert.NoError(t, err)
			} else {
				se, ok := errors.AsType[*xmppstream.StanzaError](err)
				require.True(t, ok, "%v", err)
				assert.Equal(t, tt.wantType, string(se.Type))
				assert.Equal(t, tt.wantCond, string(se.Condition))
			}
			if holder != nil {
				assert.Equal(t, tt.wantKick, len(holder.kicked()) == 1)
			}
			c.mu.Lock()
			_, r := c.boundLocked(cl, cl.JID())
			active := r != nil && r.active
			c.mu.Unlock()
			assert.Equal(t, tt.wantActive, active)
		})
	}
}

// bindOnly binds a fake client without starting a session.
func bindOnly(t *testing.T, c *Core, user, res string) *fakeClient {
	t.Helper()
	f := &fakeClient{}
	j, err := c.Bind(context.Background(), f, xmppstream.JID{Local: user, Domain: c.Domain()}, res)
	require.NoError(t, err)
	f.jid = j
	return f
}

func TestUnbind(t *testing.T) {
	c := newCore(t, Config{})
	subscribeBoth(t, c)
	alice := login(t, c, "alice", "a", 0)
	bob := login(t, c, "bob", "b", 0)
	alice.take(t)

	undelivered := [][]byte{
		stanza(t, alice.JID(), "<message to='bob@example.com' type='chat' id='m1'><body>keep me</body></message>").Raw,
		stanza(t, alice.JID(), "<message to='bob@example.com' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>").Raw,
		stanza(t, alice.JID(), "<iq to='bob@example.com/b' type='get' id='q1'><query xmlns='jabber:iq:version'/></iq>").Raw,
		stanza(t, alice.JID(), "<iq to='bob@example.com/b' type='result' id='q2'/>").Raw,
		stanza(t, alice.JID(), "<presence/>").Raw,
		[]byte("not xml"),
	}
	c.Unbind(bob, undelivered)

	got := alice.take(t)
	require.Equal(t, []string{
		"presence unavailable bob@example.com/b→alice@example.com",
		"iq error bob@example.com/b→alice@example.com/a",
	}, kinds(got), "contacts see bob go; the undelivered request is answered (XEP-0206 §7)")
	typ, cond := stanzaError(t, got[1])
	assert.Equal(t, "cancel", typ)
	assert.Equal(t, "service-unavailable", cond)
	assert.Equal(t, "q1", got[1].attr("id"))

	assert.Equal(t, 1, offline(c, "bob"), "only the message with a body is kept (XEP-0160)")
	bob2 := bind(t, c, "bob", "b2")
	route(t, c, bob2, "<presence/>")
	var msgs []node
	for _, n := range bob2.take(t) {
		if n.XMLName.Local == "message" {
			msgs = append(msgs, n)
		}
	}
	require.Len(t, msgs, 1, "delivered at the next initial presence")
	assert.Equal(t, "keep me", msgs[0].child(nsClient, "body").Text)
	require.NotNil(t, msgs[0].child(nsDelay, "delay"))
	assert.Equal(t, 0, offline(c, "bob"))

	c.Unbind(bob, nil) // twice: nothing happens
	c.Unbind(&fakeClient{jid: xmppstream.JID{Local: "nobody", Domain: "example.com", Resource: "x"}}, nil)
}
