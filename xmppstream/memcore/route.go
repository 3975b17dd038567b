package memcore

import (
	"cmp"
	"context"
	"slices"

	"github.com/httpbind/httpbind/xmppstream"
)

// Route handles one stanza from a bound client (RFC 6120 §10, RFC 6121
// §8.5). Stanzas from a client that no longer holds its resource (it was
// replaced or found gone) are dropped. There is no server-to-server link:
// messages and iq requests to other domains get remote-server-not-found,
// presence to them is dropped.
//
// Messages: to a bound full JID, delivered there; to a bare JID or a full
// JID nobody holds, delivered to the available resources of highest
// non-negative priority (types normal and chat; headline to all of
// non-negative priority); with none available, normal and chat messages
// are stored offline with a <delay/> (XEP-0160, XEP-0203) and delivered at
// the user's next initial presence of non-negative priority, unless they
// only carry chat states (XEP-0085 §5.5); groupchat messages get
// service-unavailable; errors and headlines are dropped. Messages to
// unknown users and to the server get service-unavailable.
//
// Presence (RFC 6121 §3, §4): available and unavailable presence without
// 'to' is broadcast to the contacts with subscription from or both and to
// the user's available resources; initial presence also brings the
// contacts' presence (as probes would), pending subscription requests and
// offline messages. Presence with 'to' is directed presence, remembered
// for the unavailable broadcast. Subscription requests, approvals and
// cancellations update both rosters with pushes to the resources that
// requested the roster; requests to a user who is offline are kept and
// delivered at the next initial presence.
//
// IQs (RFC 6120 §8.2.3): without 'to', or to the server or the user's own
// bare JID, the core answers roster get and set (RFC 6121 §2), ping
// (XEP-0199), disco#info (XEP-0030) and the session request (RFC 3921 §3),
// and any other request with service-unavailable. Requests to a bound
// full JID are delivered; to anyone else, service-unavailable. Results
// and errors are never answered with an error.
func (c *Core) Route(_ context.Context, from xmppstream.Client, st *xmppstream.Stanza) {
	j := from.JID()
	el, err := element(st)
	if err != nil {
		c.log.Debug("memcore: unparsable stanza dropped", "from", j.String(), "err", err)
		return
	}
	var o outbox
	defer c.flush(&o)
	c.mu.Lock()
	defer c.mu.Unlock()
	a, r := c.boundLocked(from, j)
	if r == nil {
		c.log.Debug("memcore: stanza from unbound client dropped", "from", j.String())
		return
	}
	switch st.Name {
	case "message":
		c.routeMessageLocked(a, st, el, &o)
	case "presence":
		c.routePresenceLocked(a, r, st, newElemOf(el), &o)
	case "iq":
		c.routeIQLocked(a, r, st, newElemOf(el), &o)
	}
}

// routeMessageLocked routes a message (RFC 6121 §8.5). A message that is
// delivered as it is never needs an elem: it is made only to bounce or
// store the message.
func (c *Core) routeMessageLocked(a *account, st *xmppstream.Stanza, el *xmppstream.Element, o *outbox) {
	typ := cmp.Or(st.Type, "normal")
	to := st.To
	if to.IsZero() {
		to = a.jid // RFC 6120 §10.3.1: no 'to' means the sender's bare JID
	}
	bounce := func(cond string) {
		if typ != "error" {
			p := newElemOf(el)
			c.replyLocked(p, errorReply(p, "cancel", cond), o)
		}
	}
	if to.Domain != c.domain {
		bounce("remote-server-not-found")
		return
	}
	b := c.accountLocked(to)
	if b == nil {
		bounce("service-unavailable")
		return
	}
	if to.Resource != "" {
		if r := b.resources[to.Resource]; r != nil {
			o.deliverAll([]*resource{r}, st.Raw, c.rerouteFallback(b, typ, el, st.Raw))
			return
		}
		if typ == "groupchat" { // RFC 6121 §8.5.3.2.1
			bounce("service-unavailable")
			return
		}
	}
	switch typ {
	case "error":
		return // RFC 6121 §8.5.2.1.1, §8.5.3.2.1
	case "groupchat":
		bounce("service-unavailable")
		return
	}
	if !c.toBareLocked(b, typ, el, st.Raw, o) {
		bounce("service-unavailable")
	}
}

// toBareLocked delivers a message of type normal, chat or headline to b's
// bare JID (RFC 6121 §8.5.2.1.1), or stores it offline. It reports false
// when the message should have been stored and could not be.
func (c *Core) toBareLocked(b *account, typ string, el *xmppstream.Element, raw []byte, o *outbox) bool {
	if rs := messageTargets(b, typ); len(rs) > 0 {
		o.deliverAll(rs, raw, c.rerouteFallback(b, typ, el, raw))
		return true
	}
	if typ == "headline" || !worthKeeping(el) {
		return true
	}
	return c.storeLocked(b, newElemOf(el))
}

// rerouteFallback returns what to do with a message no resource took:
// route it to b's bare JID again, now that those resources are unbound.
// Error messages are dropped.
func (c *Core) rerouteFallback(b *account, typ string, el *xmppstream.Element, raw []byte) *fallback {
	if typ == "error" {
		return nil
	}
	return &fallback{run: func(o *outbox) {
		c.toBareLocked(b, typ, el, raw, o)
	}}
}

// messageTargets picks the resources of b that get a message to its bare
// JID: available with non-negative priority, and for normal and chat only
// those of the highest priority (RFC 6121 §8.5.2.1.1).
func messageTargets(b *account, typ string) []*resource {
	var rs []*resource
	for _, r := range b.available() {
		if r.priority >= 0 {
			rs = append(rs, r)
		}
	}
	if typ == "headline" || len(rs) == 0 {
		return rs
	}
	top := slices.MaxFunc(rs, func(x, y *resource) int { return cmp.Compare(x.priority, y.priority) }).priority
	return slices.DeleteFunc(rs, func(r *resource) bool { return r.priority < top })
}

// worthKeeping reports whether a message is stored offline (XEP-0160 §3):
// types normal and chat with some payload other than chat states, which
// lose their meaning once late (XEP-0085 §5.5).
func worthKeeping(el *xmppstream.Element) bool {
	switch t, _ := el.Attr("", "type"); string(t) {
	case "", "normal", "chat":
	default:
		return false
	}
	for _, ch := range el.Children {
		if string(ch.Space) != nsChatStates {
			return true
		}
	}
	return false
}

// storeLocked stores a message offline for a, with a <delay/> giving the
// time it arrived (XEP-0203) unless it has one. It reports false when the
// store is full.
func (c *Core) storeLocked(a *account, p *elem) bool {
	if len(a.offline) >= maxOffline {
		c.log.Warn("memcore: offline store full, message refused", "user", a.name)
		return false
	}
	if !p.has(nsDelay, "delay") {
		p = p.clone().add(newElem("delay", "xmlns", nsDelay, "from", c.domain, "stamp", stamp(c.now())))
	}
	a.offline = append(a.offline, p.bytes())
	c.log.Debug("memcore: stored offline", "user", a.name)
	return true
}

// replyLocked delivers a reply to the full JID in p's 'from' attribute
// if a client holds it; replies to anyone else are dropped.
func (c *Core) replyLocked(p *elem, data []byte, o *outbox) {
	j, err := xmppstream.ParseJID(p.get("from"))
	if err != nil || j.Resource == "" {
		return
	}
	if a := c.accountLocked(j); a != nil {
		if r := a.resources[j.Resource]; r != nil {
			o.deliver(r, data)
		}
	}
}
