package bosh

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/httpbind/httpbind/internal/netpark"
)

// Serve serves HTTP on l with srv, as srv.Serve(l) does, and lets a held
// request of an HTTP/1.1 connection wait without a goroutine or buffers:
// a Handler that srv's Handler reaches (directly, through a ServeMux, or
// through any wrapper whose ResponseWriter http.ResponseController can
// hijack) takes a request its session holds (§8) off the connection,
// watches the connection for its client going away (the end of
// r.Context() for a request that is not parked), writes the reply when
// there is one, and hands the connection back to srv for its next
// request. What a held request then costs is its socket and its
// session's state: no goroutine stack, no bufio buffers, no
// *http.Request. The connection waits for that next request parked as
// well, until srv's IdleTimeout (or ReadTimeout) closes it, as srv would.
//
// For TLS, l is a tls.NewListener (srv then serves its connections as
// srv.ServeTLS would; put "h2" in NextProtos for HTTP/2), never
// srv.ServeTLS. Requests over HTTP/2 (h2, h2c), HTTP/1.0 and with
// "Connection: close" are served as by srv.Serve. So is everything where
// parking is not supported (no epoll: other systems than Linux).
//
// Call Handler.Shutdown before srv.Shutdown, as without Serve: Shutdown
// answers the parked requests too, and waits for them.
func Serve(srv *http.Server, l net.Listener) error {
	return srv.Serve(ParkListener(srv, l))
}

// ParkListener returns l wrapped for srv.Serve to park held requests as
// Serve does, for a server started another way (an
// httptest.Server's Listener, say). It sets srv.ConnContext, keeping a
// function already there. Closing the listener closes the connections
// parked idle and stops watching the parked requests' clients; those
// requests are still answered. Where parking is not supported, it
// returns l.
func ParkListener(srv *http.Server, l net.Listener) net.Listener {
	poller, err := netpark.New()
	if err != nil {
		return l
	}
	idle := srv.IdleTimeout
	if idle == 0 {
		idle = srv.ReadTimeout
	}
	pl := newParkListener(l, poller, idle)
	base := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if base != nil {
			ctx = base(ctx, c)
		}
		return context.WithValue(ctx, parkKey{}, pl)
	}
	return pl
}

// parkKey is the context key of a request's parkListener.
type parkKey struct{}

// A parkListener is the listener Serve gives its http.Server: the
// accepted connections and, besides them, the parked connections whose
// reply was written, for their next request.
type parkListener struct {
	net.Listener
	poller *netpark.Poller
	// idleTimeout closes an idle parked connection (the server's
	// IdleTimeout, or its ReadTimeout; zero: never).
	idleTimeout time.Duration
	accepts     chan accepted
	back        chan net.Conn
	done        chan struct{}
	once        sync.Once

	mu     sync.Mutex
	idles  map[*idleConn]struct{} // guarded by mu
	closed bool                   // guarded by mu
}

// accepted is one result of the listener's Accept.
type accepted struct {
	c   net.Conn
	err error
}

func newParkListener(l net.Listener, poller *netpark.Poller, idleTimeout time.Duration) *parkListener {
	pl := &parkListener{Listener: l, poller: poller, idleTimeout: idleTimeout,
		accepts: make(chan accepted), back: make(chan net.Conn), done: make(chan struct{}),
		idles: make(map[*idleConn]struct{})}
	go pl.acceptLoop()
	return pl
}

// acceptLoop accepts connections from the listener below until it is
// closed.
func (l *parkListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepts <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// Accept returns the next new or handed back connection.
func (l *parkListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.accepts:
		return a.c, a.err
	case c := <-l.back:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener below and the idle connections, and stops
// the poller; connections handed back after that are closed.
func (l *parkListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() {
		close(l.done)
		l.closeIdle()
		l.poller.Close()
	})
	return err
}

// resume hands c back for its next request, or closes it when the
// listener is closed.
func (l *parkListener) resume(c net.Conn) {
	select {
	case l.back <- c:
	case <-l.done:
		c.Close()
	}
}

// idle parks c, whose last response was written, until it has something
// to read (its next request, or its end), then resumes it; or closes it
// after the server's idle timeout, as the server would. Meanwhile c costs
// neither a goroutine nor buffers.
func (l *parkListener) idle(c net.Conn) {
	ic := &idleConn{c: c}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return
	}
	watch, err := l.poller.Park(c, true, func() { l.wakeIdle(ic, true) })
	if err != nil {
		go l.resume(c)
		return
	}
	ic.watch = watch
	if l.idleTimeout > 0 {
		ic.timer = time.AfterFunc(l.idleTimeout, func() { l.expire(ic) })
	}
	l.idles[ic] = struct{}{}
}

// An idleConn is a connection parked by idle.
type idleConn struct {
	c     net.Conn
	watch *netpark.Parked // set under mu
	timer *time.Timer     // set under mu
}

// expire closes ic after the idle timeout, unless it woke first.
func (l *parkListener) expire(ic *idleConn) {
	l.mu.Lock()
	watch := ic.watch
	l.mu.Unlock()
	if watch.Unpark() {
		l.wakeIdle(ic, false)
	}
}

// wakeIdle takes ic out of the idle connections and resumes it, or
// closes it.
func (l *parkListener) wakeIdle(ic *idleConn, resume bool) {
	l.mu.Lock()
	delete(l.idles, ic)
	timer := ic.timer
	l.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	if !resume {
		ic.c.Close()
		return
	}
	go l.resume(ic.c)
}

// closeIdle closes the idle connections, as http.Server.Shutdown closes
// its idle ones.
func (l *parkListener) closeIdle() {
	l.mu.Lock()
	l.closed = true
	idles := l.idles
	l.idles = nil
	l.mu.Unlock()
	for ic := range idles {
		if ic.watch.Unpark() {
			if ic.timer != nil {
				ic.timer.Stop()
			}
			ic.c.Close()
		}
	}
}
