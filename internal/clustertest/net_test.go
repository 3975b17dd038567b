package clustertest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// The test network: a bridge in the root namespace (HAProxy, and the
// relay to Prosody, listen on its address) and one namespace per node and
// one for the client, boshload, each with a veth pair whose host side is
// on the bridge. Namespace 0 is the client's.
const (
	bridge   = "hb-br0"
	hostIP   = "10.77.0.1"
	netmask  = "/24"
	nodeBase = 10 // node i is 10.77.0.(10+i), the client 10.77.0.10
)

func nodeIP(i int) string { return fmt.Sprintf("10.77.0.%d", nodeBase+i) }
func nodeNS(i int) string {
	if i == 0 {
		return "hb-c"
	}
	return fmt.Sprintf("hb-n%d", i)
}
func hostVeth(i int) string { return fmt.Sprintf("hb-v%d", i) }

// clientNS is the namespace boshload runs in.
var clientNS = nodeNS(0)

// sh runs a command and fails the test when it fails.
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// quiet runs a command whose failure does not matter (cleanup).
func quiet(args ...string) { exec.Command(args[0], args[1:]...).Run() }

// setupNetwork creates the bridge, the client's namespace and n nodes'
// namespaces, removed at the end.
func setupNetwork(t *testing.T, n int) {
	t.Helper()
	teardown := func() {
		for i := 0; i <= n; i++ {
			quiet("ip", "netns", "del", nodeNS(i))
			quiet("ip", "link", "del", hostVeth(i))
		}
		quiet("ip", "link", "del", bridge)
	}
	teardown() // what a killed run left
	t.Cleanup(teardown)
	sh(t, "ip", "link", "add", bridge, "type", "bridge")
	sh(t, "ip", "addr", "add", hostIP+netmask, "dev", bridge)
	sh(t, "ip", "link", "set", bridge, "up")
	for i := 0; i <= n; i++ {
		ns := nodeNS(i)
		sh(t, "ip", "netns", "add", ns)
		sh(t, "ip", "link", "add", hostVeth(i), "type", "veth", "peer", "name", "eth0", "netns", ns)
		sh(t, "ip", "link", "set", hostVeth(i), "master", bridge, "up")
		sh(t, "ip", "-n", ns, "addr", "add", nodeIP(i)+netmask, "dev", "eth0")
		sh(t, "ip", "-n", ns, "link", "set", "eth0", "up")
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
}

// partition cuts node i off the bridge, or joins it again.
func partition(t *testing.T, i int, cut bool) {
	state := "up"
	if cut {
		state = "down"
	}
	sh(t, "ip", "link", "set", hostVeth(i), state)
}

// oneWay drops, or lets through again, every packet node i sends to the
// other nodes, the client, and the bridge's address (the load balancer and
// Prosody's relay), with blackhole routes in its namespace: packets toward
// node i still arrive (a one-way partition at the IP level), while its
// answers, its TCP acknowledgements and its forwards go nowhere.
func oneWay(t *testing.T, i int, cut bool) {
	op := "del"
	if cut {
		op = "add"
	}
	for _, ip := range append(peerIPs(i), hostIP) {
		sh(t, "ip", "-n", nodeNS(i), "route", op, "blackhole", ip+"/32")
	}
}

// peerIPs returns the addresses of the client and of every node but i.
func peerIPs(i int) []string {
	var ips []string
	for j := 0; j <= nodes; j++ {
		if j != i {
			ips = append(ips, nodeIP(j))
		}
	}
	return ips
}
