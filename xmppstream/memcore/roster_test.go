package memcore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRoster covers roster get, set and remove with pushes (RFC 6121 §2).
func TestRoster(t *testing.T) {
	c := newCore(t, Config{})
	alice := bind(t, c, "alice", "a")
	other := bind(t, c, "alice", "other")
	quiet := bind(t, c, "alice", "quiet") // never asks for the roster

	route(t, c, other, "<iq type='get' id='g0'><query xmlns='jabber:iq:roster'/></iq>")
	got := other.take(t)
	require.Len(t, got, 1)
	assert.Equal(t, "iq result →alice@example.com/other", got[0].kind())
	assert.Equal(t, "g0", got[0].attr("id"))
	require.NotNil(t, got[0].child(nsRoster, "query"))
	assert.Empty(t, got[0].child(nsRoster, "query").Nodes, "empty roster")

	route(t, c, alice, `<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='Bob@Example.com' name="B &lt;&amp;&gt; 'o'"><group>Friends</group><group>Work &amp; co</group></item></query></iq>`)
	got = alice.take(t)
	require.Len(t, got, 1, "the setter did not ask for the roster: only the result")
	assert.Equal(t, "iq result →alice@example.com/a", got[0].kind())
	pushes := other.take(t)
	require.Len(t, pushes, 1, "push to the interested resource (§2.1.6)")
	assertPush(t, pushes[0], "bob@example.com", "none", "")
	item := pushes[0].child(nsRoster, "query").Nodes[0]
	assert.Equal(t, "B <&> 'o'", item.attr("name"), "escaped and read back")
	require.Len(t, item.Nodes, 2)
	assert.Equal(t, "Friends", item.Nodes[0].Text)
	assert.Equal(t, "Work & co", item.Nodes[1].Text)
	assert.Empty(t, quiet.take(t), "no push to a resource that never asked for the roster (RFC 3921 §7)")

	route(t, c, other, "<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>")
	got = other.take(t)
	require.Len(t, got, 1)
	q := got[0].child(nsRoster, "query")
	require.Len(t, q.Nodes, 1)
	assert.Equal(t, "bob@example.com", q.Nodes[0].attr("jid"))
	assert.Equal(t, "none", q.Nodes[0].attr("subscription"))

	route(t, c, other, "<iq type='set' id='s2'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' name='Bobby'/></query></iq>")
	got = other.take(t)
	require.Len(t, got, 2, "push and result to the interested setter")
	assertPush(t, got[0], "bob@example.com", "none", "")
	assert.Equal(t, "Bobby", got[0].child(nsRoster, "query").Nodes[0].attr("name"))
	assert.Empty(t, got[0].child(nsRoster, "query").Nodes[0].Nodes, "groups replaced")
	assert.Equal(t, "iq result →alice@example.com/other", got[1].kind())

	route(t, c, alice, "<iq type='set' id='s3'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' subscription='remove'/></query></iq>")
	assert.Equal(t, "iq result →alice@example.com/a", alice.take(t)[0].kind())
	got = other.take(t)
	require.Len(t, got, 1)
	assertPush(t, got[0], "bob@example.com", "remove", "")
	assert.Empty(t, rosterOf(t, c, "alice"))
}

func TestRosterSetErrors(t *testing.T) {
	tests := []struct {
		name, query, typ, cond string
	}{
		{"two items (§2.3.3)", "<item jid='a@example.com'/><item jid='b@example.com'/>", "modify", "bad-request"},
		{"no item", "", "modify", "bad-request"},
		{"empty group (§2.3.3)", "<item jid='a@example.com'><group></group></item>", "modify", "not-acceptable"},
		{"duplicate group (§2.3.3)", "<item jid='a@example.com'><group>g</group><group>g</group></item>", "modify", "bad-request"},
		{"malformed JID", "<item jid='@example.com'/>", "modify", "jid-malformed"},
		{"remove a missing item (§2.5.3)", "<item jid='a@example.com' subscription='remove'/>", "cancel", "item-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t, Config{})
			alice := login(t, c, "alice", "a", 0)
			route(t, c, alice, "<iq type='set' id='x'><query xmlns='jabber:iq:roster'>"+tt.query+"</query></iq>")
			got := alice.take(t)
			require.Len(t, got, 1, "no push")
			typ, cond := stanzaError(t, got[0])
			assert.Equal(t, tt.typ, typ)
			assert.Equal(t, tt.cond, cond)
			assert.NotNil(t, got[0].child(nsRoster, "query"), "the query is echoed (RFC 6120 §8.3.1)")
			assert.Empty(t, rosterOf(t, c, "alice"))
		})
	}
}

// TestRosterRemoveCancelsSubscriptions covers RFC 6121 §2.5.2: removing a
// 'both' item unsubscribes both ways.
func TestRosterRemoveCancelsSubscriptions(t *testing.T) {
	c := newCore(t, Config{})
	subscribeBoth(t, c)
	alice := login(t, c, "alice", "a", 0)
	bob := login(t, c, "bob", "b", 0)
	alice.take(t)

	route(t, c, alice, "<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' subscription='remove'/></query></iq>")
	var bobGot []string
	for _, n := range bob.take(t) {
		bobGot = append(bobGot, n.kind())
	}
	assert.Equal(t, []string{
		"iq set →bob@example.com/b",
		"presence unsubscribe alice@example.com→bob@example.com",
		"presence unavailable alice@example.com/a→bob@example.com",
		"iq set →bob@example.com/b",
		"presence unsubscribed alice@example.com→bob@example.com",
	}, bobGot)
	assert.Empty(t, rosterOf(t, c, "alice"))
	assert.Equal(t, []string{"alice@example.com none"}, rosterOf(t, c, "bob"))
}
