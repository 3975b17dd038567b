package clustertest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
	"github.com/httpbind/httpbind/internal/prosodytest"
	"github.com/httpbind/httpbind/internal/proxytest"
)

const nodes = 3

// env is the running test cluster.
type env struct {
	t        *testing.T // the scenario's
	root     *testing.T // TestCluster's: the nodes outlive a scenario
	bin      string     // boshd
	boshload string     // internal/cmd/boshload, the client
	prosody  *prosodytest.Server
	procs    [nodes + 1]*exec.Cmd // by node number, 1…nodes
	lbURL    string
}

func TestCluster(t *testing.T) {
	if os.Getenv("HTTPBIND_CLUSTER") != "1" || os.Geteuid() != 0 {
		t.Skip("run as root with HTTPBIND_CLUSTER=1 (make cluster): it creates network namespaces")
	}
	dir := t.TempDir()
	e := &env{t: t, root: t, bin: filepath.Join(dir, "boshd"), boshload: filepath.Join(dir, "boshload")}
	sh(t, "go", "build", "-o", e.bin, "../../examples/boshd")
	sh(t, "go", "build", "-o", e.boshload, "../cmd/boshload")
	setupNetwork(t, nodes)
	e.prosody = prosodytest.Start(t, prosodytest.Config{Domain: "example.test"})
	proxytest.NewRelay(t, hostIP+":5222", e.prosody.C2SAddr) // Prosody, for the nodes' namespaces
	for i := 1; i <= nodes; i++ {
		e.start(i, "5m")
	}
	for _, sc := range []struct {
		name   string
		config string
		run    func(e *env, name string)
	}{
		{"single node", "single", (*env).exchange},
		{"round-robin", "haproxy-cluster-rr", (*env).exchange},
		{"sid routing", "haproxy-cluster", (*env).exchange},
		{"idle on one node", "single", (*env).idle},
		{"idle on three nodes", "haproxy-cluster", (*env).idle},
		{"partition of 5s", "haproxy-cluster", (*env).partition5s},
		{"partition of 90s", "haproxy-cluster", (*env).partition90s},
		{"one-way partition of 10s", "haproxy-cluster", (*env).oneWay10s},
		{"kill -9", "haproxy-cluster", (*env).kill},
		{"drain", "haproxy-cluster", (*env).drain},
		{"rolling restart", "haproxy-cluster", (*env).rolling},
	} {
		t.Run(sc.name, func(t *testing.T) {
			e.t = t
			e.haproxy(sc.config)
			sc.run(e, sc.name)
		})
	}
}

// restart stops node i (SIGKILL, if it still runs) and starts it again.
func (e *env) restart(i int, drain string) {
	e.procs[i].Process.Kill()
	e.procs[i].Wait()
	e.start(i, drain)
}

