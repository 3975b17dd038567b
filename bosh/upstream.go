package bosh

import (
	"context"
	"encoding/xml"

	"github.com/httpbind/httpbind/session"
)

// An Upstream opens the application stream behind each new session.
// Open is called concurrently for different sessions, from the goroutine of
// the session creation request; the session's first response waits for it.
type Upstream interface {
	// Open starts the stream for a new session (or, with multiple streams,
	// another stream of a session, §16.3). Payloads and attributes the
	// upstream gives sink before Open returns go in the creation response.
	// An error ends the session before it starts; its condition
	// (ConditionOf) is what the client sees.
	Open(ctx context.Context, req *OpenRequest, sink Sink) (Stream, error)
}

// UpstreamFunc adapts an ordinary function to an Upstream, like
// http.HandlerFunc.
type UpstreamFunc func(ctx context.Context, req *OpenRequest, sink Sink) (Stream, error)

// Open calls f.
func (f UpstreamFunc) Open(ctx context.Context, req *OpenRequest, sink Sink) (Stream, error) {
	return f(ctx, req, sink)
}

// OpenRequest describes the session (or stream) a client asks for
// (XEP-0124 §7.1, §16.3).
type OpenRequest struct {
	To      string // 'to': the target domain
	From    string // 'from': the originator, if given
	Lang    string // 'xml:lang'
	Version string // the negotiated 'ver' (§7.2)
	// Route is the 'route' attribute when it is on Config.Routes; nil when
	// absent or when no routes are configured (§7.1: it MAY be ignored).
	Route *Route
	// Attrs are the attributes of the <body/> in namespaces other than
	// BOSH's own, such as XEP-0206's {urn:xmpp:xbosh}version.
	Attrs []xml.Attr
	// Payloads are the children of the creation request, if any.
	Payloads [][]byte
	// Stream is the stream's name in a multi-stream session (§16.2).
	Stream string
	// SID is the session id.
	SID string
	// RemoteAddr is the client's address as the handler sees it.
	RemoteAddr string
	// Secure is set when the request came over TLS (§19.1), or says so
	// from a trusted proxy (Handler.Secure).
	Secure bool
}

// Attr returns the value of the attribute {space}local in Attrs.
func (r *OpenRequest) Attr(space, local string) (string, bool) { return attr(r.Attrs, space, local) }

// Route is a parsed 'route' attribute, proto:host:port (§7.1). It is not a
// URI and is not decoded as one.
type Route struct {
	Proto, Host string
	Port        int
}

// Request is one client request, handed to Stream.Send in rid order: its
// payloads, the attributes of its <body/> that are not BOSH's own, and
// whether it terminates the session. It is the session's Payload.
type Request = session.Payload

func attr(attrs []xml.Attr, space, local string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// A Stream is the upstream side of one session (or of one stream of a
// multi-stream session): Send receives the client's requests in rid order,
// Close ends it. It is defined in package session, which calls it; see
// session.Stream for who calls what, when.
type Stream = session.Stream

// A HalfCloser is a Stream that can close its own side first, in the first
// phase of a two-phase close (RFC 6120 §4.4), so that what the other end
// still sends reaches the client: Handler.Shutdown calls CloseSend on every
// stream that is one, concurrently, and waits for them, for at most
// ShutdownGrace, before it ends the sessions. CloseSend tells the other
// end that nothing more comes (for XMPP, </stream:stream>) and returns
// once the other end has closed its side too, or when ctx ends. Payloads
// it gives its Sink meanwhile go to the client as usual; the other end's
// close must not end the session (Sink.End), and Send must write nothing
// more. Close is called afterwards, as for any stream.
// xmppstream's TCP upstream streams are HalfClosers.
type HalfCloser interface {
	Stream
	CloseSend(ctx context.Context)
}

// Closing says why a stream ends: Err is nil when the client terminated
// the session (§13), ErrInactive when it timed out (§10), and otherwise an
// error carrying the condition that ended it; Undelivered are payloads
// queued for the client that no response carried (an upstream may store
// them as offline messages).
type Closing = session.Closing

// A Sink takes what the upstream sends toward the client. Its methods are
// safe for concurrent use, never block on the network, and may be called
// from any goroutine, including from inside Open and Send.
type Sink interface {
	// Deliver queues payloads (complete XML elements) for the client; the
	// oldest held request carries them at once (§8). It reports false
	// when the session has ended and they cannot reach the client.
	Deliver(payloads ...[]byte) bool
	// SetAttrs adds attributes to the next response body that carries
	// payloads, or to the creation response when called inside Open: for
	// example 'from' (§7.2), or XEP-0206's xmpp:version and a declaration
	// xmlns:stream for the prefix its payloads use.
	SetAttrs(attrs ...Attr)
	// End ends the stream from the upstream side. nil is a normal close;
	// otherwise the client sees ConditionOf(err) and the *Error's
	// Children, after the payloads still queued (§17.2). Close is not
	// called afterwards.
	End(err error)
}

// Attr is an attribute of a response body, by qualified name as written,
// such as "from", "xmpp:version" or "xmlns:stream".
type Attr = session.Attr
