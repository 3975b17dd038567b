package memcore

import (
	"context"
	"encoding/xml"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/xmppstream"
)

// fixedNow is the clock of test cores: offline messages get this stamp.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

const fixedStamp = "2024-05-06T07:08:09.000Z"

// fakeClient is an xmppstream.Client that records what it gets. Once gone,
// Deliver reports false.
type fakeClient struct {
	mu    sync.Mutex
	jid   xmppstream.JID
	got   [][]byte
	kicks []string
	gone  bool
}

func (f *fakeClient) JID() xmppstream.JID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jid
}

func (f *fakeClient) Deliver(b []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return false
	}
	f.got = append(f.got, append([]byte(nil), b...))
	return true
}

func (f *fakeClient) Kick(cond xmppstream.StreamCondition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kicks = append(f.kicks, string(cond))
}

func (f *fakeClient) setGone() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = true
}

func (f *fakeClient) kicked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.kicks...)
}

// take returns and forgets the stanzas delivered so far, decoded.
func (f *fakeClient) take(t *testing.T) []node {
	t.Helper()
	f.mu.Lock()
	got := f.got
	f.got = nil
	f.mu.Unlock()
	nodes := make([]node, 0, len(got))
	for _, b := range got {
		nodes = append(nodes, decode(t, b))
	}
	return nodes
}

// node is a decoded element for assertions.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
	raw     string
}

func decode(t *testing.T, b []byte) node {
	t.Helper()
	var n node
	require.NoError(t, xml.Unmarshal(b, &n), "%s", b)
	n.raw = string(b)
	return n
}

// attr returns an unprefixed attribute's value.
func (n node) attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// child returns the first child with the namespace and local name, or nil.
func (n node) child(space, local string) *node {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Space == space && n.Nodes[i].XMLName.Local == local {
			return &n.Nodes[i]
		}
	}
	return nil
}

// kind summarizes a stanza as "name type from→to" for compact assertions.
func (n node) kind() string {
	return n.XMLName.Local + " " + n.attr("type") + " " + n.attr("from") + "→" + n.attr("to")
}

func kinds(ns []node) []string {
	ks := make([]string, 0, len(ns))
	for _, n := range ns {
		ks = append(ks, n.kind())
	}
	return ks
}

// stanzaError returns the type and condition of an error stanza.
func stanzaError(t *testing.T, n node) (typ, cond string) {
	t.Helper()
	require.Equal(t, "error", n.attr("type"), n.raw)
	e := n.child(nsClient, "error")
	require.NotNil(t, e, n.raw)
	require.Len(t, e.Nodes, 1, n.raw)
	require.Equal(t, nsStanzas, e.Nodes[0].XMLName.Space)
	return e.attr("type"), e.Nodes[0].XMLName.Local
}

// newCore returns a core for example.com with users alice, bob and carol.
func newCore(t *testing.T, cfg Config) *Core {
	t.Helper()
	if cfg.Domain == "" {
		cfg.Domain = "example.com"
	}
	c := mustNew(t, cfg)
	c.now = func() time.Time { return fixedNow }
	for _, u := range []string{"alice", "bob", "carol"} {
		require.NoError(t, c.AddUser(u, "pw-"+u))
	}
	return c
}

// bind binds a fake client and starts its session.
func bind(t *testing.T, c *Core, user, res string) *fakeClient {
	t.Helper()
	f := &fakeClient{}
	j, err := c.Bind(context.Background(), f, xmppstream.JID{Local: user, Domain: c.Domain()}, res)
	require.NoError(t, err)
	f.jid = j
	require.NoError(t, c.StartSession(context.Background(), f))
	return f
}

// login binds, requests the roster and sends initial presence, as
// converse.js does, then forgets what the client got.
func login(t *testing.T, c *Core, user, res string, prio int) *fakeClient {
	t.Helper()
	f := bind(t, c, user, res)
	route(t, c, f, "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	route(t, c, f, "<presence><priority>"+strconv.Itoa(prio)+"</priority></presence>")
	f.take(t)
	return f
}

// route sends raw from f the way xmppstream.Server does: 'from' stamped,
// xmlns='jabber:client' declared, the Stanza fields filled in.
func route(t *testing.T, c *Core, f *fakeClient, raw string) {
	t.Helper()
	c.Route(context.Background(), f, stanza(t, f.JID(), raw))
}

func stanza(t *testing.T, from xmppstream.JID, raw string) *xmppstream.Stanza {
	t.Helper()
	st, err := buildStanza(from, raw)
	require.NoError(t, err, raw)
	return st
}

func buildStanza(from xmppstream.JID, raw string) (*xmppstream.Stanza, error) {
	var head struct {
		XMLName xml.Name
		To      string `xml:"to,attr"`
		Type    string `xml:"type,attr"`
		ID      string `xml:"id,attr"`
	}
	if err := xml.Unmarshal([]byte(raw), &head); err != nil {
		return nil, err
	}
	name := head.XMLName.Local
	raw = strings.Replace(raw, "<"+name, "<"+name+" xmlns='jabber:client' from='"+from.String()+"'", 1)
	st := &xmppstream.Stanza{Name: name, Type: head.Type, ID: head.ID, From: from, Raw: []byte(raw)}
	// The Element the Server carries: the stamped stanza parsed.
	el, err := parseElement(st.Raw)
	if err != nil {
		return nil, err
	}
	st.Element = el
	if head.To != "" {
		to, err := xmppstream.ParseJID(head.To)
		if err != nil {
			return nil, err
		}
		st.To = to
	}
	return st, nil
}

// offline returns how many stanzas user has in offline storage.
func offline(c *Core, user string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.accounts[user].offline)
}

// subscribeBoth makes alice and bob subscribed to each other (RFC 6121
// §3.1), with clients that are gone afterwards.
func subscribeBoth(t *testing.T, c *Core) {
	t.Helper()
	a, b := bind(t, c, "alice", "setup"), bind(t, c, "bob", "setup")
	for _, f := range []*fakeClient{a, b} {
		route(t, c, f, "<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
	}
	route(t, c, a, "<presence type='subscribe' to='bob@example.com'/>")
	route(t, c, b, "<presence type='subscribed' to='alice@example.com'/>")
	route(t, c, b, "<presence type='subscribe' to='alice@example.com'/>")
	route(t, c, a, "<presence type='subscribed' to='bob@example.com'/>")
	c.Unbind(a, nil)
	c.Unbind(b, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pair := range [][2]string{{"alice", "bob"}, {"bob", "alice"}} {
		it := c.accounts[pair[0]].roster[xmppstream.JID{Local: pair[1], Domain: c.domain}]
		require.NotNil(t, it)
		require.Equal(t, "both", it.subscription())
		require.False(t, it.ask)
	}
}

// mustNew returns New(cfg), failing the test on an error.
func mustNew(tb testing.TB, cfg Config) *Core {
	tb.Helper()
	c, err := New(cfg)
	require.NoError(tb, err)
	return c
}
