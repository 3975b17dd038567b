package memcore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rosterOf returns user's roster as "jid subscription[+ask]" lines, read
// with a roster get by a fresh resource.
func rosterOf(t *testing.T, c *Core, user string) []string {
	t.Helper()
	f := bind(t, c, user, "roster-reader")
	defer c.Unbind(f, nil)
	route(t, c, f, "<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
	got := f.take(t)
	require.Len(t, got, 1)
	q := got[0].child(nsRoster, "query")
	require.NotNil(t, q, got[0].raw)
	var items []string
	for _, it := range q.Nodes {
		s := it.attr("jid") + " " + it.attr("subscription")
		if it.attr("ask") != "" {
			s += "+" + it.attr("ask")
		}
		items = append(items, s)
	}
	return items
}

// TestSubscriptionHandshake runs RFC 6121 §3.1 both ways with both users
// online: each step's roster pushes and deliveries, ending with
// subscription 'both' and presence flowing both ways.
func TestSubscriptionHandshake(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)
	bob := login(t, c, "bob", "b", 0)
	quiet := bind(t, c, "bob", "quiet") // available, never asks for the roster
	route(t, c, quiet, "<presence/>")
	quiet.take(t)
	bob.take(t)

	route(t, c, alice, "<presence type='subscribe' to='bob@example.com' id='s1'><nick xmlns='http://jabber.org/protocol/nick'>Al</nick></presence>")
	got := alice.take(t)
	require.Len(t, got, 1)
	assertPush(t, got[0], "bob@example.com", "none", "subscribe")
	got = bob.take(t)
	require.Equal(t, []string{"presence subscribe alice@example.com→bob@example.com"}, kinds(got), "stamped with bare JIDs (§3.1.2)")
	assert.NotNil(t, got[0].child("http://jabber.org/protocol/nick", "nick"), "payload kept")

	route(t, c, bob, "<presence type='subscribed' to='alice@example.com'/>")
	got = bob.take(t)
	require.Len(t, got, 1)
	assertPush(t, got[0], "alice@example.com", "from", "")
	assert.Equal(t, []string{
		"iq set →alice@example.com/a",
		"presence subscribed bob@example.com→alice@example.com",
		"presence  bob@example.com/b→alice@example.com",
		"presence  bob@example.com/quiet→alice@example.com",
	}, kinds(alice.take(t)), "push, approval, then the presence of bob's available resources (§3.1.5, §3.1.6)")

	route(t, c, bob, "<presence type='subscribe' to='alice@example.com'/>")
	assertPush(t, bob.take(t)[0], "alice@example.com", "from", "subscribe")
	assert.Equal(t, []string{"presence subscribe bob@example.com→alice@example.com"}, kinds(alice.take(t)))
	route(t, c, alice, "<presence type='subscribed' to='bob@example.com'/>")
	assertPush(t, alice.take(t)[0], "bob@example.com", "both", "")
	got = bob.take(t)
	require.Len(t, got, 3)
	assertPush(t, got[0], "alice@example.com", "both", "")

	assert.Equal(t, []string{"bob@example.com both"}, rosterOf(t, c, "alice"))
	assert.Equal(t, []string{"alice@example.com both"}, rosterOf(t, c, "bob"))

	route(t, c, alice, "<presence><show>away</show></presence>")
	assert.Equal(t, []string{"presence  alice@example.com/a→bob@example.com"}, kinds(bob.take(t)), "broadcast to a 'from' contact (§4.4.2)")
	route(t, c, bob, "<presence><show>dnd</show></presence>")
	assert.Contains(t, kinds(alice.take(t)), "presence  bob@example.com/b→alice@example.com")

	var subscriptions []string
	for _, n := range quiet.take(t) {
		assert.Equal(t, "presence", n.XMLName.Local, "no roster push (RFC 3921 §7): %s", n.raw)
		if n.attr("type") != "" {
			subscriptions = append(subscriptions, n.kind())
		}
	}
	assert.Equal(t, []string{"presence subscribe alice@example.com→bob@example.com"}, subscriptions,
		"the inbound request reaches every available resource (RFC 6121 §3.1.3), the approvals only interested ones")
}

