package netpark_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/internal/netpark"
)

// pair returns both ends of a loopback TCP connection.
func pair(t testing.TB) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func newPoller(t *testing.T) *netpark.Poller {
	t.Helper()
	p, err := netpark.New()
	if runtime.GOOS != "linux" {
		require.ErrorIs(t, err, errors.ErrUnsupported)
		t.Skip("netpark needs epoll (Linux)")
	}
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// hangups returns a hangup function and the channel it reports on.
func hangups() (func(), chan struct{}) {
	c := make(chan struct{}, 2)
	return func() { c <- struct{}{} }, c
}

func waitHangup(t *testing.T, c chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("no hangup")
	}
}

// A peer that closes or resets its end is a hangup, once; Unpark then
// reports false.
func TestHangup(t *testing.T) {
	tests := []struct {
		name string
		end  func(c net.Conn)
	}{
		{name: "close", end: func(c net.Conn) { c.Close() }},
		{name: "reset", end: func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }},
		{name: "half close", end: func(c net.Conn) { c.(*net.TCPConn).CloseWrite() }},
	}
	p := newPoller(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client := pair(t)
			hangup, got := hangups()
			k, err := p.Park(server, hangup)
			require.NoError(t, err)
			tt.end(client)
			waitHangup(t, got)
			assert.False(t, k.Unpark(), "the hangup came first")
			assert.Empty(t, got, "one hangup")
		})
	}
}

// A peer that hung up before the connection was parked is a hangup too.
func TestHangupBeforePark(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t)
	client.Close()
	hangup, got := hangups()
	_, err := p.Park(server, hangup)
	require.NoError(t, err)
	waitHangup(t, got)
}

// Data from the peer is no hangup and stays for the reader after Unpark;
// an unparked connection's later close is never reported, even when its
// descriptor number is parked again.
func TestDataIsNoHangup(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t)
	hangup, got := hangups()
	k, err := p.Park(server, hangup)
	require.NoError(t, err)
	_, err = client.Write([]byte("POST /http-bind HTTP/1.1\r\n"))
	require.NoError(t, err)

	// A second connection, parked and closed after the data was sent: its
	// hangup is reported, the first connection's data is not.
	server2, client2 := pair(t)
	hangup2, got2 := hangups()
	_, err = p.Park(server2, hangup2)
	require.NoError(t, err)
	client2.Close()
	waitHangup(t, got2)
	assert.Empty(t, got, "data is no hangup")

	require.True(t, k.Unpark())
	assert.False(t, k.Unpark(), "a second Unpark")
	buf := make([]byte, 4)
	_, err = io.ReadFull(server, buf)
	require.NoError(t, err)
	assert.Equal(t, "POST", string(buf), "the data is still there")

	client.Close()
	parkedHangsUp(t, p)
	assert.Empty(t, got, "no hangup after Unpark")
}

// parkedHangsUp parks a new connection on p and checks that its client's
// close is reported.
func parkedHangsUp(t *testing.T, p *netpark.Poller) {
	t.Helper()
	server, client := pair(t)
	hangup, got := hangups()
	_, err := p.Park(server, hangup)
	require.NoError(t, err)
	client.Close()
	waitHangup(t, got)
}

// A keep-alive connection is parked again after each Unpark: only the
// parking that is current when the peer hangs up reports it. A connection
// closed on this side after Unpark leaves nothing behind for the next one
// given its descriptor number.
func TestParkAgain(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t)
	var earlier []chan struct{}
	for range 3 {
		hangup, got := hangups()
		k, err := p.Park(server, hangup)
		require.NoError(t, err)
		require.True(t, k.Unpark())
		earlier = append(earlier, got)
	}
	hangup, got := hangups()
	_, err := p.Park(server, hangup)
	require.NoError(t, err)
	client.Close()
	waitHangup(t, got)
	for i, c := range earlier {
		assert.Empty(t, c, "parking %d was unparked", i)
	}

	// Closed here after Unpark: the next connection (whose descriptor
	// number is likely the same) is watched all the same.
	server.Close()
	parkedHangsUp(t, p)
}

// A TLS connection is watched through the TCP connection below it.
func TestTLS(t *testing.T) {
	p := newPoller(t)
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS() // for its certificate
	srv.Close()
	cert := srv.TLS.Certificates[0]
	server, client := pair(t)
	ts := tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert}})
	tc := tls.Client(client, &tls.Config{InsecureSkipVerify: true})
	errc := make(chan error, 1)
	go func() { errc <- tc.Handshake() }()
	require.NoError(t, ts.Handshake())
	require.NoError(t, <-errc)

	hangup, got := hangups()
	_, err := p.Park(ts, hangup)
	require.NoError(t, err)
	tc.Close() // close_notify, then FIN
	waitHangup(t, got)
}

// After Close nothing is watched: Park fails, and a parked connection's
// Unpark still reports true.
func TestClose(t *testing.T) {
	p := newPoller(t)
	server, _ := pair(t)
	hangup, _ := hangups()
	k, err := p.Park(server, hangup)
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "idempotent")
	assert.True(t, k.Unpark())
	_, err = p.Park(server, hangup)
	assert.ErrorIs(t, err, net.ErrClosed)
}

// A connection without a descriptor cannot be parked.
func TestNoDescriptor(t *testing.T) {
	p := newPoller(t)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_, err := p.Park(a, func() {})
	assert.Error(t, err)
}

// Watch reports data as well as a hangup, once; the data stays for the
// reader. Unpark before either reports true, and nothing is reported.
func TestWatch(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t)
	ready, got := hangups()
	k, err := p.Watch(server, ready)
	require.NoError(t, err)
	_, err = client.Write([]byte("<message/>"))
	require.NoError(t, err)
	waitHangup(t, got)
	assert.False(t, k.Unpark(), "ready came first")
	buf := make([]byte, 10)
	_, err = io.ReadFull(server, buf)
	require.NoError(t, err)
	assert.Equal(t, "<message/>", string(buf))

	k, err = p.Watch(server, ready)
	require.NoError(t, err)
	client.Close()
	waitHangup(t, got)
	assert.False(t, k.Unpark())
	assert.Empty(t, got, "once")

	server2, client2 := pair(t)
	ready2, got2 := hangups()
	k2, err := p.Watch(server2, ready2)
	require.NoError(t, err)
	assert.True(t, k2.Unpark())
	_, err = client2.Write([]byte("x"))
	require.NoError(t, err)
	// A connection watched after it: once its data is reported, the
	// Poller has had the unparked one's too, had it been watched still.
	server3, client3 := pair(t)
	ready3, got3 := hangups()
	_, err = p.Watch(server3, ready3)
	require.NoError(t, err)
	_, err = client3.Write([]byte("y"))
	require.NoError(t, err)
	waitHangup(t, got3)
	assert.Empty(t, got2, "unparked")
}

// BenchmarkParkUnpark: a keep-alive connection parked and unparked, as a
// held request and its reply do.
func BenchmarkParkUnpark(b *testing.B) {
	p, err := netpark.New()
	require.NoError(b, err)
	defer p.Close()
	server, client := pair(b)
	defer client.Close()
	for b.Loop() {
		k, err := p.Park(server, func() {})
		if err != nil {
			b.Fatal(err)
		}
		k.Unpark()
	}
}
