package memcore

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/httpbind/httpbind/xmppstream"
)

// Bind binds a resource for an authenticated client (RFC 6120 §7). An
// empty resource gets a random, unpredictable one (§7.6). A resource held
// by another client is a conflict (§7.7.2.2): under RefuseNew Bind returns
// xmppstream.ErrConflict; under ReplaceOld the old client is unbound (its
// contacts see it go unavailable) and kicked with "conflict". Bind returns
// xmppstream.ErrNoAccount for a user the core does not know.
func (c *Core) Bind(_ context.Context, cl xmppstream.Client, user xmppstream.JID, res string) (xmppstream.JID, error) {
	var o outbox
	defer c.flush(&o)
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.accountLocked(user)
	if a == nil {
		return xmppstream.JID{}, xmppstream.ErrNoAccount
	}
	if res == "" {
		for res == "" || a.resources[res] != nil {
			res = rand.Text()
		}
	} else if old := a.resources[res]; old != nil {
		if old.client == cl {
			return old.jid, nil
		}
		if c.policy == RefuseNew {
			return xmppstream.JID{}, xmppstream.ErrConflict
		}
		c.replaceLocked(a, old, &o)
	}
	j := xmppstream.JID{Local: a.jid.Local, Domain: a.jid.Domain, Resource: res}
	a.resources[res] = &resource{client: cl, jid: j}
	c.log.Debug("memcore: bound", "jid", j.String())
	return j, nil
}

// replaceLocked unbinds old for a client that takes its resource and
// queues its kick (RFC 6120 §7.7.2.2, RFC 3921 §3).
func (c *Core) replaceLocked(a *account, old *resource, o *outbox) {
	c.log.Debug("memcore: resource conflict, replacing", "jid", old.jid.String())
	c.removeLocked(a, old, o)
	c.retired = append(c.retired, old.client)
	o.kicks = append(o.kicks, old.client)
}

// StartSession establishes the IM session of a bound client (RFC 3921 §3).
// It returns nil, or a *xmppstream.StanzaError:
//   - what Config.SessionHook decides: its *StanzaError (forbidden, type
//     auth, for example), or internal-server-error (type wait) for any
//     other error;
//   - forbidden (auth) when the account does not exist;
//   - internal-server-error (wait) when the client holds no resource;
//   - conflict (cancel) when another client holds the full JID and either
//     the policy is RefuseNew or the client was itself replaced or gone.
//
// Under ReplaceOld, another client holding the full JID is kicked with
// "conflict" and the session goes to this one.
func (c *Core) StartSession(_ context.Context, cl xmppstream.Client) error {
	j := cl.JID()
	if c.hook != nil {
		if err := c.hook(j); err != nil {
			if se, ok := errors.AsType[*xmppstream.StanzaError](err); ok {
				return se
			}
			return &xmppstream.StanzaError{Type: "wait", Condition: "internal-server-error"}
		}
	}
	var o outbox
	defer c.flush(&o)
	c.mu.Lock()
	defer c.mu.Unlock()
	a, r := c.boundLocked(cl, j)
	switch {
	case a == nil:
		return &xmppstream.StanzaError{Type: "auth", Condition: "forbidden"}
	case r != nil:
		r.active = true
		return nil
	}
	other := a.resources[j.Resource]
	switch {
	case other == nil:
		return &xmppstream.StanzaError{Type: "wait", Condition: "internal-server-error", Text: "resource not bound"}
	case c.policy == RefuseNew || c.retiredLocked(cl):
		return &xmppstream.StanzaError{Type: "cancel", Condition: "conflict"}
	}
	c.replaceLocked(a, other, &o)
	a.resources[j.Resource] = &resource{client: cl, jid: j, active: true}
	return nil
}

// retiredLocked reports whether the core unbound cl on its own.
func (c *Core) retiredLocked(cl xmppstream.Client) bool {
	for _, r := range c.retired {
		if r == cl {
			return true
		}
	}
	return false
}

// Unbind forgets a client that is gone (RFC 6120 §7). If it was available,
// its contacts and other resources get unavailable presence from it (RFC
// 6121 §4.5.2). Of the stanzas it never received, messages of type normal
// or chat with more than chat states are stored offline for its account
// (XEP-0160), iq requests are answered service-unavailable on its behalf
// (XEP-0206 §7), and the rest are dropped. Unbinding a client that was
// replaced leaves its successor bound.
func (c *Core) Unbind(cl xmppstream.Client, undelivered [][]byte) {
	j := cl.JID()
	var o outbox
	defer c.flush(&o)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retired = deleteClient(c.retired, cl)
	a, r := c.boundLocked(cl, j)
	if r != nil {
		c.log.Debug("memcore: unbound", "jid", j.String())
		c.removeLocked(a, r, &o)
	}
	for _, raw := range undelivered {
		el, err := parseElement(raw)
		if err != nil {
			continue
		}
		switch string(el.Local) {
		case "message":
			if a != nil && worthKeeping(el) {
				c.storeLocked(a, newElemOf(el))
			}
		case "iq":
			if t, _ := el.Attr("", "type"); string(t) == "get" || string(t) == "set" {
				st := newElemOf(el)
				c.replyLocked(st, errorReply(st, "cancel", "service-unavailable"), &o)
			}
		}
	}
}

// deleteClient removes cl from cls.
func deleteClient(cls []xmppstream.Client, cl xmppstream.Client) []xmppstream.Client {
	for i, x := range cls {
		if x == cl {
			return append(cls[:i], cls[i+1:]...)
		}
	}
	return cls
}

// removeLocked unbinds r; when it was available, it goes unavailable
// (RFC 6121 §4.5.2).
func (c *Core) removeLocked(a *account, r *resource, o *outbox) {
	delete(a.resources, r.jid.Resource)
	if r.available || len(r.directed) > 0 {
		c.unavailableLocked(a, r, newStanza("presence", "from", r.jid.String(), "type", "unavailable"), o)
	}
}
