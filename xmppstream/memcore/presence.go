package memcore

import (
	"bytes"
	"strconv"

	"github.com/httpbind/httpbind/xmppstream"
)

// routePresenceLocked handles presence from r (RFC 6121 §3, §4):
//   - available presence without 'to' is broadcast to the contacts whose
//     subscription is from or both and to the user's available resources,
//     the sender included (§4.2.2, §4.4.2); the first one (initial
//     presence) also brings the sender the presence of the contacts whose
//     subscription is to or both and of the user's other resources
//     (§4.2.2's probes), pending subscription requests and, at
//     non-negative priority, offline messages (XEP-0160 §3);
//   - unavailable presence without 'to' goes to the same contacts and
//     resources, and to every entity that got directed presence (§4.5.2);
//   - presence with 'to' is directed presence (§4.6), delivered to that
//     full JID if a client holds it or to the user's available resources;
//   - probes are answered with the contact's presence when the sender's
//     subscription allows it (§4.3); subscription presences are handled by
//     subscriptionLocked (§3).
//
// Presence to other domains or to the server is dropped.
func (c *Core) routePresenceLocked(a *account, r *resource, st *xmppstream.Stanza, p *elem, o *outbox) {
	switch st.Type {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		if !st.To.IsZero() {
			c.subscriptionLocked(a, st.Type, st.To.Bare(), p, o)
		}
		return
	case "probe":
		if it := a.roster[st.To.Bare()]; it != nil && it.sub&subTo != 0 {
			c.presenceOfLocked(c.accountLocked(st.To), r, o)
		}
		return
	case "", "unavailable", "error":
	default:
		return
	}
	switch {
	case !st.To.IsZero():
		c.directedLocked(r, st, o)
	case st.Type == "":
		c.availableLocked(a, r, p, o)
	case st.Type == "unavailable" && (r.available || len(r.directed) > 0):
		c.unavailableLocked(a, r, p, o)
	}
}

// availableLocked broadcasts r's available presence.
func (c *Core) availableLocked(a *account, r *resource, p *elem, o *outbox) {
	p = p.clone().set("to", "")
	initial := !r.available
	r.available, r.priority, r.presence = true, priority(p), p
	c.broadcastLocked(a, p, o)
	if !initial {
		return
	}
	for _, it := range sortedItems(a) {
		if it.sub&subTo != 0 {
			c.presenceOfLocked(c.accountLocked(it.jid), r, o)
		}
	}
	for _, other := range a.available() {
		if other != r {
			o.deliver(r, other.presence.with("to", r.jid.String()))
		}
	}
	for _, pd := range a.pendingIn {
		o.deliver(r, pd.raw)
	}
	if r.priority < 0 || len(a.offline) == 0 {
		return
	}
	stored := a.offline
	a.offline = nil
	for _, m := range stored {
		o.deliverAll([]*resource{r}, m, &fallback{run: func(*outbox) { a.offline = append(a.offline, m) }})
	}
}

// unavailableLocked broadcasts r's unavailable presence, also to the
// entities it sent directed presence to (RFC 6121 §4.5.2, §4.6.3).
func (c *Core) unavailableLocked(a *account, r *resource, p *elem, o *outbox) {
	p = p.clone().set("to", "")
	seen := make(map[xmppstream.JID]bool)
	if r.available {
		r.available, r.priority, r.presence = false, 0, nil
		seen = c.broadcastLocked(a, p, o)
	}
	for t := range r.directed {
		data := p.with("to", t.String())
		for _, rt := range c.presenceTargetsLocked(t) {
			if !seen[rt.jid] {
				seen[rt.jid] = true
				o.deliver(rt, data)
			}
		}
	}
	r.directed = nil
}

// broadcastLocked sends p, a presence from one of a's resources, to the
// available resources of a's contacts with subscription from or both, and
// to a's own available resources. It returns the full JIDs it reached.
func (c *Core) broadcastLocked(a *account, p *elem, o *outbox) map[xmppstream.JID]bool {
	seen := make(map[xmppstream.JID]bool)
	send := func(b *account) {
		data := p.with("to", b.jid.String())
		for _, rb := range b.available() {
			if !seen[rb.jid] {
				seen[rb.jid] = true
				o.deliver(rb, data)
			}
		}
	}
	send(a)
	for _, it := range sortedItems(a) {
		if b := c.accountLocked(it.jid); b != nil && it.sub&subFrom != 0 {
			send(b)
		}
	}
	return seen
}

// presenceOfLocked sends r the presence of b's available resources (RFC
// 6121 §4.3.2). b may be nil.
func (c *Core) presenceOfLocked(b *account, r *resource, o *outbox) {
	if b == nil {
		return
	}
	for _, rb := range b.available() {
		o.deliver(r, rb.presence.with("to", r.jid.String()))
	}
}

// directedLocked delivers directed presence and remembers or forgets its
// addressee for the unavailable broadcast (RFC 6121 §4.6).
func (c *Core) directedLocked(r *resource, st *xmppstream.Stanza, o *outbox) {
	for _, rt := range c.presenceTargetsLocked(st.To) {
		o.deliver(rt, st.Raw)
	}
	switch st.Type {
	case "":
		if r.directed == nil {
			r.directed = make(map[xmppstream.JID]bool)
		}
		r.directed[st.To] = true
	case "unavailable":
		delete(r.directed, st.To)
	}
}

// presenceTargetsLocked returns who gets presence addressed to t: the
// client holding full JID t, or the available resources of bare JID t
// (RFC 6121 §8.5.2.1.1, §8.5.3.2.1).
func (c *Core) presenceTargetsLocked(t xmppstream.JID) []*resource {
	b := c.accountLocked(t)
	switch {
	case b == nil:
		return nil
	case t.Resource == "":
		return b.available()
	case b.resources[t.Resource] != nil:
		return []*resource{b.resources[t.Resource]}
	}
	return nil
}

// presenceFromLocked sends y's available resources presence from each of
// x's available resources: their last presence, or unavailable presence
// when unavailable is set (RFC 6121 §3.1.5, §3.2.2, §3.3.3). y may be nil.
func (c *Core) presenceFromLocked(x, y *account, unavailable bool, o *outbox) {
	if y == nil {
		return
	}
	for _, rx := range x.available() {
		data := rx.presence.with("to", y.jid.String())
		if unavailable {
			data = newStanza("presence", "from", rx.jid.String(), "to", y.jid.String(), "type", "unavailable").bytes()
		}
		o.deliverAll(y.available(), data, nil)
	}
}

// priority returns the <priority/> of an available presence (RFC 6121
// §4.7.2.3): an integer from -128 to 127, 0 when absent or malformed.
func priority(p *elem) int {
	for _, ch := range p.children {
		if ch.space != nsClient || ch.local != "priority" {
			continue
		}
		raw := ch.raw
		i, j := bytes.IndexByte(raw, '>'), bytes.LastIndexByte(raw, '<')
		if i < 0 || j <= i {
			return 0
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(raw[i+1 : j])))
		if err != nil || n < -128 || n > 127 {
			return 0
		}
		return n
	}
	return 0
}
