package xmppstream

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTLSRequired: which servers a plain stream may go to (RFC 6120
// §13.7.1): one on loopback or a Unix socket, where nobody else is on the
// path, unless RequireTLS; any with InsecurePlaintext; no other.
func TestTLSRequired(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 5222} }
	tests := []struct {
		name     string
		cfg      TCPConfig
		addr     net.Addr
		required bool
	}{
		{"IPv4 loopback", TCPConfig{}, tcp("127.0.0.1"), false},
		{"another IPv4 loopback address", TCPConfig{}, tcp("127.0.0.53"), false},
		{"IPv6 loopback", TCPConfig{}, tcp("::1"), false},
		{"Unix socket", TCPConfig{}, &net.UnixAddr{Name: "/run/xmpp.sock", Net: "unix"}, false},
		{"private network address", TCPConfig{}, tcp("10.1.2.3"), true},
		{"public address", TCPConfig{}, tcp("192.0.2.1"), true},
		{"IPv6 address", TCPConfig{}, tcp("2001:db8::1"), true},
		{"unknown kind of address", TCPConfig{}, pipeAddr{}, true},
		{"loopback with RequireTLS", TCPConfig{RequireTLS: true}, tcp("127.0.0.1"), true},
		{"public address with InsecurePlaintext", TCPConfig{InsecurePlaintext: true}, tcp("192.0.2.1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &TCPUpstream{cfg: tt.cfg}
			assert.Equal(t, tt.required, u.tlsRequired(tt.addr))
		})
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
