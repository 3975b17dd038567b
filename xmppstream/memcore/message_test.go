package memcore

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMessageRouting checks where a message from alice goes (RFC 6121
// §8.5). bob has resources "hi" (priority 5), "hi2" (5), "lo" (1) and
// "neg" (-1), all available, and "quiet", bound without presence.
func TestMessageRouting(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    []string // bob's resources that get it
		bounce  string   // condition of the error alice gets, if any
		offline int      // stored for bob
	}{
		{name: "full JID, available (§8.5.3.1)", message: "<message to='bob@example.com/lo' type='chat'><body>x</body></message>", want: []string{"lo"}},
		{name: "full JID, negative priority still gets it", message: "<message to='bob@example.com/neg' type='chat'><body>x</body></message>", want: []string{"neg"}},
		{name: "full JID, bound without presence", message: "<message to='bob@example.com/quiet'><body>x</body></message>", want: []string{"quiet"}},
		{name: "bare JID chat: highest priority, ties all (§8.5.2.1.1)", message: "<message to='bob@example.com' type='chat'><body>x</body></message>", want: []string{"hi", "hi2"}},
		{name: "bare JID normal (no type)", message: "<message to='bob@example.com'><body>x</body></message>", want: []string{"hi", "hi2"}},
		{name: "bare JID headline: all non-negative", message: "<message to='bob@example.com' type='headline'><body>x</body></message>", want: []string{"hi", "hi2", "lo"}},
		{name: "full JID nobody holds: as bare (§8.5.3.2.1)", message: "<message to='bob@example.com/gone' type='chat'><body>x</body></message>", want: []string{"hi", "hi2"}},
		{name: "groupchat to bare JID", message: "<message to='bob@example.com' type='groupchat'><body>x</body></message>", bounce: "service-unavailable"},
		{name: "groupchat to full JID nobody holds", message: "<message to='bob@example.com/gone' type='groupchat'><body>x</body></message>", bounce: "service-unavailable"},
		{name: "error to bare JID is dropped", message: "<message to='bob@example.com' type='error'/>"},
		{name: "error to full JID is delivered", message: "<message to='bob@example.com/lo' type='error'/>", want: []string{"lo"}},
		{name: "unknown user", message: "<message to='nobody@example.com' type='chat'><body>x</body></message>", bounce: "service-unavailable"},
		{name: "unknown user, error type: dropped", message: "<message to='nobody@example.com' type='error'/>"},
		{name: "the server", message: "<message to='example.com'><body>x</body></message>", bounce: "service-unavailable"},
		{name: "another domain: no s2s", message: "<message to='bob@example.org'><body>x</body></message>", bounce: "remote-server-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t, Config{})
			bob := map[string]*fakeClient{}
			for res, prio := range map[string]int{"hi": 5, "hi2": 5, "lo": 1, "neg": -1} {
				bob[res] = login(t, c, "bob", res, prio)
			}
			bob["quiet"] = bind(t, c, "bob", "quiet")
			for _, f := range bob {
				f.take(t)
			}
			alice := login(t, c, "alice", "a", 0)

			route(t, c, alice, tt.message)

			var got []string
			for _, res := range []string{"hi", "hi2", "lo", "neg", "quiet"} {
				for _, n := range bob[res].take(t) {
					assert.Equal(t, "alice@example.com/a", n.attr("from"), "'from' as stamped")
					assert.Equal(t, "jabber:client", n.XMLName.Space)
					got = append(got, res)
				}
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.offline, offline(c, "bob"))
			back := alice.take(t)
			if tt.bounce == "" {
				assert.Empty(t, back)
				return
			}
			require.Len(t, back, 1)
			typ, cond := stanzaError(t, back[0])
			assert.Equal(t, "cancel", typ)
			assert.Equal(t, tt.bounce, cond)
			assert.Equal(t, "alice@example.com/a", back[0].attr("to"), "to and from swapped (RFC 6120 §8.3.1)")
		})
	}
}

func TestMessageBounceEchoes(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)
	route(t, c, alice, "<message to='nobody@example.com' type='chat' id='m&amp;1' xml:lang='en'><body>a &lt;b&gt; &amp; 'c'</body><x:thread xmlns:x='jabber:client'>t</x:thread></message>")
	back := alice.take(t)
	require.Len(t, back, 1)
	n := back[0]
	assert.Equal(t, "message", n.XMLName.Local)
	assert.Equal(t, "nobody@example.com", n.attr("from"))
	assert.Equal(t, "alice@example.com/a", n.attr("to"))
	assert.Equal(t, "m&1", n.attr("id"), "escaped again")
	require.NotNil(t, n.child(nsClient, "body"))
	assert.Equal(t, "a <b> & 'c'", n.child(nsClient, "body").Text, "the payload is echoed (RFC 6120 §8.3.1)")
	require.NotNil(t, n.child(nsClient, "thread"))
	assert.Equal(t, "cancel", n.child(nsClient, "error").attr("type"))
}