// waitDraining waits, 10 s at most, until node i's /readyz answers 503,
// or it no longer answers: a node without sessions is done draining at
// once.
func (e *env) waitDraining(i int) {
	for range 200 {
		res, err := http.Get("http://" + nodeIP(i) + ":5280/readyz")
		if err != nil {
			return
		}
		res.Body.Close()
		if res.StatusCode == http.StatusServiceUnavailable {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("node %d did not start draining", i)
}

// start runs boshd node i in its namespace and waits until it is ready.
func (e *env) start(i int, drain string) {
	t := e.t
	var peers []string
	for j := 1; j <= nodes; j++ {
		peers = append(peers, fmt.Sprintf("n%d=http://%s:5280", j, nodeIP(j)))
	}
	cmd := exec.Command("ip", "netns", "exec", nodeNS(i), e.bin,
		"-listen", nodeIP(i)+":5280", "-node-id", fmt.Sprintf("n%d", i), "-peers", strings.Join(peers, ","),
		"-upstream", "tcp://"+hostIP+":5222", "-upstream-ca", e.prosody.CAFile, "-domain", "example.test",
		"-trusted-proxies", "10.77.0.0/24", "-drain-timeout", drain, "-log-level", "warn",
		"-session-rate", "1000", "-session-burst", "1000", "-max-sessions-per-address", "100000")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if dir := os.Getenv("HTTPBIND_CLUSTER_LOGS"); dir != "" {
		// Each node's debug log, appended to across restarts.
		cmd.Args[slices.Index(cmd.Args, "warn")] = "debug"
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("n%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		e.root.Cleanup(func() { f.Close() })
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.procs[i] = cmd
	e.root.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 200 { // 10s
		if res, err := http.Get("http://" + nodeIP(i) + ":5280/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node %d not ready", i)
}

// haproxy starts HAProxy with the README's configuration name, plain HTTP
// on the bridge's address (for the client's namespace), toward the nodes.
func (e *env) haproxy(name string) {
	_, port, _ := net.SplitHostPort(proxytest.FreeAddr(e.t))
	addr := net.JoinHostPort(hostIP, port)
	if name == "single" {
		proxytest.HAProxy(e.t, addr, fmt.Sprintf("frontend bosh\n\tbind %s\n\ttimeout client 90s\n\tdefault_backend boshd\n\n"+
			"backend boshd\n\ttimeout server 90s\n\tserver n1 %s:5280\n", addr, nodeIP(1)))
		e.lbURL = "http://" + addr + "/http-bind"
		return
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		e.t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- proxytest:" + name + " -->\\s*```[a-z]*\\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		e.t.Fatalf("README.md has no %s", name)
	}
	conf := string(m[1])
	conf = strings.Replace(conf, "bind :443 ssl crt /etc/haproxy/certs/chat.example.com.pem alpn h2,http/1.1", "bind "+addr, 1)
	for i := 1; i <= nodes; i++ {
		conf = strings.Replace(conf, fmt.Sprintf("10.0.0.%d:5280 check", i), nodeIP(i)+":5280 check inter 500ms", 1)
	}
	proxytest.HAProxy(e.t, addr, conf)
	e.lbURL = "http://" + addr + "/http-bind"
}

// counts are the nodes' counters summed.
type counts struct{ requests, forwarded, failed, late uint64 }

// vars reads node i's /debug/vars; ok is false when it does not answer.
func vars(i int) (all struct {
	Bosh    bosh.Stats
	Cluster cluster.Stats
}, ok bool) {
	res, err := http.Get("http://" + nodeIP(i) + ":5280/debug/vars")
	if err != nil {
		return all, false
	}
	defer res.Body.Close()
	return all, json.NewDecoder(res.Body).Decode(&all) == nil
}

// counters sums the counters of the nodes that answer.
func (e *env) counters() counts {
	var c counts
	for i := 1; i <= nodes; i++ {
		if all, ok := vars(i); ok {
			c.requests += all.Bosh.Requests
			c.forwarded += all.Cluster.Forwarded
			c.failed += all.Cluster.Failed
			c.late += all.Bosh.Late
		}
	}
	return c
}

// sessions sums the sessions open on the nodes that answer.
func (e *env) sessions() int64 {
	var n int64
	for i := 1; i <= nodes; i++ {
		if all, ok := vars(i); ok {
			n += all.Bosh.Sessions
		}
	}
	return n
}

// ended returns node i's sessions ended so far, by reason.
func (e *env) ended(i int) map[string]uint64 {
	all, _ := vars(i)
	return all.Bosh.Ended
}

func (e *env) report(name string, r *loadResult, took time.Duration, before, after counts) {
	if after.requests < before.requests { // a node was killed: its counters are gone
		before = counts{}
	}
	fwd, reqs := after.forwarded-before.forwarded, after.requests-before.requests
	e.t.Logf("%s: %v; %d of %d requests forwarded (%.1f%%), %d forwards failed; %v",
		name, r, fwd, reqs, 100*float64(fwd)/float64(max(reqs, 1)), after.failed-before.failed, took.Round(time.Millisecond))
}

const (
	sessions = 30 // 15 pairs
	messages = 20
)

// paced are boshload's arguments for the scenarios that break something
// while the pairs talk: every session sends a message every 500 ms, 20 in
// all, and a session the server ends logs in again; messages held back by
// the fault have 30 s to arrive.
var paced = []string{"-mode", "paced", "-messages", "20", "-interval", "500ms", "-idle", "0s", "-drain", "30s", "-relogin", "-duration", "3m"}

// exchange: sessions × messages through the load balancer, each message
// sent when the previous one arrived; nothing lost, duplicated or ended.
func (e *env) exchange(name string) {
	u0, base := e.usage(), e.sessions()
	before, start := e.counters(), time.Now()
	run := e.load(strings.ReplaceAll(name, " ", ""), sessions, "-mode", "closed", "-messages", fmt.Sprint(messages), "-idle", "3s")
	run.waitSessions(base, sessions, time.Second)
	u1 := e.usage()
	r := run.wait()
	after := e.counters()
	u2 := e.usage()
	e.report(name, r, time.Since(start), before, after)
	e.t.Logf("%s, summed over the nodes: %v CPU for the logins, %v after, for the %d messages and the terminates (%.0f µs a message)",
		name, u1.cpu-u0.cpu, u2.cpu-u1.cpu, r.Sent, float64((u2.cpu-u1.cpu).Microseconds())/float64(max(r.Sent, 1)))
	if !r.clean() || r.LoggedIn != sessions || after.failed > before.failed {
		e.t.Errorf("%s: not clean: %v; %d forwards failed", name, r, after.failed-before.failed)
	}
}

// idleSessions is how many sessions idle measures: enough for their memory
// to stand out from the Go heap's growth.
const idleSessions = 600

// idle restarts the nodes, so that each starts from the same heap, then
// logs in idleSessions sessions through the load balancer and lets them
// idle: memory and CPU summed over the nodes, per session, to set the
// cost of three nodes against one (each session also holds its TCP stream
// to Prosody).
func (e *env) idle(name string) {
	for i := 1; i <= nodes; i++ {
		e.restart(i, "5m")
	}
	u0, base := e.usage(), e.sessions()
	run := e.load(strings.ReplaceAll(name, " ", ""), idleSessions, "-messages", "0", "-idle", "10s", "-sources", "1")
	run.waitSessions(base, idleSessions, 3*time.Second)
	u1 := e.usage()
	r := run.wait()
	e.t.Logf("%s, summed over the nodes: %+d KiB resident with %d idle sessions (%.1f KiB a session); %v CPU for their logins (%.0f µs a login)",
		name, u1.rssKiB-u0.rssKiB, idleSessions, float64(u1.rssKiB-u0.rssKiB)/idleSessions, u1.cpu-u0.cpu,
		float64((u1.cpu-u0.cpu).Microseconds())/idleSessions)
	if r.LoggedIn != idleSessions || !r.clean() {
		e.t.Errorf("%s: not clean: %v", name, r)
	}
}

// during runs boshload with the paced arguments and calls fault 3 s after
// the sessions were created, while the pairs talk.
func (e *env) during(name, user string, fault func()) *loadResult {
	base := e.sessions()
	before, start := e.counters(), time.Now()
	run := e.load(user, sessions, paced...)
	run.waitSessions(base, sessions, 3*time.Second)
	fault()
	r := run.wait()
	e.report(name, r, time.Since(start), before, e.counters())
	return r
}

// partition5s cuts node 2 off (link down) for 5 s while the pairs talk:
// every session survives, nothing is lost.
func (e *env) partition5s(name string) {
	r := e.during(name, "part", func() {
		partition(e.t, 2, true)
		time.Sleep(5 * time.Second) // the scenario's partition, not a wait for goroutines
		partition(e.t, 2, false)
	})
	if !r.clean() {
		e.t.Errorf("%s: not clean: %v", name, r)
	}
}

// oneWay10s drops every packet node 2 sends, to the load balancer,
// Prosody's relay, the other nodes and the client, for 10 s while the
// pairs talk; packets toward it still arrive. Its TCP connections stall
// (its answers and acknowledgements go nowhere) and resume when the
// routes go. HAProxy cannot connect to it and redispatches such requests
// to another node, whose forward over its stalled connection fails when
// the connection's ping goes unanswered (HTTP 503, the client resends),
// while a later request of the same session may reach node 2 on a
// connection HAProxy already had. What holds: every session survives,
// nothing is lost or duplicated; a rid that node 2 gave up
// (GapTimeout) and that arrived after all is processed late, and only
// then may a message come out of order.
func (e *env) oneWay10s(name string) {
	before := e.counters()
	r := e.during(name, "oneway", func() {
		oneWay(e.t, 2, true)
		time.Sleep(10 * time.Second) // the scenario's partition
		oneWay(e.t, 2, false)
	})
	late := e.counters().late - before.late
	e.t.Logf("%s: node 2's %d sessions: %d ended; %d requests of a given-up rid processed late; %d messages out of order",
		name, r.logins(2), len(r.SessionsEnded), late, r.OutOfOrder)
	switch {
	case r.logins(2) == 0 || r.LoginFailures+r.SessionsFailed+r.SessionsStuck > 0 || len(r.SessionsEnded)+len(r.Relogins) > 0:
		e.t.Errorf("%s: no session on node 2, or a login failed, or a session failed, stuck or ended: %v", name, r)
	case r.Lost+r.Duplicated > 0 || (late == 0 && r.OutOfOrder > 0):
		e.t.Errorf("%s: lost %d, duplicated %d, out of order %d with %d processed late", name, r.Lost, r.Duplicated, r.OutOfOrder, late)
	}
}

// partition90s cuts node 2 off for 90 s, longer than a session's
// inactivity (60 s), right after the logins: node 2 ends its sessions
// with inactivity (XEP-0124 §10), not before; the pairs on nodes 1 and 3
// talk meanwhile and lose nothing, and no session of theirs ends.
func (e *env) partition90s(name string) {
	base := e.sessions()
	endedBefore := e.ended(2)["inactivity"]
	run := e.load("long", sessions, "-mode", "paced", "-messages", "20", "-interval", "500ms", "-idle", "3s", "-drain", "10s", "-duration", "60s")
	run.waitSessions(base, sessions, 1500*time.Millisecond)
	partition(e.t, 2, true)
	start := time.Now()
	r := run.wait()
	e.report(name, r, time.Since(start), counts{}, counts{})
	if lost := r.lostAvoiding(2); lost+int(r.Duplicated) > 0 || len(r.ended(1))+len(r.ended(3)) > 0 || r.LoginFailures > 0 {
		e.t.Errorf("%s: between nodes 1 and 3: lost %d, duplicated %d; ended on node 1 %v, on node 3 %v", name, lost, r.Duplicated, r.ended(1), r.ended(3))
	}
	time.Sleep(90*time.Second - time.Since(start)) // the scenario's partition
	partition(e.t, 2, false)
	cut := r.logins(2)
	var byInactivity uint64
	for range 100 { // node 2 answers again within 10 s
		if byInactivity = e.ended(2)["inactivity"] - endedBefore; byInactivity >= uint64(cut) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Logf("%s: node 2 ended %d of its %d sessions by inactivity during the cut", name, byInactivity, cut)
	if cut == 0 || byInactivity != uint64(cut) {
		e.t.Errorf("%s: node 2 ended %d of its %d sessions by inactivity", name, byInactivity, cut)
	}
}

// kill kills node 3 with SIGKILL while the pairs talk: the sessions of
// nodes 1 and 2 go on untouched, with nothing lost between them; node 3's
// all end with item-not-found, and nothing else; they log in again on the
// other nodes and carry on, and every message lost went to or from one of
// them.
func (e *env) kill(name string) {
	var killed time.Time
	r := e.during(name, "kill", func() {
		e.procs[3].Process.Kill()
		e.procs[3].Wait()
		killed = time.Now()
	})
	dead := r.logins(3)
	e.t.Logf("%s: node 3's %d sessions ended with %v and logged in again (%v); %d messages lost with them; the first item-not-found came %v after the kill; boshload ended %v after it",
		name, dead, r.ended(3), r.Relogins, r.Lost, r.Nodes["n3"].FirstEnded.Sub(killed).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	want := map[string]int{"item-not-found": dead}
	if dead == 0 || !maps.Equal(r.ended(3), want) || !maps.Equal(r.Relogins, want) || len(r.ended(1))+len(r.ended(2)) > 0 {
		e.t.Errorf("%s: want node 3's %d sessions, and only they, ended with item-not-found and logged in again: %v", name, dead, r)
	}
	if r.lostAvoiding(3)+int(r.LostLive+r.Duplicated)+r.SessionsFailed > 0 {
		e.t.Errorf("%s: lost %d between nodes 1 and 2 (%d between live sessions), duplicated %d, %d sessions failed", name, r.lostAvoiding(3), r.LostLive, r.Duplicated, r.SessionsFailed)
	}
	e.start(3, "5m") // for the scenarios after
}

// drain sends SIGTERM to node 1 (drain for up to 20 s) while new sessions
// are created through the load balancer: none fails, none on node 1; the
// sessions older than the drain talk meanwhile and lose nothing.
func (e *env) drain(name string) {
	e.restart(1, "20s")
	base := e.sessions()
	before, start := e.counters(), time.Now()
	old := e.load("drainold", sessions, "-mode", "closed", "-messages", fmt.Sprint(messages), "-idle", "6s")
	old.waitSessions(base, sessions, time.Second)
	e.procs[1].Process.Signal(syscall.SIGTERM)
	e.waitDraining(1)
	fresh := e.load("drainnew", sessions, "-messages", "0", "-idle", "0s").wait()
	r := old.wait()
	e.report(name+": sessions older than the drain", r, time.Since(start), before, e.counters())
	if !r.clean() || r.logins(1) == 0 {
		e.t.Errorf("%s: not clean, or none on node 1: %v", name, r)
	}
	e.t.Logf("%s: %d sessions created during the drain (%d failed), %d of them on the draining node", name, fresh.LoggedIn, fresh.LoginFailures, fresh.logins(1))
	if fresh.LoginFailures > 0 || fresh.logins(1) > 0 {
		e.t.Errorf("%s: creations during the drain: %v", name, fresh)
	}
	e.procs[1].Wait()
}

// rolling restarts the nodes one after the other, each with a drain of
// 3 s, while sessions are created and talk through the load balancer:
// no creation fails, no message of a session that ends before its node's
// deadline is lost; the sessions still on a node at its deadline end with
// system-shutdown.
func (e *env) rolling(name string) {
	for i := 1; i <= nodes; i++ {
		e.restart(i, "3s")
	}
	base := e.sessions()
	old := e.load("rollold", 12, "-messages", "0", "-idle", "2m", "-duration", "3m")
	old.waitSessions(base, 12, 1500*time.Millisecond)
	for i := 1; i <= nodes; i++ {
		e.procs[i].Process.Signal(syscall.SIGTERM)
		e.waitDraining(i)
		r := e.load(fmt.Sprintf("roll%d-", i), 10, "-mode", "closed", "-messages", "5", "-idle", "0s").wait()
		if !r.clean() || r.logins(i) > 0 {
			e.t.Errorf("%s: node %d draining: not clean, or sessions created on it: %v", name, i, r)
		}
		e.procs[i].Wait() // the drain deadline, then shutdown
		e.start(i, "3s")
	}
	r := old.interrupt()
	e.t.Logf("%s: 3 nodes restarted, 30 sessions created meanwhile with none failed; the 12 older sessions ended with %v", name, r.SessionsEnded)
	for i := 1; i <= nodes; i++ {
		if n := r.logins(i); n > 0 && !maps.Equal(r.ended(i), map[string]int{"system-shutdown": n}) {
			e.t.Errorf("%s: node %d's %d older sessions ended with %v, not system-shutdown", name, i, n, r.ended(i))
		}
	}
	if !maps.Equal(r.SessionsEnded, map[string]int{"system-shutdown": 12}) {
		e.t.Errorf("%s: the 12 older sessions ended with %v", name, r.SessionsEnded)
	}
}

// usage is the nodes' resources summed, from /proc.
type usage struct {
	cpu    time.Duration // user and system time
	rssKiB int64         // resident memory
}

// usage reads /proc/<pid>/stat and /proc/<pid>/status of every running
// node (USER_HZ is 100 on Linux).
func (e *env) usage() usage {
	var u usage
	for i := 1; i <= nodes; i++ {
		if e.procs[i] == nil || e.procs[i].ProcessState != nil {
			continue
		}
		pid := e.procs[i].Process.Pid
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// Fields after the command name, which is in parentheses.
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			var ut, st int64
			fmt.Sscan(f[11], &ut)
			fmt.Sscan(f[12], &st)
			u.cpu += time.Duration(ut+st) * 10 * time.Millisecond
		}
		if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for line := range strings.SplitSeq(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					var kib int64
					fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
					u.rssKiB += kib
				}
			}
		}
	}
	return u
}
