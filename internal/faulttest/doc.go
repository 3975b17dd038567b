// Package faulttest is an HTTP proxy that breaks things on purpose, for
// tests of what a BOSH connection manager promises when the network
// misbehaves (XEP-0124 §14: a client resends a request whose response it
// did not get, with the same rid, and the connection manager answers it
// from its buffer).
//
// The Proxy listens on loopback and forwards each request to a target URL.
// At random, with probabilities the test chooses, it cuts the client's
// connection after the target answered (the response is lost on the way
// back), holds a response past the client's timeout, or holds a request for
// a moment before forwarding it, so that a client's concurrent requests
// reach the target out of order.
//
// It sits beside the other internal packages and imports only the standard
// library.
package faulttest
