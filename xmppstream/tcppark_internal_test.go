package xmppstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
)

// parkSink records the payloads and the end the stream gives it.
type parkSink struct {
	payloads chan string
	mu       sync.Mutex
	ended    chan error
}

func newParkSink() *parkSink {
	return &parkSink{payloads: make(chan string, 16), ended: make(chan error, 1)}
}

func (s *parkSink) Deliver(payloads ...[]byte) bool {
	for _, p := range payloads {
		s.payloads <- string(p)
	}
	return true
}
func (s *parkSink) SetAttrs(...bosh.Attr) {}
func (s *parkSink) End(err error)         { s.ended <- err }

func (s *parkSink) next(t *testing.T) string {
	t.Helper()
	select {
	case p := <-s.payloads:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no payload")
		return ""
	}
}

func (s *parkSink) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.ended:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
		return nil
	}
}

// isParked reports whether the stream's reader is parked.
func (s *tcpStream) isParked() bool {
	s.parkMu.Lock()
	defer s.parkMu.Unlock()
	return s.parked != nil
}

func waitParked(t *testing.T, s *tcpStream) {
	t.Helper()
	for range 500 {
		if s.isParked() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the reader did not park")
}

// parkServer accepts one connection (through wrap, for TLS) and answers
// the client's stream header with its own and empty features; the test
// then writes what the server says on the returned channel's connection.
func parkServer(t *testing.T, wrap func(net.Conn) net.Conn) (addr string, conns chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	conns = make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { c.Close() })
		c = wrap(c)
		var got []byte
		buf := make([]byte, 512)
		for !bytes.Contains(got, []byte("streams'>")) {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got = append(got, buf[:n]...)
		}
		c.Write([]byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
			"id='s1' from='example.com' version='1.0'><stream:features/>"))
		conns <- c
	}()
	return ln.Addr().String(), conns
}

func parkUpstream(t *testing.T, addr string, direct *tls.Config) *TCPUpstream {
	t.Helper()
	up, err := NewTCPUpstream(TCPConfig{Addr: addr, Domains: []string{"example.com"}, DirectTLS: direct != nil,
		TLSConfig: direct, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	if up.parker() == nil {
		t.Skip("netpark needs epoll (Linux)")
	}
	t.Cleanup(func() { up.Shutdown(context.Background()) })
	return up
}

func openParked(t *testing.T, up *TCPUpstream) (*tcpStream, *parkSink) {
	t.Helper()
	sink := newParkSink()
	st, err := up.Open(context.Background(), &bosh.OpenRequest{To: "example.com"}, sink)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close(bosh.Closing{}) })
	assert.Equal(t, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>", sink.next(t))
	return st.(*tcpStream), sink
}

// An idle stream's reader parks; a stanza that arrives later wakes it and
// reaches the client, whole or in pieces, and it parks again. The
// server's end of the stream, or its connection closing, still ends the
// session at once (XEP-0206 §6).
func TestTCPParkedReaderWakes(t *testing.T) {
	for _, end := range []string{"stream end", "connection closed"} {
		t.Run(end, func(t *testing.T) {
			addr, conns := parkServer(t, func(c net.Conn) net.Conn { return c })
			up := parkUpstream(t, addr, nil)
			st, sink := openParked(t, up)
			srv := <-conns
			waitParked(t, st)
			st.parkMu.Lock() // the reader let go of them before it parked
			assert.Nil(t, st.rd.buf, "no read buffer while parked")
			assert.Nil(t, st.doc, "no parser scratch while parked")
			st.parkMu.Unlock()

			_, err := srv.Write([]byte("<message from='romeo@example.com'><body>1</body></message>"))
			require.NoError(t, err)
			assert.Equal(t, "<message xmlns='jabber:client' from='romeo@example.com'><body>1</body></message>", sink.next(t))
			waitParked(t, st)

			_, err = srv.Write([]byte(" <message from='romeo@example.com'><bo"))
			require.NoError(t, err)
			time.Sleep(50 * time.Millisecond)
			_, err = srv.Write([]byte("dy>2</body></message>"))
			require.NoError(t, err)
			assert.Equal(t, "<message xmlns='jabber:client' from='romeo@example.com'><body>2</body></message>", sink.next(t))
			waitParked(t, st)

			if end == "stream end" {
				_, err = srv.Write([]byte("</stream:stream>"))
				require.NoError(t, err)
				assert.NoError(t, sink.end(t), "a plain terminate")
			} else {
				srv.Close()
				var be *bosh.Error
				require.ErrorAs(t, sink.end(t), &be)
				assert.Equal(t, bosh.RemoteConnectionFailed, be.Condition)
			}
			select {
			case <-st.done:
			case <-time.After(5 * time.Second):
				t.Fatal("the reader did not stop")
			}
		})
	}
}

// Closing a stream whose reader is parked stops the reader at once, and
// Shutdown then has nothing to wait for.
func TestTCPCloseParked(t *testing.T) {
	addr, conns := parkServer(t, func(c net.Conn) net.Conn { return c })
	up := parkUpstream(t, addr, nil)
	st, sink := openParked(t, up)
	srv := <-conns
	waitParked(t, st)
	start := time.Now()
	st.Close(bosh.Closing{})
	assert.Less(t, time.Since(start), time.Second)
	<-st.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.NoError(t, up.Shutdown(ctx))
	got, _ := readConn(srv)
	assert.Equal(t, "</stream:stream>", got)
	select {
	case err := <-sink.ended:
		t.Fatalf("the sink was ended (%v) by a close from the BOSH side", err)
	default:
	}
}

func readConn(c net.Conn) (string, error) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b bytes.Buffer
	_, err := b.ReadFrom(c)
	return b.String(), err
}

