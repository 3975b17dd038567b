package memcore

import (
	"crypto/rand"
	"encoding/xml"
	"slices"
	"strings"

	"github.com/httpbind/httpbind/xmppstream"
)

// Subscription states as bits (RFC 6121 §2.1.2.5): subTo, the user gets
// the contact's presence; subFrom, the contact gets the user's.
const (
	subTo   uint8 = 1
	subFrom uint8 = 2
)

// item is one roster item (RFC 6121 §2.1.2); guarded by Core.mu.
type item struct {
	jid    xmppstream.JID // bare
	name   string
	groups []string
	sub    uint8
	ask    bool // a subscription request is pending (§2.1.2.2)
}

// subscription returns the state's name for the 'subscription' attribute.
func (it *item) subscription() string {
	return [...]string{"none", "to", "from", "both"}[it.sub&(subTo|subFrom)]
}

// elem writes the item (RFC 6121 §2.1.2).
func (it *item) elem() *elem {
	e := newElem("item", "jid", it.jid.String(), "name", it.name, "subscription", it.subscription())
	if it.ask {
		e.set("ask", "subscribe")
	}
	for _, g := range it.groups {
		e.text("group", g)
	}
	return e
}

// sortedItems returns a's roster sorted by JID.
func sortedItems(a *account) []*item {
	items := make([]*item, 0, len(a.roster))
	for _, it := range a.roster {
		items = append(items, it)
	}
	slices.SortFunc(items, func(x, y *item) int { return strings.Compare(x.jid.String(), y.jid.String()) })
	return items
}

// pushLocked sends a roster push for it to a's interested resources (RFC
// 6121 §2.1.6); an item whose sub is subRemove is pushed with
// subscription='remove' (§2.5.2).
func (c *Core) pushLocked(a *account, it *item, o *outbox) {
	e := it.elem()
	if it.sub == subRemove {
		e = newElem("item", "jid", it.jid.String(), "subscription", "remove")
	}
	query := newElem("query", "xmlns", nsRoster).add(e)
	for _, r := range a.resources {
		if r.interested {
			o.deliver(r, newStanza("iq", "type", "set", "id", "push-"+rand.Text(), "to", r.jid.String()).add(query).bytes())
		}
	}
}

// subRemove marks the item of a removal push.
const subRemove uint8 = 0xff

// rosterQuery is a jabber:iq:roster <query/> as a client sends it.
type rosterQuery struct {
	XMLName xml.Name `xml:"jabber:iq:roster query"`
	Items   []struct {
		JID          string   `xml:"jid,attr"`
		Name         string   `xml:"name,attr"`
		Subscription string   `xml:"subscription,attr"`
		Groups       []string `xml:"group"`
	} `xml:"item"`
}

// rosterLocked answers a roster get or set (RFC 6121 §2.2, §2.3, §2.5).
// A get makes r an interested resource. It returns the reply.
func (c *Core) rosterLocked(a *account, r *resource, typ string, p *elem, o *outbox) []byte {
	if typ == "get" {
		r.interested = true
		q := newElem("query", "xmlns", nsRoster)
		for _, it := range sortedItems(a) {
			q.add(it.elem())
		}
		return result(p, q)
	}
	var q rosterQuery
	if err := xml.Unmarshal(p.children[0].raw, &q); err != nil || len(q.Items) != 1 {
		return errorReply(p, "modify", "bad-request") // §2.3.3
	}
	in := q.Items[0]
	t, err := xmppstream.ParseJID(in.JID)
	if err != nil {
		return errorReply(p, "modify", "jid-malformed")
	}
	t = t.Bare()
	if in.Subscription == "remove" {
		if !c.removeItemLocked(a, t, o) {
			return errorReply(p, "cancel", "item-not-found") // §2.5.3
		}
		return result(p)
	}
	for i, g := range in.Groups {
		if g == "" {
			return errorReply(p, "modify", "not-acceptable") // §2.3.3
		}
		if slices.Contains(in.Groups[:i], g) {
			return errorReply(p, "modify", "bad-request")
		}
	}
	it := a.roster[t]
	if it == nil {
		it = &item{jid: t}
		a.roster[t] = it
	}
	it.name, it.groups = in.Name, in.Groups
	c.pushLocked(a, it, o)
	return result(p)
}

// removeItemLocked removes the item for t (RFC 6121 §2.5.2): the contact
// gets unsubscribe when a was subscribed to it or asking, and unsubscribed
// when it was subscribed to a or asking; then a's interested resources get
// a removal push. It reports false when there was no item.
func (c *Core) removeItemLocked(a *account, t xmppstream.JID, o *outbox) bool {
	it := a.roster[t]
	if it == nil {
		return false
	}
	delete(a.roster, t)
	asked := a.takePending(t)
	if b := c.accountLocked(t); b != nil {
		if it.sub&subTo != 0 || it.ask {
			c.inUnsubscribeLocked(b, a.jid, newStanza("presence", "from", a.jid.String(), "to", t.String(), "type", "unsubscribe"), o)
		}
		if it.sub&subFrom != 0 {
			c.presenceFromLocked(a, b, true, o)
		}
		if it.sub&subFrom != 0 || asked {
			c.inUnsubscribedLocked(b, a.jid, newStanza("presence", "from", a.jid.String(), "to", t.String(), "type", "unsubscribed"), o)
		}
	}
	c.pushLocked(a, &item{jid: t, sub: subRemove}, o)
	return true
}
