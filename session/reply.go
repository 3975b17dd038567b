package session

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// finishReplyLocked completes r (ack, timestamps, encoding), keeps it for
// retransmission when cache is set (§14.3) and hands it to w, if any.
func (s *Session) finishReplyLocked(r *Reply, w *waiter, cache bool) {
	now := s.clk.Now()
	if r.Ack == 0 && s.last != r.RID {
		r.Ack = s.last // §9.1: omitted when it equals the rid answered
	}
	r.sent = now
	s.lastReply = now
	s.lastGaveData = len(r.Payloads) > 0
	if r.Type == "" && r.RID > s.answered {
		s.answered = r.RID
	}
	r.Body = s.cfg.Encode(r)
	s.nOut += len(r.Payloads)
	if m := s.cfg.Metrics; m != nil && r.delivered != 0 {
		m.Delivery.Observe(time.Duration(now.UnixNano() - r.delivered))
	}
	if w != nil {
		if m := s.cfg.Metrics; m != nil {
			m.HeldFor.Observe(now.Sub(w.arrived))
		}
		r.key = w.req.Key
		if cache && r.Type == "" {
			s.cacheLocked(r)
		}
		s.replyLocked(w, r)
	}
}

// replyLocked hands r to the request waiting in w.
func (s *Session) replyLocked(w *waiter, r *Reply) {
	if w.reply != nil {
		return
	}
	if r.Body == nil {
		r.Body = s.cfg.Encode(r)
	}
	w.reply = r
	close(w.done)
	if f := w.ready; f != nil {
		w.ready = nil
		f()
	}
}

// cacheLocked keeps r for retransmission (§14.3). When the client
// acknowledges responses (§9.2), every reply it has not acknowledged is
// kept, up to maxUnacked. Otherwise the last 'requests' replies are kept,
// and besides them every reply younger than retainLocked, up to
// maxUnacked: a client whose connection broke resends its request while
// its other requests go on, so the rid it resends can be more than
// 'requests' behind the newest (Strophe.js and StanzaJS do this), and
// without acks nothing says which replies it got.
//
// What is kept is what a retransmission is answered with: the encoded
// body, not the payloads and attributes it was made of.
func (s *Session) cacheLocked(r *Reply) {
	k := keptReply{RID: r.RID, body: r.Body, key: r.key, sent: r.sent}
	// In rid order: a late rid (gap.go) goes before the newer ones.
	i := len(s.cache)
	for i > 0 && s.cache[i-1].RID > r.RID {
		i--
	}
	s.cache = slices.Insert(s.cache, i, k)
	s.trimCacheLocked(r.sent)
}

// A keptReply is a reply kept for a retransmission (§14.3): only a reply
// without a type is kept, and everything else it said is in its body.
type keptReply struct {
	RID  uint64
	body []byte
	key  string    // the request's key (§15)
	sent time.Time // when it was made
}

// reply returns the kept reply, to answer a retransmission with.
func (k *keptReply) reply() *Reply {
	return &Reply{RID: k.RID, Body: k.body, key: k.key, sent: k.sent}
}

// trimCacheLocked drops the replies cacheLocked no longer keeps at now.
func (s *Session) trimCacheLocked(now time.Time) {
	drop := 0
	if s.p.ClientAcks {
		for drop < len(s.cache) && (len(s.cache)-drop > max(s.p.Requests, maxUnacked) || s.cache[drop].RID <= s.clientAck) {
			drop++
		}
	} else {
		oldest := now.Add(-s.retainLocked())
		for drop < len(s.cache)-s.p.Requests && (len(s.cache)-drop > maxUnacked || s.cache[drop].sent.Before(oldest)) {
			drop++
		}
	}
	clear(s.cache[:drop])
	s.cache = s.cache[drop:]
}

// retainLocked is how long a reply is kept for a client that does not
// acknowledge, beyond the last 'requests': a client resends a request
// whose connection broke at once, or after its own timeout of about 'wait'
// (Strophe.js: 1.1×wait), and may try several times.
func (s *Session) retainLocked() time.Duration { return 2*s.p.Wait + 10*time.Second }

// ackLocked records the client's acknowledgement (§9.2): 'ack' names the
// highest rid whose response it received; a request without one
// acknowledges every earlier response.
func (s *Session) ackLocked(r *Request) {
	if !s.p.ClientAcks {
		return
	}
	ack := r.RID - 1
	if r.Ack != 0 {
		ack = min(r.Ack, ack)
	}
	if ack <= s.clientAck {
		return
	}
	s.clientAck = ack
	drop := 0
	for drop < len(s.cache) && s.cache[drop].RID <= ack {
		drop++
	}
	clear(s.cache[:drop])
	s.cache = s.cache[drop:]
}

func (s *Session) liveHeldLocked() int {
	n := 0
	for _, h := range s.held {
		if !h.gone() {
			n++
		}
	}
	return n
}

func (s *Session) indexHeldLocked(w *waiter) int {
	for i, h := range s.held {
		if h == w {
			return i
		}
	}
	return -1
}

// sha1Hex returns the lowercase hex SHA-1 of key, taken over the key exactly
// as sent (§15.3).
func sha1Hex(key string) string {
	sum := sha1.Sum([]byte(key))
	return hex.EncodeToString(sum[:])
}

func lowerHex(s string) string { return strings.ToLower(s) }

// keyEqual compares two hex keys case-insensitively in constant time (§15.4,
// §19).
func keyEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(lowerHex(a)), []byte(lowerHex(b))) == 1
}
