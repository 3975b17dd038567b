// Package session is the state machine of one BOSH session (XEP-0124 §§7–16)
// and the Registry that finds sessions by sid.
//
// It owns everything that happens between a decoded request and a response
// body: rid sequencing and the request window (§14.2), buffering of requests
// that arrive out of order, held requests and the hold/wait rules (§8), the
// outbound queue that the upstream pushes into, the retransmission cache for
// repeated rids (§14.3), acknowledgements (§9), key sequencing (§15),
// inactivity and pause (§10), overactivity and polling rules (§11, §12),
// termination (§13) and multiple streams (§16).
//
// A request is in exactly one state at a time: buffered above a rid gap,
// being forwarded upstream, held, or answered (its reply kept for a
// retransmission). A retransmission of its rid is handled by that state
// (retransmit.go): it waits for the same reply, gets the kept one, or, when
// nothing is kept and its client is still there, item-not-found.
//
// It also defines the types that cross to the upstream, which package bosh
// names for hosts: Stream, Payload (bosh.Request), Closing, and the
// terminal binding conditions (Condition, Error, ConditionOf; §17.2).
//
// Layer: below bosh, above internal. It knows nothing of HTTP and does not
// parse XML: payloads are opaque byte slices, and response bodies are encoded
// by a function the bosh layer injects (Config.Encode). Its counts go to a
// Metrics the handler shares among its sessions. Every timer runs on
// an injected clock (internal/clock), so each timing rule is tested by
// advancing a fake clock instead of sleeping.
//
// Concurrency: one mutex per Session, held briefly and never while calling a
// Stream, an Opener or the Config callbacks that reach the network. Requests
// are forwarded upstream in rid order by whichever request goroutine holds
// the session's send lock; the goroutine that made a request waits for its
// Reply on a channel. Start reading at Session.Handle.
package session
