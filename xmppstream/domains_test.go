package xmppstream

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh"
)

// Both standard upstreams name their domains on the endpoint page.
var (
	_ bosh.DomainLister = (*Server)(nil)
	_ bosh.DomainLister = (*TCPUpstream)(nil)
)

func TestDomains(t *testing.T) {
	tests := []struct {
		name    string
		domains []string
		want    []string // Server: sorted
		wantTCP []string // TCPUpstream: in the order configured, once each
	}{
		{name: "one", domains: []string{"example.com"}, want: []string{"example.com"}, wantTCP: []string{"example.com"}},
		{name: "prepared as domainparts (RFC 7622 §3.2)", domains: []string{"Example.COM"}, want: []string{"example.com"}, wantTCP: []string{"example.com"}},
		{name: "several", domains: []string{"b.example", "a.example"}, want: []string{"a.example", "b.example"}, wantTCP: []string{"b.example", "a.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(newFakeCore(), ServerConfig{Domains: tc.domains})
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.Domains())
			u, err := NewTCPUpstream(TCPConfig{Addr: "127.0.0.1:5222", Domains: append(tc.domains, tc.domains[0])})
			require.NoError(t, err)
			assert.Equal(t, tc.wantTCP, u.Domains())
		})
	}
}

// listen returns a loopback listener that the test closes.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestProbe(t *testing.T) {
	accepting := []struct {
		name        string
		proxyHeader bool
		want        []byte // what the probe sent before closing
	}{
		{"a server that accepts: nothing sent, and the connection closed", false, []byte{}},
		{"with a PROXY header: the LOCAL command (PROXY protocol §2.2)", true, []byte(proxySignature + "\x20\x00\x00\x00")},
	}
	for _, tt := range accepting {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t)
			u, err := NewTCPUpstream(TCPConfig{Addr: ln.Addr().String(), Domains: []string{"example.com"}, ProxyHeader: tt.proxyHeader})
			require.NoError(t, err)
			got := make(chan []byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer c.Close()
				b, _ := io.ReadAll(c)
				got <- b
			}()
			require.NoError(t, u.Probe(t.Context()))
			assert.Equal(t, tt.want, <-got)
		})
	}
	t.Run("a server that is down", func(t *testing.T) {
		ln := listen(t)
		addr := ln.Addr().String()
		ln.Close()
		u, err := NewTCPUpstream(TCPConfig{Addr: addr, Domains: []string{"example.com"}})
		require.NoError(t, err)
		err = u.Probe(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), addr)
	})
	t.Run("bounded by DialTimeout", func(t *testing.T) {
		dialed := make(chan struct{})
		u, err := NewTCPUpstream(TCPConfig{
			Addr: "127.0.0.1:1", Domains: []string{"example.com"}, DialTimeout: 50 * time.Millisecond,
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				close(dialed)
				<-ctx.Done() // a server that never answers
				return nil, ctx.Err()
			},
		})
		require.NoError(t, err)
		assert.ErrorIs(t, u.Probe(context.Background()), context.DeadlineExceeded)
		<-dialed
	})
}