// TestSubscribeReachesEveryAvailableResource checks that an inbound
// subscription request is delivered to every available resource of the
// contact, those that never fetched the roster too (RFC 6121 §3.1.3), and
// not to a resource that has sent no initial presence (§4.2: it is not
// available; it gets the request at its initial presence).
func TestSubscribeReachesEveryAvailableResource(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)
	withRoster := login(t, c, "bob", "roster", 0)
	noRoster := bind(t, c, "bob", "no-roster")
	route(t, c, noRoster, "<presence/>")
	unavailable := bind(t, c, "bob", "unavailable")
	for _, f := range []*fakeClient{withRoster, noRoster, unavailable} {
		f.take(t)
	}

	route(t, c, alice, "<presence type='subscribe' to='bob@example.com'/>")
	want := "presence subscribe alice@example.com→bob@example.com"
	for _, tc := range []struct {
		name string
		f    *fakeClient
		want []string
	}{
		{"available, fetched the roster (§3.1.3)", withRoster, []string{want}},
		{"available, never fetched the roster (§3.1.3)", noRoster, []string{want}},
		{"no initial presence yet (§4.2)", unavailable, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, kinds(tc.f.take(t)))
		})
	}
	route(t, c, unavailable, "<presence/>")
	assert.Contains(t, kinds(unavailable.take(t)), want, "delivered at initial presence (§3.1.3)")
}

// assertPush checks a roster push (RFC 6121 §2.1.6).
func assertPush(t *testing.T, n node, jid, sub, ask string) {
	t.Helper()
	require.Equal(t, "iq", n.XMLName.Local, n.raw)
	assert.Equal(t, "set", n.attr("type"))
	assert.NotEmpty(t, n.attr("id"))
	assert.Empty(t, n.attr("from"), "a push comes from the account (§2.1.6)")
	q := n.child(nsRoster, "query")
	require.NotNil(t, q, n.raw)
	require.Len(t, q.Nodes, 1)
	assert.Equal(t, jid, q.Nodes[0].attr("jid"))
	assert.Equal(t, sub, q.Nodes[0].attr("subscription"))
	assert.Equal(t, ask, q.Nodes[0].attr("ask"))
}

func TestSubscribeOfflineContact(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)
	route(t, c, alice, "<presence type='subscribe' to='bob@example.com'/>")
	alice.take(t)

	bob := bind(t, c, "bob", "b")
	route(t, c, bob, "<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
	assert.Len(t, bob.take(t), 1, "only the roster result before initial presence")
	route(t, c, bob, "<presence/>")
	assert.Contains(t, kinds(bob.take(t)), "presence subscribe alice@example.com→bob@example.com", "stored request delivered (§3.1.3)")

	bob2 := login(t, c, "bob", "b2", 0)
	_ = bob2
	route(t, c, bob, "<presence type='subscribed' to='alice@example.com'/>")
	assert.Equal(t, []string{"bob@example.com to"}, rosterOf(t, c, "alice"))

	bob3 := bind(t, c, "bob", "b3")
	route(t, c, bob3, "<presence/>")
	assert.NotContains(t, kinds(bob3.take(t)), "presence subscribe alice@example.com→bob@example.com", "answered requests are forgotten")
}

func TestSubscribeUnknownContact(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)
	route(t, c, alice, "<presence type='subscribe' to='nobody@example.com'/>")
	got := alice.take(t)
	require.Len(t, got, 3)
	assertPush(t, got[0], "nobody@example.com", "none", "subscribe")
	assertPush(t, got[1], "nobody@example.com", "none", "")
	assert.Equal(t, "presence unsubscribed nobody@example.com→alice@example.com", got[2].kind(), "RFC 6121 §3.1.3")
}

// TestSubscriptionCancel covers unsubscribe (§3.3) and unsubscribed
// (§3.2) from 'both'.
func TestSubscriptionCancel(t *testing.T) {
	tests := []struct {
		name            string
		typ             string
		alice, bob      string
		bobGets         string
		aliceGetsFromB  []string
		bobGetsPresence bool
	}{
		{
			name: "alice unsubscribes from bob's presence (§3.3)", typ: "unsubscribe",
			alice: "bob@example.com from", bob: "alice@example.com to",
			bobGets:        "presence unsubscribe alice@example.com→bob@example.com",
			aliceGetsFromB: []string{"presence unavailable bob@example.com/b→alice@example.com"},
		},
		{
			name: "alice cancels bob's subscription (§3.2)", typ: "unsubscribed",
			alice: "bob@example.com to", bob: "alice@example.com from",
			bobGets: "presence unsubscribed alice@example.com→bob@example.com",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t, Config{})
			subscribeBoth(t, c)
			alice := login(t, c, "alice", "a", 0)
			bob := login(t, c, "bob", "b", 0)
			alice.take(t)

			route(t, c, alice, "<presence type='"+tt.typ+"' to='bob@example.com'/>")
			var fromBob []string
			for _, n := range alice.take(t) {
				if n.XMLName.Local == "presence" {
					fromBob = append(fromBob, n.kind())
				}
			}
			assert.Equal(t, tt.aliceGetsFromB, fromBob)
			var bobGot []string
			for _, n := range bob.take(t) {
				if n.XMLName.Local == "presence" {
					bobGot = append(bobGot, n.kind())
				}
			}
			if tt.typ == "unsubscribed" {
				assert.Equal(t, []string{"presence unavailable alice@example.com/a→bob@example.com", tt.bobGets}, bobGot, "bob stops seeing alice (§3.2.2)")
			} else {
				assert.Equal(t, []string{tt.bobGets}, bobGot)
			}
			assert.Equal(t, []string{tt.alice}, rosterOf(t, c, "alice"))
			assert.Equal(t, []string{tt.bob}, rosterOf(t, c, "bob"))
		})
	}
}

