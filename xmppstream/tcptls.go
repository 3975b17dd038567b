package xmppstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// handshake runs the TLS client handshake on conn (RFC 6120 §5.4.3.3 for
// STARTTLS, XEP-0368 for direct TLS). The certificate is verified against
// TCPConfig.TLSConfig's roots, for the session's domain unless the
// configuration names another server (RFC 6120 §13.7.2.1).
func (s *tcpStream) handshake(ctx context.Context, conn net.Conn) (net.Conn, error) {
	cfg := s.up.cfg.TLSConfig.Clone() // NewTCPUpstream sets it; Clone keeps the shared session cache
	if cfg.ServerName == "" {
		cfg.ServerName = s.domain
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("xmppstream: TLS with the server: %w", err)
	}
	st := tc.ConnectionState()
	s.up.log.Debug("xmppstream: TLS with the server", "domain", s.domain,
		"version", tls.VersionName(st.Version), "resumed", st.DidResume)
	return tc, nil
}

// starttls upgrades the stream to TLS (RFC 6120 §5.4.2): <starttls/>,
// the server's <proceed/>, the handshake. The caller then restarts the
// stream (§5.4.3.3).
func (s *tcpStream) starttls(ctx context.Context) error {
	if err := s.write([]byte("<starttls xmlns='" + nsTLS + "'/>")); err != nil {
		return err
	}
	el, err := s.nextElement()
	switch {
	case err != nil:
		return err
	case el.space != nsTLS || el.local != "proceed":
		return fmt.Errorf("xmppstream: STARTTLS answered with {%s}%s", el.space, el.local)
	case s.rd.buffered():
		return errors.New("xmppstream: data after <proceed/> before the TLS handshake")
	}
	s.conn, err = s.handshake(ctx, s.conn)
	return err
}

// streamHeaderBytes returns an initial stream header of a client (RFC 6120
// §4.7) with the stream prefix (§4.8.5) and jabber:client (§4.8.3).
func streamHeaderBytes(domain, from, lang, version string) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?><stream:stream to='")
	escapeAttr(&b, domain)
	b.WriteByte('\'')
	if from != "" {
		b.WriteString(" from='")
		escapeAttr(&b, from)
		b.WriteByte('\'')
	}
	b.WriteString(" version='")
	escapeAttr(&b, version)
	b.WriteString("' xml:lang='")
	escapeAttr(&b, lang)
	b.WriteString("' xmlns='" + nsClient + "' xmlns:stream='" + nsStream + "'>")
	return b.Bytes()
}

// proxySignature starts every PROXY protocol version 2 header.
const proxySignature = "\r\n\r\n\x00\r\nQUIT\n"

// proxyHeader returns a PROXY protocol version 2 header (haproxy's
// proxy-protocol.txt §2.2) with the BOSH client's address as the source
// and the server's address as the destination: TCP over IPv4 when both
// are IPv4, else TCP over IPv6 (IPv4 addresses mapped); the LOCAL command
// when the client's address is not an IP address.
func proxyHeader(client string, server net.Addr) []byte {
	src, ok := parseAddrPort(client)
	var dst netip.AddrPort
	if ta, isTCP := server.(*net.TCPAddr); isTCP {
		dst = ta.AddrPort()
	} else if server != nil {
		dst, _ = parseAddrPort(server.String())
	}
	b := []byte(proxySignature)
	if !ok {
		return append(b, 0x20, 0x00, 0, 0) // version 2, LOCAL; UNSPEC, no addresses
	}
	if !dst.IsValid() {
		dst = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		if src.Addr().Is4() {
			dst = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		}
	}
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	if sa.Is4() && da.Is4() {
		b = append(b, 0x21, 0x11, 0, 12) // version 2, PROXY; TCP over IPv4, 12 bytes
		b = append(b, sa.AsSlice()...)
		b = append(b, da.AsSlice()...)
	} else {
		b = append(b, 0x21, 0x21, 0, 36) // TCP over IPv6, 36 bytes
		s16, d16 := sa.As16(), da.As16()
		b = append(append(b, s16[:]...), d16[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// parseAddrPort reads "ip", "ip:port", "[ipv6]" or "[ipv6]:port".
func parseAddrPort(s string) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, 0), true
}
