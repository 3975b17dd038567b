package netpark

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
)

// A Poller watches parked connections with one epoll instance and one
// goroutine. The goroutine waits for the epoll instance in Go's runtime
// poller (an epoll descriptor is itself readable when it has events), not
// in a blocking epoll_wait, so that waiting costs no thread and keeps the
// scheduler's monitor asleep. Its methods are safe for concurrent use.
type Poller struct {
	epfd   int
	file   *os.File // epfd, for the runtime poller
	mu     sync.Mutex
	conns  map[int32]*Parked // by file descriptor; guarded by mu
	nextID uint32            // guarded by mu
	closed bool              // guarded by mu
	done   chan struct{}
}

// New starts a Poller.
func New() (*Poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netpark: epoll: %w", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("netpark: epoll: %w", err)
	}
	p := &Poller{epfd: epfd, file: os.NewFile(uintptr(epfd), "netpark-epoll"),
		conns: make(map[int32]*Parked), done: make(chan struct{})}
	rc, err := p.file.SyscallConn()
	if err != nil {
		p.file.Close()
		return nil, fmt.Errorf("netpark: epoll: %w", err)
	}
	go p.loop(rc)
	return p, nil
}

// Park watches c until Unpark, and calls hangup once, on the Poller's
// goroutine, if c's peer closes or resets it first. Data the peer sends
// meanwhile is no hangup and stays unread. hangup must not block. c must
// not be read while parked. A TLS connection is watched through the
// connection below it.
func (p *Poller) Park(c net.Conn, hangup func()) (*Parked, error) {
	// EPOLLRDHUP: the peer closed its side; EPOLLHUP and EPOLLERR (a
	// reset) come without asking. Data is not an event.
	return p.park(c, hangup, syscall.EPOLLRDHUP)
}

// Watch is Park for a connection that waits for its peer to say
// something: ready is called once, on the Poller's goroutine, when c has
// bytes to read in the kernel or its peer closes or resets it, whichever
// comes first, unless Unpark comes first. Bytes a TLS connection has
// already read and buffered are not seen: drain it before (see the
// package documentation). ready must not block; Unpark reports false once
// it was or is being called. c must not be read while watched.
func (p *Poller) Watch(c net.Conn, ready func()) (*Parked, error) {
	return p.park(c, ready, syscall.EPOLLIN|syscall.EPOLLRDHUP)
}

// park watches c for events (EPOLLHUP and EPOLLERR always), once.
func (p *Poller) park(c net.Conn, hangup func(), events uint32) (*Parked, error) {
	rc, err := rawConn(c)
	if err != nil {
		return nil, err
	}
	k := &Parked{p: p, hangup: hangup}
	var cerr error
	err = rc.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			cerr = net.ErrClosed
			return
		}
		p.nextID++
		k.fd, k.id = int32(fd), p.nextID
		// Re-arm the descriptor's registration (see remove), or add one
		// when it has none: a new connection, or a number the kernel gave
		// again after a close (a close takes a descriptor out of the set).
		ev := syscall.EpollEvent{Events: events | syscall.EPOLLONESHOT, Fd: k.fd, Pad: int32(k.id)}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
		if cerr == syscall.ENOENT {
			cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		}
		if cerr == nil {
			p.conns[k.fd] = k
		}
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("netpark: park: %w", err)
	}
	return k, nil
}

// remove stops watching k's descriptor. Its registration stays in the
// epoll set, which saves a system call on each Unpark and on the next
// Park of the same connection (a keep-alive connection is parked again
// and again): an event it still reports is stale, and take drops it.
// Closing the descriptor takes it out of the set.
func (p *Poller) remove(k *Parked) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[k.fd] == k {
		delete(p.conns, k.fd)
	}
}

// Close stops the Poller's goroutine and waits for it. Connections still
// parked are no longer watched: their hangup is never called, and Unpark
// reports true.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.file.Close() // ends the goroutine's wait
	<-p.done
	return err
}

// loop waits for events and calls the hangup of the connections they are
// about, until
// Close. Each wait is the runtime poller's: rc.Read calls the function
// again once epfd is readable, for as long as it returns false.
func (p *Poller) loop(rc syscall.RawConn) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	rc.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.EpollWait(int(fd), events, 0)
			switch {
			case err == syscall.EINTR:
				continue
			case err != nil:
				return true
			}
			for _, ev := range events[:n] {
				if k := p.take(ev); k != nil && k.state.CompareAndSwap(parked, hungUp) {
					k.hangup()
				}
			}
			if n < len(events) {
				return false // drained: wait for the next events
			}
		}
	})
}

// take removes and returns the connection an event is about, or nil when
// the event is stale: that connection was unparked (its registration
// stays, see remove), and its descriptor may be another's by now. Either
// way the registration is disarmed (EPOLLONESHOT) until the next Park.
func (p *Poller) take(ev syscall.EpollEvent) *Parked {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.conns[ev.Fd]
	if k == nil || k.id != uint32(ev.Pad) || p.closed {
		return nil
	}
	delete(p.conns, k.fd)
	return k
}
