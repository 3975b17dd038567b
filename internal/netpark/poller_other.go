//go:build !linux

package netpark

import (
	"errors"
	"fmt"
	"net"
)

// A Poller watches parked connections; on this system there is none (see
// New).
type Poller struct{}

// New reports that parking is not supported here: the error wraps
// errors.ErrUnsupported.
func New() (*Poller, error) {
	return nil, fmt.Errorf("netpark: %w without epoll", errors.ErrUnsupported)
}

// Park is never reached: New returns no Poller here.
func (p *Poller) Park(c net.Conn, hangup func()) (*Parked, error) {
	return nil, errors.ErrUnsupported
}

// Watch is never reached: New returns no Poller here.
func (p *Poller) Watch(c net.Conn, ready func()) (*Parked, error) {
	return nil, errors.ErrUnsupported
}

func (p *Poller) remove(*Parked) {}

// Close does nothing.
func (p *Poller) Close() error { return nil }
