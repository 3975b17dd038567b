package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/bosh/cluster"
	"github.com/httpbind/httpbind/internal/prosodytest"
	"github.com/httpbind/httpbind/internal/proxytest"
)

const nodes = 3

// env is the running test cluster.
type env struct {
	t       *testing.T
	bin     string // boshd
	prosody *prosodytest.Server
	procs   [nodes + 1]*exec.Cmd // by node number, 1…nodes
	lbURL   string
}

func TestCluster(t *testing.T) {
	if os.Getenv("HTTPBIND_CLUSTER") != "1" || os.Geteuid() != 0 {
		t.Skip("run as root with HTTPBIND_CLUSTER=1 (make cluster): it creates network namespaces")
	}
	e := &env{t: t, bin: filepath.Join(t.TempDir(), "boshd")}
	sh(t, "go", "build", "-o", e.bin, "../../examples/boshd")
	setupNetwork(t, nodes)
	e.prosody = prosodytest.Start(t, prosodytest.Config{Domain: "example.test"})
	relay(t, hostIP+":5222", e.prosody.C2SAddr)
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
		{"partition of 5s", "haproxy-cluster", (*env).partition5s},
		{"partition of 90s", "haproxy-cluster", (*env).partition90s},
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
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.procs[i] = cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
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
// on loopback, toward the nodes.
func (e *env) haproxy(name string) {
	if name == "single" {
		addr := proxytest.FreeAddr(e.t)
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
	addr := proxytest.FreeAddr(e.t)
	conf = strings.Replace(conf, "bind :443 ssl crt /etc/haproxy/certs/chat.example.com.pem alpn h2,http/1.1", "bind "+addr, 1)
	for i := 1; i <= nodes; i++ {
		conf = strings.Replace(conf, fmt.Sprintf("10.0.0.%d:5280 check", i), nodeIP(i)+":5280 check inter 500ms", 1)
	}
	proxytest.HAProxy(e.t, addr, conf)
	e.lbURL = "http://" + addr + "/http-bind"
}

// login opens n sessions of fresh users through the load balancer.
func (e *env) login(ctx context.Context, prefix string, n int) ([]*boshtest.Client, error) {
	cs := make([]*boshtest.Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range cs {
		user := fmt.Sprintf("%s%d", prefix, i)
		e.prosody.Register(user, "pw")
		cs[i] = boshtest.NewClient(e.lbURL, boshtest.ClientConfig{Wait: 20 * time.Second})
		e.t.Cleanup(func() { cs[i].Close() })
		wg.Go(func() {
			if errs[i] = cs[i].Connect(ctx, "example.test"); errs[i] == nil {
				_, errs[i] = cs[i].Login(ctx, user, "pw", "r")
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return cs, err
		}
	}
	return cs, nil
}

// result is what one scenario measured.
type result struct {
	sent, received, lost, dup, ended int
	latencies                        []time.Duration
	conditions                       map[string]int
}

var idRE = regexp.MustCompile(`id='m(\d+)-(\d+)'`)

// talk has each session of cs send count messages to its partner (0↔1,
// 2↔3, …), each after the previous one arrived, and counts what arrives.
func talk(ctx context.Context, cs []*boshtest.Client, count int, during func()) *result {
	r := &result{conditions: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i+1 < len(cs); i += 2 {
		for _, dir := range [][2]int{{i, i + 1}, {i + 1, i}} {
			from, to := cs[dir[0]], cs[dir[1]]
			wg.Go(func() {
				for n := range count {
					msg := fmt.Sprintf("<message xmlns='jabber:client' to='%s' id='m%d-%d' type='chat'><body>%d</body></message>", to.JID(), dir[0], n, n)
					start := time.Now()
					err := from.Send(ctx, []byte(msg))
					mu.Lock()
					r.sent++
					mu.Unlock()
					if err != nil {
						break
					}
					got, err := receiveMessage(ctx, to, dir[0])
					mu.Lock()
					switch {
					case err != nil:
						r.conditions[fmt.Sprint(bosh.ConditionOf(err), err)]++
					case got < n:
						r.dup++
					case got > n:
						r.lost += got - n
					default:
						r.received++
						r.latencies = append(r.latencies, time.Since(start))
					}
					mu.Unlock()
					if err != nil {
						break
					}
					if n == count/2 && dir[0] == 0 && during != nil {
						during()
					}
				}
			})
		}
	}
	wg.Wait()
	return r
}

// receiveMessage waits for the next message from session from and returns
// its number.
func receiveMessage(ctx context.Context, c *boshtest.Client, from int) (int, error) {
	for {
		el, err := c.Receive(ctx)
		if err != nil {
			return -1, err
		}
		m := idRE.FindSubmatch(el)
		if m == nil || string(m[1]) != fmt.Sprint(from) {
			continue // presence and the like
		}
		var n int
		fmt.Sscan(string(m[2]), &n)
		return n, nil
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// counts are the nodes' counters summed.
type counts struct{ requests, forwarded, failed uint64 }

// counters sums the counters of the nodes that answer.
func (e *env) counters() counts {
	var c counts
	for i := 1; i <= nodes; i++ {
		res, err := http.Get("http://" + nodeIP(i) + ":5280/debug/vars")
		if err != nil {
			continue
		}
		var all struct {
			Bosh    bosh.Stats
			Cluster cluster.Stats
		}
		json.NewDecoder(res.Body).Decode(&all)
		res.Body.Close()
		c.requests += all.Bosh.Requests
		c.forwarded += all.Cluster.Forwarded
		c.failed += all.Cluster.Failed
	}
	return c
}

func (e *env) report(name string, r *result, took time.Duration, before, after counts) {
	fwd, reqs := after.forwarded-before.forwarded, after.requests-before.requests
	e.t.Logf("%s: %d messages sent, %d received, %d lost, %d duplicated, sessions ended %v; delivery p50 %v p99 %v; %d of %d requests forwarded (%.1f%%), %d forwards failed; %v",
		name, r.sent, r.received, r.lost, r.dup, r.conditions, percentile(r.latencies, 0.5).Round(10*time.Microsecond),
		percentile(r.latencies, 0.99).Round(10*time.Microsecond), fwd, reqs, 100*float64(fwd)/float64(max(reqs, 1)),
		after.failed-before.failed, took.Round(time.Millisecond))
}

const (
	sessions = 30 // 15 pairs
	messages = 20
)

// exchange: sessions × messages through the load balancer; nothing lost,
// duplicated or ended.
func (e *env) exchange(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	u0 := e.usage()
	cs, err := e.login(ctx, strings.ReplaceAll(name, " ", ""), sessions)
	if err != nil {
		e.t.Fatal(err)
	}
	u1 := e.usage()
	before, start := e.counters(), time.Now()
	r := talk(ctx, cs, messages, nil)
	after := e.counters()
	u2 := e.usage()
	e.report(name, r, time.Since(start), before, after)
	e.t.Logf("%s, summed over the nodes: %+d KiB resident for %d logged-in sessions (%.1f KiB a session); %v CPU for the logins, %v for the %d messages (%.0f µs a message)",
		name, u1.rssKiB-u0.rssKiB, len(cs), float64(u1.rssKiB-u0.rssKiB)/float64(len(cs)), u1.cpu-u0.cpu, u2.cpu-u1.cpu, r.sent,
		float64((u2.cpu-u1.cpu).Microseconds())/float64(max(r.sent, 1)))
	if r.lost+r.dup+len(r.conditions) > 0 || after.failed > before.failed {
		e.t.Errorf("%s: lost %d, duplicated %d, ended %v", name, r.lost, r.dup, r.conditions)
	}
	for _, c := range cs {
		c.Terminate(ctx)
	}
}

// owner returns the node number that owns c's session.
func owner(c *boshtest.Client) int {
	id, _ := bosh.SIDPrefixOf(c.SID())
	var n int
	fmt.Sscanf(id, "n%d", &n)
	return n
}

// partition5s cuts node 2 off for 5 s in the middle of the exchange:
// every session survives, nothing is lost.
func (e *env) partition5s(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs, err := e.login(ctx, "part", sessions)
	if err != nil {
		e.t.Fatal(err)
	}
	before, start := e.counters(), time.Now()
	r := talk(ctx, cs, messages, func() {
		partition(e.t, 2, true)
		time.Sleep(5 * time.Second) // the scenario's partition, not a wait for goroutines
		partition(e.t, 2, false)
	})
	e.report(name, r, time.Since(start), before, e.counters())
	if r.lost+r.dup+len(r.conditions) > 0 {
		e.t.Errorf("%s: lost %d, duplicated %d, ended %v", name, r.lost, r.dup, r.conditions)
	}
	for _, c := range cs {
		c.Terminate(ctx)
	}
}

// partition90s cuts node 2 off for 90 s, longer than a session's
// inactivity (60 s): node 2 ends its sessions with inactivity (XEP-0124
// §10), not before; the pairs on nodes 1 and 3 talk meanwhile and lose
// nothing.
func (e *env) partition90s(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cs, err := e.login(ctx, "long", sessions)
	if err != nil {
		e.t.Fatal(err)
	}
	var live []*boshtest.Client
	cut := 0
	for i := 0; i+1 < len(cs); i += 2 {
		if owner(cs[i]) != 2 && owner(cs[i+1]) != 2 {
			live = append(live, cs[i], cs[i+1])
		}
		for _, c := range cs[i : i+2] {
			if owner(c) == 2 {
				cut++
			}
		}
	}
	endedBefore := e.ended(2)["inactivity"]
	partition(e.t, 2, true)
	start := time.Now()
	r := talk(ctx, live, messages, nil)
	e.report(name+": pairs on nodes 1 and 3 during the cut", r, time.Since(start), counts{}, counts{})
	if r.lost+r.dup+len(r.conditions) > 0 {
		e.t.Errorf("%s: lost %d, duplicated %d, ended %v", name, r.lost, r.dup, r.conditions)
	}
	time.Sleep(90*time.Second - time.Since(start)) // the scenario's partition
	partition(e.t, 2, false)
	var byInactivity uint64
	for range 100 { // node 2 answers again within 10 s
		if byInactivity = e.ended(2)["inactivity"] - endedBefore; byInactivity > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Logf("%s: node 2 ended %d of its %d sessions by inactivity during the cut", name, byInactivity, cut)
	if byInactivity != uint64(cut) {
		e.t.Errorf("%s: node 2 ended %d of its %d sessions by inactivity", name, byInactivity, cut)
	}
	for _, c := range cs {
		c.Close()
	}
}

// ended returns node i's sessions ended so far, by reason.
func (e *env) ended(i int) map[string]uint64 {
	res, err := http.Get("http://" + nodeIP(i) + ":5280/debug/vars")
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var all struct{ Bosh bosh.Stats }
	json.NewDecoder(res.Body).Decode(&all)
	return all.Bosh.Ended
}

// kill kills node 3 with SIGKILL between two exchanges: the sessions of
// nodes 1 and 2 go on untouched; node 3's end with item-not-found.
func (e *env) kill(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs, err := e.login(ctx, "kill", sessions)
	if err != nil {
		e.t.Fatal(err)
	}
	talk(ctx, cs, 2, nil)
	var live, dead []*boshtest.Client
	for i := 0; i+1 < len(cs); i += 2 { // whole pairs
		if owner(cs[i]) == 3 || owner(cs[i+1]) == 3 {
			dead = append(dead, cs[i], cs[i+1])
		} else {
			live = append(live, cs[i], cs[i+1])
		}
	}
	e.procs[3].Process.Kill()
	e.procs[3].Wait()
	killed := time.Now()
	ended, owned := 0, 0
	var took []time.Duration
	for _, c := range dead {
		if owner(c) != 3 {
			continue
		}
		owned++
		start := time.Now()
		err := c.Send(ctx, []byte("<presence xmlns='jabber:client'/>"))
		for err == nil {
			_, err = c.Receive(ctx)
		}
		if errors.Is(err, bosh.ItemNotFound) {
			ended++
			took = append(took, time.Since(start))
		}
	}
	e.t.Logf("%s: %d of node 3's %d sessions ended with item-not-found, p50 %v and max %v after their next request", name, ended, owned,
		percentile(took, 0.5).Round(time.Millisecond), percentile(took, 1).Round(time.Millisecond))
	if ended != owned {
		e.t.Errorf("%s: %d of node 3's %d sessions did not end with item-not-found", name, owned-ended, owned)
	}
	before := e.counters()
	r := talk(ctx, live, messages, nil)
	e.report(name+": pairs on nodes 1 and 2", r, time.Since(killed), before, e.counters())
	if r.lost+r.dup+len(r.conditions) > 0 {
		e.t.Errorf("%s: sessions of live nodes: lost %d, duplicated %d, ended %v", name, r.lost, r.dup, r.conditions)
	}
	e.start(3, "5m") // for the scenarios after
}

// drain sends SIGTERM to node 1 (drain for up to 20 s) while new sessions
// are created through the load balancer: none fails; the pairs that end
// before the deadline lose nothing.
func (e *env) drain(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e.restart(1, "20s")
	cs, err := e.login(ctx, "drainold", sessions)
	if err != nil {
		e.t.Fatal(err)
	}
	e.procs[1].Process.Signal(syscall.SIGTERM)
	e.waitDraining(1)
	fresh, err := e.login(ctx, "drainnew", sessions)
	if err != nil {
		e.t.Errorf("%s: a creation failed while node 1 drained: %v", name, err)
	}
	onDraining := 0
	for _, c := range fresh {
		if owner(c) == 1 {
			onDraining++
		}
	}
	before, start := e.counters(), time.Now()
	r := talk(ctx, cs, messages, nil)
	e.report(name+": sessions older than the drain", r, time.Since(start), before, e.counters())
	if r.lost+r.dup+len(r.conditions) > 0 {
		e.t.Errorf("%s: lost %d, duplicated %d, ended %v", name, r.lost, r.dup, r.conditions)
	}
	for _, c := range append(cs, fresh...) {
		c.Terminate(ctx)
	}
	e.t.Logf("%s: %d sessions created during the drain, %d of them on the draining node", name, len(fresh), onDraining)
	if onDraining > 0 {
		e.t.Errorf("%s: %d sessions created on the draining node", name, onDraining)
	}
	e.procs[1].Wait()
}

// rolling restarts the nodes one after the other, each with a drain of
// 3 s, while sessions are created and talk through the load balancer:
// no creation fails, no message of a session that ends before its node's
// deadline is lost; the sessions still on a node at its deadline end with
// system-shutdown.
func (e *env) rolling(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := 1; i <= nodes; i++ {
		e.restart(i, "3s")
	}
	old, err := e.login(ctx, "rollold", 12)
	if err != nil {
		e.t.Fatal(err)
	}
	shutdown := 0
	for i := 1; i <= nodes; i++ {
		e.procs[i].Process.Signal(syscall.SIGTERM)
		e.waitDraining(i)
		fresh, err := e.login(ctx, fmt.Sprintf("roll%d-", i), 10)
		if err != nil {
			e.t.Errorf("%s: a creation failed while node %d drained: %v", name, i, err)
		}
		r := talk(ctx, fresh, 5, nil)
		if r.lost+r.dup+len(r.conditions) > 0 {
			e.t.Errorf("%s: node %d draining: lost %d, duplicated %d, ended %v", name, i, r.lost, r.dup, r.conditions)
		}
		for _, c := range fresh {
			if owner(c) == i {
				e.t.Errorf("%s: a session created on draining node %d", name, i)
			}
			c.Terminate(ctx)
		}
		e.procs[i].Wait() // the drain deadline, then shutdown
		for _, c := range old {
			if owner(c) != i {
				continue
			}
			_, err := c.Receive(ctx)
			for err == nil {
				_, err = c.Receive(ctx)
			}
			if errors.Is(err, bosh.SystemShutdown) {
				shutdown++
			}
		}
		e.start(i, "3s")
	}
	e.t.Logf("%s: 3 nodes restarted, 30 sessions created meanwhile with none failed; %d of %d older sessions ended with system-shutdown at their node's deadline",
		name, shutdown, len(old))
	if shutdown != len(old) {
		e.t.Errorf("%s: %d older sessions did not end with system-shutdown", name, len(old)-shutdown)
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
