package bosh

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"

	"github.com/httpbind/httpbind/internal/h2serve"
	"github.com/httpbind/httpbind/internal/netpark"
)

// Serve serves HTTP on l with srv, as srv.Serve(l) does, and lets a held
// request wait without a goroutine or buffers: a Handler that srv's
// Handler reaches (directly, through a ServeMux, or through any wrapper
// whose ResponseWriter http.ResponseController can unwrap) parks a
// request its session holds (§8) until the reply is there or the client
// goes away (the end of r.Context() for a request that is not parked).
//
//   - Over HTTP/1.1 it takes the request off its connection (a hijack),
//     watches the connection meanwhile and writes the reply. The held
//     request then costs its socket and its session's state: no
//     goroutine stack, no bufio buffers, no *http.Request. The
//     connection then stays with Serve, which serves its next requests
//     itself (a held one is parked again) and, between them, watches it
//     the same way: an idle keep-alive connection costs no goroutine
//     either. srv's ReadHeaderTimeout, ReadTimeout, IdleTimeout,
//     WriteTimeout, MaxHeaderBytes, ErrorLog and Handler apply to those
//     requests as to its own; ConnState is not called for them, a
//     response goes out when its handler returns (no Flush), and a
//     request's context does not end when its client goes away while
//     the handler runs. A TLS connection goes back to srv instead.
//   - Over HTTP/2 (h2c with prior knowledge when srv.Protocols allows
//     it, h2 over TLS when ALPN chooses it), Serve serves the connections
//     with its own HTTP/2 server (internal/h2serve) instead of Go's, whose
//     streams a handler can detach: a held stream costs a few hundred
//     bytes and no goroutine, and the client resetting it (RST_STREAM) or
//     closing the connection counts as going away. An h2c connection
//     leaves srv once its preface is read (ConnState reports it closed;
//     a ConnContext that kept its net.Conn keeps one that srv closed: the
//     connection goes on over a duplicate of its descriptor) and, while
//     its client sends nothing, is watched like an idle HTTP/1.1 one: no
//     goroutine waits for it. srv.Shutdown and srv.Close send it GOAWAY
//     (RFC 9113 §6.8): it closes once its open streams are answered, and
//     srv does not wait for that.
//
// For TLS, l is a tls.NewListener (srv then serves its connections as
// srv.ServeTLS would; put "h2" in NextProtos for HTTP/2), never
// srv.ServeTLS. HTTP/1.0 and requests with "Connection: close" are served
// as by srv.Serve; so are HTTP/1.1 connections on systems without epoll
// (other than Linux).
//
// Call Handler.Shutdown before srv.Shutdown, as without Serve: Shutdown
// answers the parked requests too, and waits for them.
func Serve(srv *http.Server, l net.Listener) error {
	return srv.Serve(ParkListener(srv, l))
}

// ParkListener returns l wrapped for srv.Serve to park held requests as
// Serve does, for a server started another way (an
// httptest.Server's Listener, say). It sets srv.ConnContext, keeping a
// function already there, and on its first Accept (once srv.Serve has
// configured HTTP/2) srv's HTTP/2 server; one ParkListener serves one
// http.Server. Closing the listener closes the connections
// parked idle and stops watching the parked requests' clients; those
// requests are still answered. Where parking is not supported, it
// returns l.
func ParkListener(srv *http.Server, l net.Listener) net.Listener {
	poller, err := netpark.New()
	if err != nil {
		return l
	}
	pl := newParkListener(l, poller)
	pl.srv = srv
	base := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if base != nil {
			ctx = base(ctx, c)
		}
		cc := &connContext{l: pl}
		ctx = context.WithValue(ctx, parkKey{}, cc)
		cc.ctx = ctx
		return ctx
	}
	return pl
}

// parkKey is the context key of a request's connContext.
type parkKey struct{}

// A connContext is what a connection served through a parkListener has
// in its context: the listener, and the connection's context as
// ConnContext made it, before any request's values (the base of a kept
// connection's requests' contexts, keepalive.go).
type connContext struct {
	l   *parkListener
	ctx context.Context
}

// A parkListener is the listener Serve gives its http.Server: the
// accepted connections and, besides them, the parked connections whose
// reply was written, for their next request.
type parkListener struct {
	net.Listener
	srv     *http.Server
	h2once  sync.Once // installs h2
	poller  *netpark.Poller
	accepts chan accepted
	back    chan net.Conn
	done    chan struct{}
	once    sync.Once

	mu   sync.Mutex
	kept map[*keptConn]struct{} // idle kept connections (keepalive.go); nil once closed
	h2   *h2serve.Server        // srv's HTTP/2 server, once installed
}

// accepted is one result of the listener's Accept.
type accepted struct {
	c   net.Conn
	err error
}

func newParkListener(l net.Listener, poller *netpark.Poller) *parkListener {
	pl := &parkListener{Listener: l, poller: poller, kept: make(map[*keptConn]struct{}),
		accepts: make(chan accepted), back: make(chan net.Conn), done: make(chan struct{})}
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

// Accept returns the next new or handed back connection. The first call
// puts internal/h2serve behind srv's HTTP/2 connections: srv.Serve has
// configured its HTTP/2 by then, and no connection is served yet.
func (l *parkListener) Accept() (net.Conn, error) {
	l.h2once.Do(func() {
		if l.srv == nil {
			return
		}
		h2 := &h2serve.Server{Poller: l.poller}
		if h2.Install(l.srv) {
			l.mu.Lock()
			l.h2 = h2
			l.mu.Unlock()
		}
	})
	select {
	case a := <-l.accepts:
		return a.c, a.err
	case c := <-l.back:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener below and the kept connections that wait for
// a request (keepalive.go), has the h2c connections that srv handed over
// go away (h2serve.Server.Shutdown: srv no longer counts them), and stops
// the poller; connections handed back or kept after that are closed.
func (l *parkListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		kept, h2 := l.kept, l.h2
		l.kept = nil
		l.mu.Unlock()
		for kc := range kept {
			kc.shut()
		}
		if h2 != nil {
			h2.Shutdown()
		}
		l.poller.Close()
	})
	return err
}

// keep counts kc among the idle kept connections, or closes it and
// reports false when the listener is closed.
func (l *parkListener) keep(kc *keptConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kept == nil {
		kc.c.Close()
		return false
	}
	l.kept[kc] = struct{}{}
	return true
}

// drop takes kc out of the idle kept connections.
func (l *parkListener) drop(kc *keptConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.kept, kc)
}

// closed reports whether the listener is closed.
func (l *parkListener) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
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
