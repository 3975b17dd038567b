package memcore

import "github.com/httpbind/httpbind/xmppstream"

// pending is an inbound subscription request the user has not answered
// (RFC 6121 §3.1.3), as delivered: from the requester's bare JID to the
// user's.
type pending struct {
	from xmppstream.JID
	raw  []byte
}

// takePending removes the pending request from j and reports whether
// there was one.
func (a *account) takePending(j xmppstream.JID) bool {
	for i, pd := range a.pendingIn {
		if pd.from == j {
			a.pendingIn = append(a.pendingIn[:i], a.pendingIn[i+1:]...)
			return true
		}
	}
	return false
}

// subscriptionLocked handles a subscription presence from user a to bare
// JID t (RFC 6121 §3): the user's side (roster item, pushes), then the
// contact's side as an inbound stanza. The stanza the contact gets is the
// client's, stamped with the bare JIDs (§3.1.2). Requests to other domains
// and to oneself are dropped: there is no server-to-server link, and a
// user's own presence needs no subscription.
func (c *Core) subscriptionLocked(a *account, typ string, t xmppstream.JID, p *elem, o *outbox) {
	if t.Domain != c.domain || t.Local == "" || t == a.jid {
		return
	}
	b := c.accountLocked(t)
	out := p.clone().set("from", a.jid.String()).set("to", t.String())
	it := a.roster[t]
	switch typ {
	case "subscribe": // §3.1.2
		if it == nil {
			it = &item{jid: t}
			a.roster[t] = it
		}
		if it.sub&subTo == 0 && !it.ask {
			it.ask = true
			c.pushLocked(a, it, o)
		}
		if b == nil { // §3.1.3: no such contact, answer unsubscribed for it
			c.inUnsubscribedLocked(a, t, newStanza("presence", "from", t.String(), "to", a.jid.String(), "type", "unsubscribed"), o)
			return
		}
		c.inSubscribeLocked(b, a.jid, out, o)
	case "subscribed": // §3.1.5; no pre-approval (§3.4): without a request, ignored
		if !a.takePending(t) {
			return
		}
		if it == nil {
			it = &item{jid: t}
			a.roster[t] = it
		}
		it.sub |= subFrom
		c.pushLocked(a, it, o)
		if b != nil {
			c.inSubscribedLocked(b, a.jid, out, o)
			c.presenceFromLocked(a, b, false, o)
		}
	case "unsubscribe": // §3.3.2
		if it != nil && (it.sub&subTo != 0 || it.ask) {
			it.sub &^= subTo
			it.ask = false
			c.pushLocked(a, it, o)
		}
		if b != nil {
			c.inUnsubscribeLocked(b, a.jid, out, o)
		}
	case "unsubscribed": // §3.2.2
		had := a.takePending(t)
		if it != nil && it.sub&subFrom != 0 {
			it.sub &^= subFrom
			c.pushLocked(a, it, o)
			c.presenceFromLocked(a, b, true, o)
			had = true
		}
		if b != nil && had {
			c.inUnsubscribedLocked(b, a.jid, out, o)
		}
	}
}

// inSubscribeLocked handles a subscription request to b from the bare JID
// from (RFC 6121 §3.1.3). If b already approved it, it is answered for b;
// otherwise it is kept until b answers and delivered now to every
// available resource of b, whether or not it requested the roster (§3.1.3:
// "all available resources"; only roster pushes wait for a roster get,
// §2.1.6), and to each resource at its initial presence.
func (c *Core) inSubscribeLocked(b *account, from xmppstream.JID, out *elem, o *outbox) {
	if it := b.roster[from]; it != nil && it.sub&subFrom != 0 {
		if a := c.accountLocked(from); a != nil {
			c.inSubscribedLocked(a, b.jid, newStanza("presence", "from", b.jid.String(), "to", from.String(), "type", "subscribed"), o)
			c.presenceFromLocked(b, a, false, o)
		}
		return
	}
	data := out.bytes()
	b.takePending(from)
	b.pendingIn = append(b.pendingIn, pending{from: from, raw: data})
	for _, r := range b.resources {
		if r.available {
			o.deliver(r, data)
		}
	}
}

// inSubscribedLocked handles an approval to a from contact: it completes
// a's pending request, if there is one (RFC 6121 §3.1.6).
func (c *Core) inSubscribedLocked(a *account, contact xmppstream.JID, out *elem, o *outbox) {
	it := a.roster[contact]
	if it == nil || !it.ask {
		return
	}
	it.ask = false
	it.sub |= subTo
	c.pushLocked(a, it, o)
	c.toInterestedLocked(a, out.bytes(), o)
}

// inUnsubscribeLocked handles from's cancellation of its subscription to
// b, or of its pending request (RFC 6121 §3.3.3).
func (c *Core) inUnsubscribeLocked(b *account, from xmppstream.JID, out *elem, o *outbox) {
	had := b.takePending(from)
	if it := b.roster[from]; it != nil && it.sub&subFrom != 0 {
		it.sub &^= subFrom
		c.pushLocked(b, it, o)
		c.presenceFromLocked(b, c.accountLocked(from), true, o)
		had = true
	}
	if had {
		c.toInterestedLocked(b, out.bytes(), o)
	}
}

// inUnsubscribedLocked handles contact's refusal or cancellation of a's
// subscription to it (RFC 6121 §3.2.3).
func (c *Core) inUnsubscribedLocked(a *account, contact xmppstream.JID, out *elem, o *outbox) {
	it := a.roster[contact]
	if it == nil || (it.sub&subTo == 0 && !it.ask) {
		return
	}
	it.sub &^= subTo
	it.ask = false
	c.pushLocked(a, it, o)
	c.toInterestedLocked(a, out.bytes(), o)
}

// toInterestedLocked delivers data to a's resources that requested the
// roster (RFC 6121 §2.1.6).
func (c *Core) toInterestedLocked(a *account, data []byte, o *outbox) {
	for _, r := range a.resources {
		if r.interested {
			o.deliver(r, data)
		}
	}
}
