package netpark

import (
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

// States of a Parked.
const (
	parked int32 = iota
	unparked
	hungUp
)

// A Parked is a connection a Poller watches.
type Parked struct {
	p      *Poller
	fd     int32
	id     uint32 // tells this parking from an earlier one of the same fd
	hangup func() // or Watch's ready
	state  atomic.Int32
}

// Unpark stops watching the connection and reports true, unless its peer
// has hung up first (or, for Watch, sent bytes): then it reports false and
// the hangup (ready) function was or is being called. Exactly one of the two happens; Unpark is safe to
// call more than once (later calls report false).
func (k *Parked) Unpark() bool {
	if !k.state.CompareAndSwap(parked, unparked) {
		return false
	}
	k.p.remove(k)
	return true
}

// rawConn returns the connection's file descriptor access, through a
// TLS connection to the one below it.
func rawConn(c net.Conn) (syscall.RawConn, error) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("netpark: the connection has no file descriptor")
	}
	return sc.SyscallConn()
}