// TestOfflineMessages covers XEP-0160 with XEP-0203 stamps.
func TestOfflineMessages(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)
	route(t, c, alice, "<message to='bob@example.com' type='chat'><body>one</body></message>")
	route(t, c, alice, "<message to='bob@example.com/phone'><body>two</body></message>")
	route(t, c, alice, "<message to='bob@example.com' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>")
	route(t, c, alice, "<message to='bob@example.com' type='headline'><body>news</body></message>")
	assert.Empty(t, alice.take(t), "stored, not bounced")
	assert.Equal(t, 2, offline(c, "bob"), "chat states and headlines are not kept")

	neg := login(t, c, "bob", "neg", -1)
	assert.Equal(t, 2, offline(c, "bob"), "not delivered at negative priority")
	assert.Empty(t, neg.take(t))

	bob := bind(t, c, "bob", "phone")
	route(t, c, bob, "<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
	bob.take(t)
	assert.Equal(t, 2, offline(c, "bob"), "kept until initial presence")
	route(t, c, bob, "<presence/>")
	var bodies []string
	for _, n := range bob.take(t) {
		if n.XMLName.Local != "message" {
			continue
		}
		bodies = append(bodies, n.child(nsClient, "body").Text)
		d := n.child(nsDelay, "delay")
		require.NotNil(t, d, n.raw)
		assert.Equal(t, fixedStamp, d.attr("stamp"))
		assert.Equal(t, "example.com", d.attr("from"))
		assert.Equal(t, "alice@example.com/a", n.attr("from"))
	}
	assert.Equal(t, []string{"one", "two"}, bodies, "in order")
	assert.Equal(t, 0, offline(c, "bob"))

	route(t, c, bob, "<presence><show>away</show></presence>")
	for _, n := range bob.take(t) {
		assert.NotEqual(t, "message", n.XMLName.Local, "not redelivered on a presence update")
	}
}

func TestOfflineStoreFull(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)
	for i := range maxOffline {
		route(t, c, alice, "<message to='bob@example.com'><body>"+strconv.Itoa(i)+"</body></message>")
	}
	assert.Empty(t, alice.take(t))
	route(t, c, alice, "<message to='bob@example.com'><body>one too many</body></message>")
	back := alice.take(t)
	require.Len(t, back, 1)
	_, cond := stanzaError(t, back[0])
	assert.Equal(t, "service-unavailable", cond)
}

// TestX23DeliverFailure checks that a client whose Deliver reports false
// (its BOSH session is gone, XEP-0206 §7) is treated as unavailable: a
// message goes to another resource or offline (XEP-0160), an iq gets
// service-unavailable, a presence is dropped.
func TestX23DeliverFailure(t *testing.T) {
	c := newCore(t, Config{})
	subscribeBoth(t, c)
	alice := login(t, c, "alice", "a", 0)
	bob := login(t, c, "bob", "b", 5)
	alice.take(t)
	bob.setGone()

	route(t, c, alice, "<message to='bob@example.com/b' type='chat'><body>x</body></message>")
	assert.Equal(t, []string{"presence unavailable bob@example.com/b→alice@example.com"}, kinds(alice.take(t)), "bob is unavailable to his contacts")
	assert.Equal(t, 1, offline(c, "bob"))

	route(t, c, alice, "<iq to='bob@example.com/b' type='get' id='v'><query xmlns='jabber:iq:version'/></iq>")
	back := alice.take(t)
	require.Len(t, back, 1)
	_, cond := stanzaError(t, back[0])
	assert.Equal(t, "service-unavailable", cond, "an iq for a gone resource (XEP-0206 §7)")
	route(t, c, alice, "<presence to='bob@example.com/b'/>")
	assert.Empty(t, alice.take(t), "a presence for a gone resource is dropped (XEP-0206 §7)")

	lo := login(t, c, "bob", "lo", 0)
	other := login(t, c, "bob", "hi", 1)
	lo.take(t)
	other.setGone()
	route(t, c, alice, "<message to='bob@example.com' type='chat'><body>y</body></message>")
	var got []string
	for _, n := range lo.take(t) {
		if n.XMLName.Local == "message" {
			got = append(got, n.child(nsClient, "body").Text)
		}
	}
	assert.Equal(t, []string{"y"}, got, "rerouted to the remaining resource")
}

// TestRouteWithoutElement: a Stanza made elsewhere than the Server comes
// without its Element; the core parses Raw and routes it the same, and
// drops what is not a jabber:client stanza.
func TestRouteWithoutElement(t *testing.T) {
	tests := []struct{ name, message string }{
		{"a message to a full JID (RFC 6121 §8.5.3.1)", "<message to='bob@example.com/b' type='chat'><body>x</body></message>"},
		{"a message to the bare JID (RFC 6121 §8.5.2.1.1)", "<message to='bob@example.com' type='chat'><body>x</body></message>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t, Config{})
			bob := login(t, c, "bob", "b", 0)
			bob.take(t)
			alice := login(t, c, "alice", "a", 0)
			st := stanza(t, alice.JID(), tt.message)
			st.Element = nil
			c.Route(context.Background(), alice, st)
			got := bob.take(t)
			if assert.Len(t, got, 1) {
				assert.Equal(t, "alice@example.com/a", got[0].attr("from"))
			}

			st.Raw = []byte(strings.Replace(string(st.Raw), "jabber:client", "jabber:server", 1))
			c.Route(context.Background(), alice, st)
			assert.Empty(t, bob.take(t), "not a jabber:client stanza: dropped")

			st = stanza(t, alice.JID(), tt.message)
			st.Element.Space = []byte("jabber:server")
			c.Route(context.Background(), alice, st)
			assert.Empty(t, bob.take(t), "an Element not in jabber:client: dropped")
		})
	}
}
