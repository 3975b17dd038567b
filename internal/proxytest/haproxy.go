package proxytest

import (
	"syscall"
	"testing"
)

// HAProxyGlobal is the head of every configuration HAProxy runs with
// here: a global section that logs each request to the process's output
// (where a failed test shows it), and the defaults section of Debian 12's
// /etc/haproxy/haproxy.cfg, whose timeouts are those of the HAProxy
// manual's examples: 5s to connect, 50s of inactivity on either side.
// (HAProxy itself has no default for these: unset, they are infinite.)
// The errorfile lines of Debian's file are left out; they only change
// the bodies of HAProxy's own error responses.
const HAProxyGlobal = `global
	log stderr format raw local0 info

defaults
	log	global
	mode	http
	option	httplog
	option	dontlognull
	timeout connect 5000
	timeout client  50000
	timeout server  50000
`

// HAProxy starts Debian's HAProxy with HAProxyGlobal followed by conf:
// frontend and backend sections as an operator adds them to Debian's
// haproxy.cfg. conf must bind addr, a loopback address such as FreeAddr
// gives. HAProxy returns once it accepts connections; it stops when the
// test ends.
func HAProxy(t testing.TB, addr, conf string) *Proxy {
	t.Helper()
	bin := lookup(t, "haproxy")
	p := &Proxy{Addr: addr, Dir: t.TempDir(), Config: HAProxyGlobal + "\n" + conf, name: "haproxy"}
	cfg := writeFile(t, p.Dir, "haproxy.cfg", p.Config)
	// -db: in the foreground, one process; -f: only this file.
	p.start(t, bin, syscall.SIGTERM, "-db", "-f", cfg)
	return p
}
