package memcore

import "github.com/httpbind/httpbind/xmppstream"

// outbox collects what one core call does to clients while Core.mu is
// held; flush does it after unlocking. An outbox belongs to one call.
type outbox struct {
	kicks []xmppstream.Client
	sends []send
}

// send is one stanza for one bound client.
type send struct {
	to   *resource
	data []byte
	// fb, when set, runs once every send sharing it has failed: it decides
	// what becomes of a message or iq nobody received.
	fb *fallback
}

// fallback is shared by the copies of one stanza; run is called with
// Core.mu held once all n copies have failed.
type fallback struct {
	n   int
	run func(o *outbox)
}

// deliver queues data for a client.
func (o *outbox) deliver(to *resource, data []byte) {
	o.sends = append(o.sends, send{to: to, data: data})
}

// deliverAll queues data for each resource; fb, when not nil, runs if all
// of them fail.
func (o *outbox) deliverAll(rs []*resource, data []byte, fb *fallback) {
	if fb != nil {
		fb.n = len(rs)
	}
	for _, r := range rs {
		o.sends = append(o.sends, send{to: r, data: data, fb: fb})
	}
}

// flush kicks and delivers, with Core.mu not held. A client whose Deliver
// reports false is gone: it is unbound as if it had gone unavailable
// (which may queue more stanzas), then the fallbacks of stanzas nobody
// received run. flush loops until nothing is left; it ends because each
// round unbinds the clients that failed.
func (c *Core) flush(o *outbox) {
	for len(o.kicks) > 0 || len(o.sends) > 0 {
		kicks, sends := o.kicks, o.sends
		o.kicks, o.sends = nil, nil
		for _, k := range kicks {
			k.Kick(xmppstream.StreamConflict)
		}
		var failed []send
		for _, s := range sends {
			if !s.to.client.Deliver(s.data) {
				failed = append(failed, s)
			}
		}
		if len(failed) == 0 {
			continue
		}
		c.mu.Lock()
		for _, s := range failed {
			c.goneLocked(s.to, o)
		}
		for _, s := range failed {
			if s.fb != nil {
				if s.fb.n--; s.fb.n == 0 {
					s.fb.run(o)
				}
			}
		}
		c.mu.Unlock()
	}
}

// goneLocked unbinds a client whose Deliver failed, if it still holds its
// resource, as if it had sent unavailable presence.
func (c *Core) goneLocked(r *resource, o *outbox) {
	a := c.accountLocked(r.jid)
	if a == nil || a.resources[r.jid.Resource] != r {
		return
	}
	c.log.Debug("memcore: client gone", "jid", r.jid.String())
	c.removeLocked(a, r, o)
	c.retired = append(c.retired, r.client)
}
