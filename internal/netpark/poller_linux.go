package netpark

import (
	"fmt"
	"net"
	"sync"
	"syscall"
)

// A Poller watches parked connections with one epoll instance and one
// goroutine. Its methods are safe for concurrent use.
type Poller struct {
	epfd   int
	wakeR  int // the read end of a pipe that wakes the goroutine for Close
	wakeW  int
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
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("netpark: pipe: %w", err)
	}
	p := &Poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], conns: make(map[int32]*Parked), done: make(chan struct{})}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wakeR)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wakeR, &ev); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("netpark: epoll: %w", err)
	}
	go p.loop()
	return p, nil
}

// Park watches c until Unpark, and calls wake once, on the Poller's
// goroutine, if c's peer closes or resets it first or, with readable,
// when c has something to read (the peer's data, or its end). wake must
// not block. c must not be read while parked. A TLS connection is watched
// through the connection below it.
func (p *Poller) Park(c net.Conn, readable bool, wake func()) (*Parked, error) {
	rc, err := rawConn(c)
	if err != nil {
		return nil, err
	}
	k := &Parked{p: p, wake: wake}
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
		// EPOLLRDHUP: the peer closed its side; EPOLLHUP and EPOLLERR
		// (a reset) come without asking. Data is an event only when asked.
		events := uint32(syscall.EPOLLRDHUP | syscall.EPOLLONESHOT)
		if readable {
			events |= syscall.EPOLLIN
		}
		ev := syscall.EpollEvent{Events: events, Fd: k.fd, Pad: int32(k.id)}
		if cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); cerr == nil {
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

// remove stops watching k's descriptor.
func (p *Poller) remove(k *Parked) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[k.fd] == k {
		delete(p.conns, k.fd)
		if !p.closed { // after Close, epfd may be another file's number
			syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(k.fd), nil)
		}
	}
}

// Close stops the Poller's goroutine and waits for it. Connections still
// parked are no longer watched: their wake is never called, and Unpark
// reports true.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	syscall.Write(p.wakeW, []byte{0})
	<-p.done
	p.closeFDs()
	return nil
}

func (p *Poller) closeFDs() {
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
}

// loop waits for events and wakes the connections they are about.
func (p *Poller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == p.wakeR {
				return
			}
			if k := p.take(ev); k != nil && k.state.CompareAndSwap(parked, woken) {
				k.wake()
			}
		}
	}
}

// take removes and returns the connection an event is about, or nil when
// the event is stale: that connection was unparked, and its descriptor
// may be another's by now.
func (p *Poller) take(ev syscall.EpollEvent) *Parked {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.conns[ev.Fd]
	if k == nil || k.id != uint32(ev.Pad) {
		return nil
	}
	delete(p.conns, k.fd)
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(k.fd), nil)
	return k
}
