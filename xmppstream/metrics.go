package xmppstream

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/internal/xmlscan"
)

// ServerStats counts a Server's SASL outcomes (RFC 6120 §6.4.6, §6.5), by
// mechanism. A metrics exporter turns them into its own form (package
// xmppstream/xmppprom for Prometheus).
type ServerStats struct {
	SASLSuccesses map[string]uint64
	SASLFailures  map[string]uint64
}

// TCPStats counts a TCPUpstream's streams to the XMPP server.
type TCPStats struct {
	// Streams is how many streams are open now.
	Streams int64
	// ConnectFailures counts the streams that could not be opened, by the
	// condition the client got: remote-connection-failed (no connection,
	// TLS failed, no features in time) or remote-stream-error (the server
	// refused the stream).
	ConnectFailures map[string]uint64
	// StreamErrors counts the <stream:error/>s the server ended streams
	// with, by their condition (RFC 6120 §4.9.3), "undefined-condition"
	// for one that names none.
	StreamErrors map[string]uint64
}

// tally is a set of counters by name, safe for concurrent use.
type tally struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (t *tally) add(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = make(map[string]uint64)
	}
	t.n[name]++
}

func (t *tally) snapshot() map[string]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.n)
}

// serverCounters are a Server's counts.
type serverCounters struct{ success, failure tally }

// Stats returns the Server's counts so far.
func (s *Server) Stats() ServerStats {
	return ServerStats{SASLSuccesses: s.counts.success.snapshot(), SASLFailures: s.counts.failure.snapshot()}
}

// tcpCounters are a TCPUpstream's counts.
type tcpCounters struct {
	streams      atomic.Int64
	failures     tally
	streamErrors tally
}

// Stats returns the TCPUpstream's counts so far.
func (u *TCPUpstream) Stats() TCPStats {
	return TCPStats{
		Streams:         u.counts.streams.Load(),
		ConnectFailures: u.counts.failures.snapshot(),
		StreamErrors:    u.counts.streamErrors.snapshot(),
	}
}

// streamErrorCondition returns the condition of a <stream:error/> (RFC
// 6120 §4.9.3): its child in the urn:ietf:params:xml:ns:xmpp-streams
// namespace other than <text/>. Its children are elements only (§4.9.2).
func streamErrorCondition(raw []byte) string {
	doc := xmlscan.GetDoc()
	defer xmlscan.PutDoc(doc)
	if xmlscan.Parse(raw, xmlscan.Limits{NoRootText: true}, doc) == nil {
		for _, c := range doc.Children {
			if string(c.Space) == nsStreams && string(c.Local) != "text" {
				return string(c.Local)
			}
		}
	}
	return "undefined-condition"
}

// connectFailed counts a stream that could not be opened.
func (u *TCPUpstream) connectFailed(err error) { u.counts.failures.add(string(bosh.ConditionOf(err))) }
