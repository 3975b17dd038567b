package memcore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIQ checks iq handling from alice/a with bob/b online.
func TestIQ(t *testing.T) {
	tests := []struct {
		name  string
		iq    string
		want  string // kind of alice's answer; "" for none
		cond  string // its error condition, if any
		toBob bool   // delivered to bob/b as sent
	}{
		{name: "ping, no 'to' (XEP-0199 §4.2)", iq: "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>", want: "iq result →alice@example.com/a"},
		{name: "ping to the server", iq: "<iq type='get' id='p' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>", want: "iq result example.com→alice@example.com/a"},
		{name: "ping to own bare JID", iq: "<iq type='get' id='p' to='alice@example.com'><ping xmlns='urn:xmpp:ping'/></iq>", want: "iq result alice@example.com→alice@example.com/a"},
		{name: "RFC 3921 session", iq: "<iq type='set' id='s' to='example.com'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>", want: "iq result example.com→alice@example.com/a"},
		{name: "vCard: service-unavailable", iq: "<iq type='get' id='v'><vCard xmlns='vcard-temp'/></iq>", want: "iq error →alice@example.com/a", cond: "service-unavailable"},
		{name: "ping as set: service-unavailable", iq: "<iq type='set' id='p'><ping xmlns='urn:xmpp:ping'/></iq>", want: "iq error →alice@example.com/a", cond: "service-unavailable"},
		{name: "two payloads (RFC 6120 §8.2.3)", iq: "<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>", want: "iq error →alice@example.com/a", cond: "bad-request"},
		{name: "no payload", iq: "<iq type='get' id='x'/>", want: "iq error →alice@example.com/a", cond: "bad-request"},
		{name: "unknown type", iq: "<iq type='poke' id='x'><ping xmlns='urn:xmpp:ping'/></iq>", want: "iq error →alice@example.com/a", cond: "bad-request"},
		{name: "result to the server: never answered", iq: "<iq type='result' id='push-1'/>"},
		{name: "error to the server: never answered", iq: "<iq type='error' id='push-1'/>"},
		{name: "disco#info with a node", iq: "<iq type='get' id='d' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info' node='n'/></iq>", want: "iq error example.com→alice@example.com/a", cond: "item-not-found"},
		{name: "to another user's bare JID", iq: "<iq type='get' id='v' to='bob@example.com'><vCard xmlns='vcard-temp'/></iq>", want: "iq error bob@example.com→alice@example.com/a", cond: "service-unavailable"},
		{name: "to a bound full JID", iq: "<iq type='get' id='v' to='bob@example.com/b'><query xmlns='jabber:iq:version'/></iq>", toBob: true},
		{name: "result to a bound full JID", iq: "<iq type='result' id='v' to='bob@example.com/b'/>", toBob: true},
		{name: "to a full JID nobody holds (XEP-0206 §7)", iq: "<iq type='get' id='v' to='bob@example.com/x'><query xmlns='jabber:iq:version'/></iq>", want: "iq error bob@example.com/x→alice@example.com/a", cond: "service-unavailable"},
		{name: "result to a full JID nobody holds", iq: "<iq type='result' id='v' to='bob@example.com/x'/>"},
		{name: "unknown user", iq: "<iq type='get' id='v' to='nobody@example.com/x'><query xmlns='jabber:iq:version'/></iq>", want: "iq error nobody@example.com/x→alice@example.com/a", cond: "service-unavailable"},
		{name: "another domain", iq: "<iq type='get' id='v' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>", want: "iq error example.org→alice@example.com/a", cond: "remote-server-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(t, Config{})
			alice := login(t, c, "alice", "a", 0)
			bob := login(t, c, "bob", "b", 0)
			route(t, c, alice, tt.iq)
			got := alice.take(t)
			if tt.want == "" {
				assert.Empty(t, got)
			} else {
				require.Len(t, got, 1)
				assert.Equal(t, tt.want, got[0].kind())
				assert.Equal(t, stanza(t, alice.JID(), tt.iq).ID, got[0].attr("id"))
				assert.Equal(t, nsClient, got[0].XMLName.Space)
			}
			if tt.cond != "" {
				_, cond := stanzaError(t, got[0])
				assert.Equal(t, tt.cond, cond)
				if tt.cond == "service-unavailable" {
					assert.Equal(t, "cancel", got[0].child(nsClient, "error").attr("type"))
				}
			} else if len(got) == 1 {
				assert.Nil(t, got[0].child(nsClient, "error"))
			}
			fromBob := bob.take(t)
			if !tt.toBob {
				assert.Empty(t, fromBob)
				return
			}
			require.Len(t, fromBob, 1)
			assert.Equal(t, string(stanza(t, alice.JID(), tt.iq).Raw), fromBob[0].raw, "delivered as the client's bytes")
		})
	}
}

func TestDiscoInfo(t *testing.T) {
	c := newCore(t, Config{})
	alice := login(t, c, "alice", "a", 0)

	route(t, c, alice, "<iq type='get' id='d' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	got := alice.take(t)
	require.Len(t, got, 1)
	q := got[0].child(nsDiscoInfo, "query")
	require.NotNil(t, q, got[0].raw)
	id := q.child(nsDiscoInfo, "identity")
	require.NotNil(t, id)
	assert.Equal(t, "server", id.attr("category"), "XEP-0030 §3.1")
	assert.Equal(t, "im", id.attr("type"))
	var vars []string
	for _, n := range q.Nodes {
		if n.XMLName.Local == "feature" {
			vars = append(vars, n.attr("var"))
		}
	}
	assert.Subset(t, vars, []string{nsDiscoInfo, nsPing, nsRoster, nsSession, "msgoffline"})

	route(t, c, alice, "<iq type='get' id='d' to='alice@example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	got = alice.take(t)
	require.Len(t, got, 1)
	id = got[0].child(nsDiscoInfo, "query").child(nsDiscoInfo, "identity")
	require.NotNil(t, id)
	assert.Equal(t, "account", id.attr("category"), "the account answers for itself")
}
