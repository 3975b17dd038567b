package session

import (
	"context"
	"encoding/xml"
	"time"

	"github.com/httpbind/httpbind/internal/clock"
)

// Params are a session's negotiated values (XEP-0124 §7.2). They are fixed
// when the session is created.
type Params struct {
	// Wait is the longest time a request is held before it is answered
	// with an empty body (§7.1 'wait', §8). Zero makes a polling session.
	Wait time.Duration
	// Hold is the most requests held at once (§7.2 'hold'). Zero makes a
	// polling session (§12).
	Hold int
	// Requests is the most simultaneous requests and the size of the rid
	// window (§7.2 'requests', §14.2). It is at least Hold+1.
	Requests int
	// Inactivity ends the session when no request has been held for this
	// long since the last response (§10). Zero means no limit.
	Inactivity time.Duration
	// Polling is the shortest interval allowed between two empty requests
	// (§11, §12). Zero means no limit.
	Polling time.Duration
	// MaxPause is the longest pause a client may request (§10). Zero means
	// pause is not supported and a 'pause' attribute is ignored.
	MaxPause time.Duration
	// ClientAcks is set when the client asked to acknowledge responses
	// (ack='1' on the creation request, §9.2).
	ClientAcks bool
	// ReportAfter is how long a response may stay unacknowledged by a
	// client using acks before the session reports it (§9.2 'report').
	ReportAfter time.Duration
	// MultiStream enables multiple streams (§16): replies that carry
	// payloads name their stream, and requests may add and close streams.
	MultiStream bool
	// MaxQueue is the most payloads queued for the client; when the
	// upstream pushes more, the session ends with policy-violation.
	// Zero means no limit.
	MaxQueue int
}

// Polls reports whether the session is a polling session (§12: wait='0'
// and/or hold='0').
func (p Params) Polls() bool { return p.Hold == 0 || p.Wait == 0 }

// Request is one decoded client request (a <body/> with a sid): the
// attributes the session acts on, and the Payload its streams receive.
type Request struct {
	RID       uint64
	Key       string        // §15 'key'; empty when absent
	NewKey    string        // §15 'newkey'; empty when absent
	Ack       uint64        // §9.2 client 'ack'; zero when absent
	Pause     time.Duration // §10 'pause'; zero when absent
	Stream    string        // §16 'stream'; empty addresses every stream
	AddStream bool          // a request to open another stream (§16.3)
	// Notify forwards the request to its streams even when it has no
	// payloads (the bosh layer sets it for bodies that carry attributes in
	// other namespaces, such as XEP-0206's xmpp:restart).
	Notify bool
	Payload
}

// Payload is what a stream receives of one request (package bosh names it
// bosh.Request).
type Payload struct {
	// Payloads are the child elements as the client sent them; a prefix
	// declared on the <body/> that a payload uses is declared on it.
	Payloads [][]byte
	// Attrs are the attributes of the <body/> other than the BOSH
	// session attributes (rid, sid, key, ack, ...): 'to', 'xml:lang' and
	// attributes in other namespaces such as {urn:xmpp:xbosh}restart. Nil
	// for a plain request.
	Attrs []xml.Attr
	// Terminate is set on the client's type='terminate' request (§13);
	// the stream's Close follows.
	Terminate bool
}

// Attr returns the value of the attribute {space}local in Attrs.
func (p *Payload) Attr(space, local string) (string, bool) {
	for _, a := range p.Attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// Attr is an extra attribute of a response body, by qualified name as it is
// written (for example "xmpp:version" or "xmlns:stream"). The session stores
// it untouched; the encoder writes it.
type Attr struct{ Name, Value string }

// Reply types (§13, §17).
const (
	TypeTerminate = "terminate"
	TypeError     = "error"
)

// Reply is one response body before and after encoding.
type Reply struct {
	RID       uint64        // the request answered
	Type      string        // "", TypeTerminate or TypeError
	Condition Condition     // terminal binding condition (§17.2), with TypeTerminate
	Stream    string        // stream of the payloads (§16.4), or the new stream (§16.3)
	Ack       uint64        // §9.1 'ack'; zero when omitted
	Report    uint64        // §9.2 'report'; zero when omitted
	Time      time.Duration // §9.2 'time', with Report
	Attrs     []Attr        // creation attributes, then attributes set by the upstream
	Payloads  [][]byte      // child elements
	Body      []byte        // the encoded body, set by Config.Encode

	key       string    // the request's key, for retransmissions (§15)
	sent      time.Time // when the reply was made, for 'time' (§9.2) and the cache
	delivered int64     // when the oldest payload it carries was delivered, Unix ns (Metrics.Delivery)
}

// Terminal reports whether the reply ends the session (or, with Stream set
// in a multi-stream session, one stream).
func (r *Reply) Terminal() bool { return r.Type == TypeTerminate }

// A Stream is the upstream side of one session (or of one stream of a
// multi-stream session). Package bosh names it bosh.Stream.
type Stream interface {
	// Send receives one client request. It is called in rid order, never
	// concurrently for one session, from a request goroutine and without
	// any session lock; it may block briefly (a network write) but must
	// not wait for the client. It is called for every request that has
	// payloads, Attrs or Terminate. ctx carries the request's values but
	// not its cancellation: the payloads are the session's, not the HTTP
	// request's. An error ends the session with the error's condition
	// (ConditionOf); Close is then not called.
	Send(ctx context.Context, p *Payload) error
	// Close ends the stream. It is called once, without any session lock,
	// when the session (or the stream) ends for a reason other than the
	// upstream's own end (Session.EndStream) or a Send error.
	Close(c Closing)
}

// Closing says why a stream ends. Package bosh names it bosh.Closing.
type Closing struct {
	// Err is nil when the client terminated the session (§13),
	// ErrInactive when it timed out (§10), and otherwise an error carrying
	// the condition that ended it (for example SystemShutdown).
	Err error
	// Undelivered are payloads queued for the client that no response
	// carried; an upstream may store them (offline messages) or drop them.
	Undelivered [][]byte
}

// An Opener opens a further stream when a client adds one (§16.3). It is
// called from a request goroutine in rid order, without the session lock.
type Opener func(ctx context.Context, r *Request, name string) (Stream, error)

// Config carries the collaborators of a session, shared by all sessions of a
// handler.
type Config struct {
	// Clock is the time source; nil means the real clock.
	Clock clock.Clock
	// Encode encodes a reply into Reply.Body. It is called with the
	// session lock held and must only format bytes.
	Encode func(*Reply) []byte
	// Ended is called once, without the lock, when the session has ended,
	// with the reason: "" for the client's terminate (§13), Inactive, or
	// the terminal condition.
	Ended func(s *Session, reason Condition)
	// GapTimeout is how long requests above a rid gap wait for the missing
	// rids before the session gives them up (§14.2), and allows a rid
	// above the window to give them up at once; 0 keeps §14.2 strictly.
	GapTimeout time.Duration
	// Metrics, when set, receives the sessions' counts.
	Metrics *Metrics
}