// TestPresenceBroadcast covers initial presence, probes and unavailable
// presence between subscribed contacts (RFC 6121 §4.2–§4.5), and that a
// non-contact sees nothing.
func TestPresenceBroadcast(t *testing.T) {
	c := newCore(t, Config{})
	subscribeBoth(t, c)
	carol := login(t, c, "carol", "c", 0)
	bob := login(t, c, "bob", "b", 0)
	other := login(t, c, "alice", "other", 0)
	bob.take(t)

	alice := bind(t, c, "alice", "a")
	route(t, c, alice, "<presence><status>here</status><priority>3</priority></presence>")
	assert.ElementsMatch(t, []string{
		"presence  alice@example.com/a→alice@example.com",       // to herself (§4.2.2)
		"presence  alice@example.com/other→alice@example.com/a", // her other resource
		"presence  bob@example.com/b→alice@example.com/a",       // probe result (§4.2.2)
	}, kinds(alice.take(t)))
	got := bob.take(t)
	require.Equal(t, []string{"presence  alice@example.com/a→bob@example.com"}, kinds(got))
	assert.Equal(t, "here", got[0].child(nsClient, "status").Text, "the client's presence as sent")
	assert.Equal(t, []string{"presence  alice@example.com/a→alice@example.com"}, kinds(other.take(t)))
	assert.Empty(t, carol.take(t), "not a contact")

	route(t, c, alice, "<presence type='unavailable'><status>bye</status></presence>")
	got = bob.take(t)
	require.Equal(t, []string{"presence unavailable alice@example.com/a→bob@example.com"}, kinds(got))
	assert.Equal(t, "bye", got[0].child(nsClient, "status").Text)
	assert.Equal(t, []string{"presence unavailable alice@example.com/a→alice@example.com"}, kinds(other.take(t)))
	assert.Empty(t, alice.take(t), "not sent back to the resource going away")

	route(t, c, bob, "<presence type='probe' to='alice@example.com'/>")
	assert.Equal(t, []string{"presence  alice@example.com/other→bob@example.com/b"}, kinds(bob.take(t)), "probe by a subscriber (§4.3)")
	route(t, c, carol, "<presence type='probe' to='alice@example.com'/>")
	assert.Empty(t, carol.take(t), "probe by a non-subscriber")
}

// TestDirectedPresence covers RFC 6121 §4.6.
func TestDirectedPresence(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)
	carol := login(t, c, "carol", "c", 0)
	bob := login(t, c, "bob", "b", 0)

	route(t, c, alice, "<presence to='carol@example.com'><show>chat</show></presence>")
	route(t, c, alice, "<presence to='bob@example.com/b'/>")
	route(t, c, alice, "<presence to='bob@example.com/nobody'/>")
	route(t, c, alice, "<presence to='someone@example.org'/>")
	assert.Equal(t, []string{"presence  alice@example.com/a→carol@example.com"}, kinds(carol.take(t)))
	assert.Equal(t, []string{"presence  alice@example.com/a→bob@example.com/b"}, kinds(bob.take(t)))

	route(t, c, alice, "<presence type='unavailable' to='bob@example.com/b'/>")
	assert.Equal(t, []string{"presence unavailable alice@example.com/a→bob@example.com/b"}, kinds(bob.take(t)))

	route(t, c, alice, "<presence type='unavailable'/>")
	assert.Equal(t, []string{"presence unavailable alice@example.com/a→carol@example.com"}, kinds(carol.take(t)), "remembered (§4.6.3)")
	assert.Empty(t, bob.take(t), "forgotten after directed unavailable")
}

func TestPriority(t *testing.T) {
	tests := []struct {
		name, presence string
		want           int
	}{
		{"absent", "<presence/>", 0},
		{"positive", "<presence><priority>5</priority></presence>", 5},
		{"negative", "<presence><priority>-1</priority></presence>", -1},
		{"spaces", "<presence><priority> 7 </priority></presence>", 7},
		{"out of range (RFC 6121 §4.7.2.3)", "<presence><priority>128</priority></presence>", 0},
		{"not a number", "<presence><priority>high</priority></presence>", 0},
		{"empty", "<presence><priority/></presence>", 0},
		{"other namespace", "<presence><priority xmlns='urn:x'>9</priority></presence>", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parse([]byte("<presence xmlns='jabber:client'" + tt.presence[len("<presence"):]))
			require.NoError(t, err)
			assert.Equal(t, tt.want, priority(p))
		})
	}
}
