// Package gostack grows a new goroutine's stack in one step.
//
// A goroutine starts with a small stack, and Go doubles it each time a
// call goes deeper than it has room for, copying the stack and adjusting
// every frame on it. A goroutine that is started for each request and
// runs a deep handler (a parked request's reply, a kept connection's next
// request, an HTTP/2 stream) pays that several times over, deep in the
// handler where the copies are dearest: in boshd's closed-loop load that
// was a tenth of its CPU. Go's net/http does not pay it per request, as
// it serves a connection's requests on one goroutine, whose stack has
// grown once. Calling Grow first, while the stack is shallow, grows it
// to its usual size in a single cheap copy.
package gostack

// Grow makes room on the calling goroutine's stack for a frame of
// Frame bytes, so that the stack is at least twice that: a new goroutine
// then starts its work with an 8 KB stack. (A 16 KB one saved no more
// CPU in boshd's load, and kept more memory after the logins' peak.)
//
//go:noinline
func Grow() {
	var buf [Frame]byte
	sink(buf[:])
}

// Frame is what Grow makes room for.
const Frame = 4 << 10

//go:noinline
func sink(b []byte) { b[0] = 0 }