// heldConn holds what a TLS server writes while hold is set, until
// release, so that several TLS records reach the client in one TCP
// segment.
type heldConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	out  bytes.Buffer
}

func (c *heldConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hold {
		return c.Conn.Write(b)
	}
	return c.out.Write(b)
}

func (c *heldConn) setHold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = true
}

// release writes what was held in one write, and stops holding.
func (c *heldConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = false
	_, err := c.Conn.Write(c.out.Bytes())
	c.out.Reset()
	return err
}

// tlsHeld is a TLS server connection over a heldConn.
type tlsHeld struct {
	*tls.Conn
	held *heldConn
}

// Two stanzas in two TLS records of one TCP segment: crypto/tls reads
// both from the kernel and returns the first record's bytes, and the
// second waits in its buffer, which the kernel no longer reports. The
// reader drains it before parking, so the second stanza is not left
// waiting for the server's next bytes.
func TestTCPParkDrainsTLS(t *testing.T) {
	srvTLS := httptest.NewUnstartedServer(nil)
	srvTLS.StartTLS() // for its certificate, for example.com
	srvTLS.Close()
	cert := srvTLS.TLS.Certificates[0]
	addr, conns := parkServer(t, func(c net.Conn) net.Conn {
		h := &heldConn{Conn: c}
		return tlsHeld{Conn: tls.Server(h, &tls.Config{Certificates: []tls.Certificate{cert}}), held: h}
	})
	roots := x509.NewCertPool()
	roots.AddCert(srvTLS.Certificate())
	up := parkUpstream(t, addr, &tls.Config{RootCAs: roots})
	st, sink := openParked(t, up)
	srv := (<-conns).(tlsHeld)
	waitParked(t, st)

	srv.held.setHold()
	for _, body := range []string{"1", "2"} {
		_, err := srv.Write([]byte("<message from='romeo@example.com'><body>" + body + "</body></message>"))
		require.NoError(t, err)
	}
	require.NoError(t, srv.held.release())
	assert.Equal(t, "<message xmlns='jabber:client' from='romeo@example.com'><body>1</body></message>", sink.next(t))
	assert.Equal(t, "<message xmlns='jabber:client' from='romeo@example.com'><body>2</body></message>", sink.next(t))
	waitParked(t, st)
	st.parkMu.Lock()
	assert.NoError(t, st.rd.err, "a drain's timeout is no error")
	st.parkMu.Unlock()
}
