package memcore

import (
	"encoding/xml"

	"github.com/httpbind/httpbind/xmppstream"
)

// routeIQLocked handles an iq from r (RFC 6120 §8.2.3, §10):
//   - without 'to', or to the server or the sender's bare JID, the server
//     answers: roster get and set (RFC 6121 §2), ping (XEP-0199 §4.2),
//     disco#info (XEP-0030 §3.1), the RFC 3921 §3 session request; any
//     other request gets service-unavailable (cancel);
//   - to a full JID a client holds, it is delivered; a request nobody
//     receives gets service-unavailable;
//   - a request to another user's bare JID, to a full JID nobody holds or
//     to an unknown user gets service-unavailable (RFC 6121 §8.5.2.1.1,
//     §8.5.3.2.1, XEP-0206 §7); to another domain,
//     remote-server-not-found.
//
// Results and errors are never answered with an error; those for the
// server are dropped. An iq of unknown type gets bad-request.
func (c *Core) routeIQLocked(a *account, r *resource, st *xmppstream.Stanza, p *elem, o *outbox) {
	request := st.Type == "get" || st.Type == "set"
	if !request && st.Type != "result" && st.Type != "error" {
		o.deliver(r, errorReply(p, "modify", "bad-request"))
		return
	}
	fail := func(cond string) {
		if request {
			o.deliver(r, errorReply(p, "cancel", cond))
		}
	}
	to := st.To
	switch {
	case to.IsZero() || to == (xmppstream.JID{Domain: c.domain}) || to == a.jid:
		if request {
			o.deliver(r, c.serverIQLocked(a, r, st, p, o))
		}
		return
	case to.Domain != c.domain:
		fail("remote-server-not-found")
		return
	}
	var target *resource
	if b := c.accountLocked(to); b != nil && to.Resource != "" {
		target = b.resources[to.Resource]
	}
	if target == nil {
		fail("service-unavailable")
		return
	}
	var fb *fallback
	if request {
		fb = &fallback{run: func(o *outbox) {
			c.replyLocked(p, errorReply(p, "cancel", "service-unavailable"), o)
		}}
	}
	o.deliverAll([]*resource{target}, st.Raw, fb)
}

// serverIQLocked answers a get or set the server handles and returns the
// reply.
func (c *Core) serverIQLocked(a *account, r *resource, st *xmppstream.Stanza, p *elem, o *outbox) []byte {
	if len(p.children) != 1 {
		return errorReply(p, "modify", "bad-request") // RFC 6120 §8.2.3
	}
	ch := p.children[0]
	switch {
	case ch.space == nsRoster && ch.local == "query":
		return c.rosterLocked(a, r, st.Type, p, o)
	case ch.space == nsPing && ch.local == "ping" && st.Type == "get":
		return result(p)
	case ch.space == nsSession && ch.local == "session" && st.Type == "set":
		return result(p)
	case ch.space == nsDiscoInfo && ch.local == "query" && st.Type == "get":
		return c.discoInfo(p, st.To == a.jid)
	}
	return errorReply(p, "cancel", "service-unavailable")
}

// discoInfo answers disco#info (XEP-0030 §3.1) for the server, or for the
// user's account when account is set. Nodes are unknown: item-not-found.
func (c *Core) discoInfo(p *elem, account bool) []byte {
	var in struct {
		Node string `xml:"node,attr"`
	}
	if err := xml.Unmarshal(p.children[0].raw, &in); err != nil || in.Node != "" {
		return errorReply(p, "cancel", "item-not-found")
	}
	q := newElem("query", "xmlns", nsDiscoInfo)
	if account {
		return result(p, q.add(
			newElem("identity", "category", "account", "type", "registered"),
			newElem("feature", "var", nsDiscoInfo)))
	}
	q.add(newElem("identity", "category", "server", "type", "im", "name", "httpbind"))
	for _, f := range []string{nsDiscoInfo, nsRoster, nsSession, "msgoffline" /* XEP-0160 §4 */, nsPing} {
		q.add(newElem("feature", "var", f))
	}
	return result(p, q)
}

// result builds the result for an iq request (RFC 6120 §8.2.3): same id,
// 'to' and 'from' swapped.
func result(p *elem, children ...*elem) []byte {
	return newStanza("iq",
		"type", "result",
		"id", p.get("id"),
		"from", p.get("to"),
		"to", p.get("from")).add(children...).bytes()
}
