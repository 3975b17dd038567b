package clustertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/httpbind/httpbind/internal/loadstat"
)

// loadResult is the part of boshload's -json line the scenarios read (see
// internal/cmd/boshload, result.go).
type loadResult struct {
	LoggedIn      int     `json:"logged_in"`
	LoginFailures int     `json:"login_failures"`
	Sent          int64   `json:"sent"`
	Delivered     int64   `json:"delivered"`
	Seconds       float64 `json:"message_seconds"`
	loadstat.Latency
	Forwarded        int64            `json:"forwarded"`
	LatencyDirect    loadstat.Latency `json:"latency_direct"`
	LatencyForwarded loadstat.Latency `json:"latency_forwarded"`
	Lost             int64            `json:"lost"`
	LostToGone       int64            `json:"lost_to_gone"`
	LostToEnded      int64            `json:"lost_to_ended"`
	LostFromEnded    int64            `json:"lost_from_ended"`
	LostLive         int64            `json:"lost_live"`
	LostByRoute      map[string]int   `json:"lost_by_route"`
	Duplicated       int64            `json:"duplicated"`
	OutOfOrder       int64            `json:"out_of_order"`
	SessionsFailed   int              `json:"sessions_failed"`
	SessionsStuck    int              `json:"sessions_stuck"`
	SessionsEnded    map[string]int   `json:"sessions_ended"`
	Relogins         map[string]int   `json:"relogins"`
	Nodes            map[string]struct {
		Logins     int            `json:"logins"`
		Ended      map[string]int `json:"ended"`
		FirstEnded time.Time      `json:"first_ended"`
	} `json:"nodes"`
	Faults struct {
		Resent     int64 `json:"resent"`
		ResentBusy int64 `json:"resent_busy"`
		GaveUp     int64 `json:"gave_up"`
	} `json:"faults"`
	Errors map[string]int `json:"errors"`
}

// clean reports whether the run lost, duplicated or reordered nothing,
// and no session failed, stuck, or was ended by the server.
func (r *loadResult) clean() bool {
	return r.LoginFailures == 0 && r.Lost+r.Duplicated+r.OutOfOrder == 0 && r.SessionsFailed+r.SessionsStuck == 0 &&
		len(r.SessionsEnded) == 0 && len(r.Relogins) == 0
}

// logins returns how many sessions logged in on node i.
func (r *loadResult) logins(i int) int { return r.Nodes[fmt.Sprintf("n%d", i)].Logins }

// ended returns node i's sessions the server ended, by condition.
func (r *loadResult) ended(i int) map[string]int { return r.Nodes[fmt.Sprintf("n%d", i)].Ended }

// lostAvoiding returns the messages lost on routes that do not touch
// node i: between sessions of the other nodes.
func (r *loadResult) lostAvoiding(i int) int {
	n, id := 0, fmt.Sprintf("n%d", i)
	for route, c := range r.LostByRoute {
		if !slices.Contains(strings.Split(route, ">"), id) {
			n += c
		}
	}
	return n
}

// String is one line of the figures.
func (r *loadResult) String() string {
	var nodes []string
	for _, id := range slices.Sorted(maps.Keys(r.Nodes)) {
		n := r.Nodes[id]
		nodes = append(nodes, fmt.Sprintf("%s %d %v", id, n.Logins, n.Ended))
	}
	return fmt.Sprintf("%d logged in (%d failed), %d messages sent, %d delivered, %d lost (%d to a gone session, %d to one ended, %d from one ended, %d between live ones; %v), %d duplicated, %d out of order; "+
		"sessions failed %d, stuck %d, ended %v, relogins %v; logins and ends by node: %s; delivery p50 %.1f ms, p99 %.1f ms; "+
		"%d messages came in a forwarded response (p50 %.1f ms, p99 %.1f ms) against direct p50 %.1f ms, p99 %.1f ms; %d resent, %d after HTTP 5xx; errors %v",
		r.LoggedIn, r.LoginFailures, r.Sent, r.Delivered, r.Lost, r.LostToGone, r.LostToEnded, r.LostFromEnded, r.LostLive, r.LostByRoute,
		r.Duplicated, r.OutOfOrder, r.SessionsFailed, r.SessionsStuck, r.SessionsEnded, r.Relogins, strings.Join(nodes, ", "),
		r.LatencyP50Ms, r.LatencyP99Ms, r.Forwarded, r.LatencyForwarded.LatencyP50Ms, r.LatencyForwarded.LatencyP99Ms,
		r.LatencyDirect.LatencyP50Ms, r.LatencyDirect.LatencyP99Ms, r.Faults.Resent, r.Faults.ResentBusy, r.Errors)
}

// loadRun is boshload running in the client's namespace.
type loadRun struct {
	e           *env
	cmd         *exec.Cmd
	out, report bytes.Buffer
	done        chan struct{} // closed when boshload has exited, err set
	err         error
}

// load registers the accounts user1…userN with Prosody (password "pw")
// and starts boshload in the client's namespace with n sessions of them
// against the load balancer, and args.
func (e *env) load(user string, n int, args ...string) *loadRun {
	e.t.Helper()
	for i := 1; i <= n; i++ {
		e.prosody.Register(fmt.Sprintf("%s%d", user, i), "pw")
	}
	args = append([]string{"netns", "exec", clientNS, e.boshload, "-url", e.lbURL, "-domain", "example.test",
		"-user-format", user + "%d", "-password", "pw", "-sessions", strconv.Itoa(n), "-wait", "20s", "-json"}, args...)
	r := &loadRun{e: e, cmd: exec.Command("ip", args...), done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.report
	if err := r.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	e.t.Cleanup(func() { r.cmd.Process.Kill(); <-r.done })
	return r
}

// wait waits for boshload to end, logs its report and returns its figures.
func (r *loadRun) wait() *loadResult {
	t := r.e.t
	t.Helper()
	<-r.done
	err := r.err
	t.Logf("boshload:\n%s", r.report.String())
	var res loadResult
	if jerr := json.Unmarshal(r.out.Bytes(), &res); jerr != nil {
		t.Fatalf("boshload: %v, %v: %s", err, jerr, r.out.String())
	}
	if err != nil {
		t.Errorf("boshload: %v", err)
	}
	return &res
}

// interrupt ends boshload's run early, as Ctrl-C does: it terminates its
// sessions and prints its figures.
func (r *loadRun) interrupt() *loadResult {
	r.cmd.Process.Signal(syscall.SIGINT)
	return r.wait()
}

// waitSessions waits, 30 s at most, until the nodes hold n more sessions
// than base, and then for settle: boshload creates the sessions, then
// logs them in. A boshload that exits before fails the test with its
// report.
func (r *loadRun) waitSessions(base int64, n int, settle time.Duration) {
	e := r.e
	for range 300 {
		select {
		case <-r.done:
			e.t.Fatalf("boshload exited (%v) before its %d sessions were created:\n%s", r.err, n, r.report.String())
		default:
		}
		if e.sessions()-base >= int64(n) {
			time.Sleep(settle) // the logins' last steps, not goroutines
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("%d sessions not created in 30 s", n)
}
