package bosh

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// proxies is the parsed Config.TrustedProxies.
type proxies []netip.Prefix

// parseProxies parses IP addresses and CIDR prefixes.
func parseProxies(list []string) (proxies, error) {
	var out proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("bosh: Config.TrustedProxies: %q is not an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (ps proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the client's address as written ("ip" or "ip:port")
// and as an IP. Forwarded (RFC 7239) or, without it, X-Forwarded-For is
// believed only when the peer is a trusted proxy; the client is then the
// right-most hop that is not one. The walk stops at a hop that is not an
// IP address (an obfuscated identifier or "unknown", RFC 7239 §6): what
// stands left of it was written by someone we do not trust, so the last
// trusted hop is taken as the client. The IP is invalid only when the
// peer address itself cannot be parsed (an unusual listener).
func (h *Handler) clientAddr(r *http.Request) (string, netip.Addr) {
	addr, ip := r.RemoteAddr, parseHop(r.RemoteAddr)
	if len(h.proxies) == 0 || !ip.IsValid() || !h.proxies.trusted(ip) {
		return addr, ip
	}
	hops := forwardedParam(r.Header.Values("Forwarded"), "for")
	if hops == nil {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for hop := range strings.SplitSeq(v, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHop(hops[i])
		if !a.IsValid() {
			break
		}
		addr, ip = strings.Trim(hops[i], `"`), a
		if !h.proxies.trusted(a) {
			break
		}
	}
	return addr, ip
}

// forwardedParam returns the parameters named param ("for", "proto",
// "host") of Forwarded header values, in order (RFC 7239 §4, §5), quotes
// removed; nil when there are none.
func forwardedParam(values []string, param string) []string {
	var out []string
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			for pair := range strings.SplitSeq(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), param) {
					out = append(out, strings.Trim(strings.TrimSpace(val), `"`))
				}
			}
		}
	}
	return out
}

// parseHop parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port"; it returns
// the zero Addr for anything else.
func parseHop(s string) netip.Addr {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap()
	}
	host := s
	if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}

// addrKey is what MaxSessionsPerAddress counts by: the IPv4 address, or the
// /64 of an IPv6 address (one subscriber's share under RFC 6177, so that a
// client cannot step around the limit by changing its interface id).
func addrKey(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}
