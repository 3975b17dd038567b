package xmppstream

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Domains returns the XMPP domains the server hosts (ServerConfig.Domains,
// prepared), sorted. With it a Server is a bosh.DomainLister: the BOSH
// endpoint page lists them.
func (s *Server) Domains() []string {
	out := make([]string, 0, len(s.domains))
	for d := range s.domains {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// Domains returns the XMPP domains the server behind the upstream hosts
// (TCPConfig.Domains, prepared), in the order configured. With it a
// TCPUpstream is a bosh.DomainLister: the BOSH endpoint page lists them.
func (u *TCPUpstream) Domains() []string {
	out := make([]string, 0, len(u.domains))
	for _, d := range u.cfg.Domains {
		if p, ok := prepareDomain(d); ok && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// probeWriteTimeout bounds the PROXY header that Probe writes.
const probeWriteTimeout = 2 * time.Second

// Probe reports whether the XMPP server at TCPConfig.Addr accepts a TCP
// connection, for a readiness probe: it connects with TCPConfig.Dial and
// closes the connection at once, having sent nothing, or with ProxyHeader
// only a PROXY v2 header with the LOCAL command, which the PROXY protocol
// (§2.2) provides for health checks. It does not negotiate the stream;
// servers of allowed routes (XEP-0124 §7.1) are not probed. ctx bounds it,
// and so does TCPConfig.DialTimeout. Probe is safe for concurrent use.
func (u *TCPUpstream) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.DialTimeout)
	defer cancel()
	conn, err := u.cfg.Dial(ctx, "tcp", u.cfg.Addr)
	if err != nil {
		return fmt.Errorf("xmppstream: upstream %s: %w", u.cfg.Addr, err)
	}
	defer conn.Close()
	if u.cfg.ProxyHeader {
		conn.SetWriteDeadline(time.Now().Add(probeWriteTimeout))
		if _, err := conn.Write(proxyHeader("", conn.RemoteAddr())); err != nil {
			return fmt.Errorf("xmppstream: upstream %s: %w", u.cfg.Addr, err)
		}
	}
	return nil
}
