package memcore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/xmlscan"
	"github.com/httpbind/httpbind/xmppstream"
)

var fuzzSeeds = []string{
	"<message xmlns='jabber:client' to='bob@example.com' type='chat'><body>hi</body></message>",
	"<message xmlns='jabber:client' to='bob@example.com'><body>a &amp; &lt;b&gt;</body><x:y xmlns:x='urn:x'/></message>",
	"<c:message xmlns:c='jabber:client' xmlns:e='urn:e' e:a='1' to='bob@example.com'><c:body>x</c:body><e:z/></c:message>",
	"<presence xmlns='jabber:client' xml:lang='en'><priority>5</priority><status>s&#x9;t</status></presence>",
	"<presence xmlns='jabber:client' type='subscribe' to='bob@example.com'/>",
	"<iq xmlns='jabber:client' type='set' id='1'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' name='&apos;'><group>g</group></item></query></iq>",
	"<iq xmlns='jabber:client' type='get' id='2' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
	"<message xmlns='urn:other'/>",
}

// FuzzParse checks the stanza rewriter: whatever parses is written back
// as a well-formed jabber:client stanza with the attributes set, the
// children kept and an error reply that parses too.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := parse(raw)
		if err != nil {
			return
		}
		out := p.with("to", "a'b\"<&>\t@example.com", "from", "")
		var doc xmlscan.Doc
		require.NoError(t, xmlscan.Parse(out, xmlscan.Limits{MaxAttrs: 200, NoRootText: true}, &doc), "%s", out)
		assert.Equal(t, nsClient, string(doc.Space))
		assert.Equal(t, p.name, string(doc.Local))
		to, ok := doc.Attr("", "to")
		assert.True(t, ok)
		assert.Equal(t, "a'b\"<&>\t@example.com", string(to), "escaped and read back")
		_, ok = doc.Attr("", "from")
		assert.False(t, ok)
		assert.Len(t, doc.Children, len(p.children))

		again, err := parse(out)
		require.NoError(t, err)
		assert.Equal(t, out, again.bytes(), "parse and write are stable")

		reply := errorReply(p, "cancel", "service-unavailable")
		require.NoError(t, xmlscan.Parse(reply, xmlscan.Limits{MaxAttrs: 200, NoRootText: true}, &doc), "%s", reply)
	})
}

// FuzzRoute routes arbitrary stanzas from a bound client: no panic, and
// whatever the core delivers is a well-formed jabber:client stanza.
func FuzzRoute(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := mustNew(t, Config{Domain: "example.com"})
		for _, u := range []string{"alice", "bob"} { // without AddUser's key derivation, for speed
			require.NoError(t, c.addAccount(xmppstream.JID{Local: u, Domain: "example.com"}, xmppstream.Credentials{}))
		}
		alice := login(t, c, "alice", "a", 0)
		bob := login(t, c, "bob", "b", 0)
		var doc xmlscan.Doc
		if xmlscan.Parse(raw, xmlscan.Limits{NoRootText: true}, &doc) != nil {
			return
		}
		st := &xmppstream.Stanza{Name: string(doc.Local), From: alice.JID(), Raw: raw}
		if v, ok := doc.Attr("", "type"); ok {
			st.Type = string(v)
		}
		if v, ok := doc.Attr("", "to"); ok {
			st.To, _ = xmppstream.ParseJID(string(v))
		}
		c.Route(context.Background(), alice, st)
		for _, fc := range []*fakeClient{alice, bob} {
			fc.mu.Lock()
			got := fc.got
			fc.mu.Unlock()
			for _, b := range got {
				require.NoError(t, xmlscan.Parse(b, xmlscan.Limits{MaxAttrs: 200, NoRootText: true}, &doc), "%s", b)
				assert.Equal(t, nsClient, string(doc.Space), "%s", b)
			}
		}
	})
}
