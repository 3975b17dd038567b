// Package netpark watches parked network connections for their peer
// hanging up, without a goroutine per connection.
//
// A connection that waits a long time for something to say (a BOSH
// request held for up to 'wait', XEP-0124 §8) costs a goroutine and its
// buffers when a goroutine reads it to learn that the client went away.
// Go's runtime poller can only wake a goroutine, so a Poller keeps an
// epoll instance of its own (Linux) with one goroutine for all its
// connections, and calls a function when a parked connection's peer
// closes or resets it. Data the peer sends meanwhile stays unread in the
// kernel for whoever reads the connection after Unpark.
//
// Poller.Watch parks a connection that waits for its peer to speak (the
// XMPP stream xmppstream.TCPUpstream relays, idle between stanzas): the
// function is called when bytes arrive or the peer hangs up, and the
// caller reads them on a goroutine of its own. A crypto/tls connection
// may hold bytes already read from the kernel, which the kernel no longer
// reports: before Watch, the caller drains it with a Read whose deadline
// has passed (crypto/tls returns its buffered bytes then, or a timeout,
// which it does not keep as the connection's error).
//
// Where epoll is missing, New returns an error that wraps
// errors.ErrUnsupported, and callers keep a goroutine per connection.
//
// Start with New, Poller.Park and Parked.Unpark; package bosh's Serve is
// the user of Park, package xmppstream's TCPUpstream of Watch.
package netpark
