package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/httpbind/httpbind/internal/loadstat"
)

// result holds the figures of one run; its JSON form is -json's line.
type result struct {
	URL      string `json:"url"`
	Mode     string `json:"mode"`
	Sessions int    `json:"sessions"`
	Messages int    `json:"messages_per_session"`

	LoggedIn        int     `json:"logged_in"`
	LoginFailures   int     `json:"login_failures"`
	CreateRetries   int64   `json:"create_retries"`     // creations refused with policy-violation, then retried
	Create503       int64   `json:"create_503_retries"` // creations refused with HTTP 503, retried after Retry-After
	LoginSeconds    float64 `json:"login_seconds"`      // from the first login's start to the last success
	LoginsPerSecond float64 `json:"logins_per_second"`

	Expected        int64   `json:"expected"` // messages the pairs with both sessions logged in were to exchange
	Sent            int64   `json:"sent"`     // messages put on the wire
	Delivered       int64   `json:"delivered"`
	MessageSeconds  float64 `json:"message_seconds"` // from the phase's start to the last delivery
	DeliveredPerSec float64 `json:"delivered_per_second"`
	loadstat.Latency
	// Forwarded counts the delivered messages that came in a response a
	// cluster node relayed from the session's owner (cluster.HopHeader);
	// the latencies are split between them and the others.
	Forwarded        int64            `json:"forwarded"`
	LatencyDirect    loadstat.Latency `json:"latency_direct"`
	LatencyForwarded loadstat.Latency `json:"latency_forwarded"`
	Lost             int64            `json:"lost"` // sent, never arrived: every such message, whatever the cause
	// Lost, by what happened to the sessions at either end (a relogin
	// never hides a loss; these four add up to Lost):
	LostToGone    int64 `json:"lost_to_gone"`    // sent while the addressee had no session: the server had ended it, the next was not live yet
	LostToEnded   int64 `json:"lost_to_ended"`   // addressed to a live session that the server ended before they arrived
	LostFromEnded int64 `json:"lost_from_ended"` // sent by a session that the server ended afterwards
	LostLive      int64 `json:"lost_live"`       // between sessions that both lived on: no session end explains it
	// LostByRoute counts Lost by the owner nodes of the sender's and the
	// addressee's sessions when the message went on the wire: "n1>n3".
	LostByRoute    map[string]int `json:"lost_by_route,omitempty"`
	Duplicated     int64          `json:"duplicated"`   // arrived more than once
	OutOfOrder     int64          `json:"out_of_order"` // arrived after a later message of the same sender
	Foreign        int64          `json:"foreign"`      // arrived at the wrong session, or unreadable
	Bounced        int64          `json:"bounced"`      // returned to their sender as errors (RFC 6120 §8.3)
	Echoed         int64          `json:"echoed"`       // handed back to their sender as they were sent
	Late           int64          `json:"late"`         // delivered more than lateAfter after they were sent
	SessionsFailed int            `json:"sessions_failed"`
	SessionsStuck  int            `json:"sessions_stuck"` // active sessions that did not send and receive every message
	// SessionsEnded counts the sessions the server ended, by terminal
	// condition (XEP-0124 §17.2) or HTTP status; the run's own
	// terminates are not counted.
	SessionsEnded map[string]int `json:"sessions_ended,omitempty"`
	// Relogins counts, with -relogin, the sessions that logged in again,
	// by the condition that ended the one before.
	Relogins map[string]int `json:"relogins,omitempty"`
	// Nodes are the figures by owner node, the prefix of the sid before
	// its first '.' (bosh.SIDPrefixOf; "" for a sid without one).
	Nodes map[string]nodeFigures `json:"nodes,omitempty"`

	Faults faultFigures `json:"faults"`

	Server           *serverFigures `json:"server,omitempty"`
	ClientCPUSeconds float64        `json:"client_cpu_seconds"`
	Errors           map[string]int `json:"errors,omitempty"`
}

// lateAfter is the delivery latency above which a message counts as late:
// far above any delivery on a working loopback, well below a held
// request's 'wait', so that a message a server held back until a
// request's wait ran out counts.
const lateAfter = 5 * time.Second

// late counts the latencies (sorted, ns) above lateAfter.
func late(sorted []int64) int64 {
	i, _ := slices.BinarySearch(sorted, int64(lateAfter)+1)
	return int64(len(sorted) - i)
}

// faultFigures count the requests sent again after a network error
// (XEP-0124 §14.3) and, with -cut, the cuts.
type faultFigures struct {
	CutRate     float64 `json:"cut_rate"` // -cut
	CutSeed     uint64  `json:"cut_seed,omitempty"`
	Attempts    int64   `json:"attempts"`       // requests sent through the cutter, resends included
	Cut         int64   `json:"cut"`            // of those, cut
	CutAnswered int64   `json:"cut_answered"`   // cut after the response had begun to arrive
	Resent      int64   `json:"resent"`         // requests sent again after a network error, cuts included
	ResentOther int64   `json:"resent_not_cut"` // of those, after an error that was not a cut
	GaveUp      int64   `json:"gave_up"`        // requests given up after maxAttempts attempts
	ResentBusy  int64   `json:"resent_busy"`    // requests sent again after HTTP 502, 503 or 504
	MaxAttempts int     `json:"max_attempts"`   // attempts at one request
}

// nodeFigures are one node's sessions.
type nodeFigures struct {
	Logins int            `json:"logins"`          // sessions created on it that logged in, relogins included
	Ended  map[string]int `json:"ended,omitempty"` // of those, ended by the server, by condition or HTTP status
	// FirstEnded is when the server first ended one of them (the client's
	// clock), for detection times.
	FirstEnded time.Time `json:"first_ended,omitzero"`
}

// serverFigures are read from /proc for -pid.
type serverFigures struct {
	RSSBefore             int64   `json:"rss_before"` // bytes, before the first login
	RSSIdle               int64   `json:"rss_idle"`   // bytes, every session logged in and idle
	RSSAfter              int64   `json:"rss_after"`  // bytes, after the message phase
	IdleRSSPerSession     int64   `json:"idle_rss_per_session"`
	CPULoginSeconds       float64 `json:"cpu_login_seconds"` // logins and the idle time
	CPUPerLoginMs         float64 `json:"cpu_per_login_ms"`
	CPUMessageSeconds     float64 `json:"cpu_message_seconds"`
	CPUPer1000MsgsSeconds float64 `json:"cpu_per_1000_messages_seconds"`
}

func newServerFigures(p0, p1, p2 procSample, logins int, delivered int64) *serverFigures {
	f := &serverFigures{
		RSSBefore: p0.rss, RSSIdle: p1.rss, RSSAfter: p2.rss,
		IdleRSSPerSession: (p1.rss - p0.rss) / int64(logins),
		CPULoginSeconds:   (p1.cpu - p0.cpu).Seconds(),
		CPUMessageSeconds: (p2.cpu - p1.cpu).Seconds(),
	}
	f.CPUPerLoginMs = f.CPULoginSeconds * 1000 / float64(logins)
	if delivered > 0 {
		f.CPUPer1000MsgsSeconds = f.CPUMessageSeconds * 1000 / float64(delivered)
	}
	return f
}

// collect fills the message figures from the active sessions, at the
// end of the message phase that began at begin (ns since the start).
func (r *result) collect(l *load, act []*session, begin int64) {
	r.Expected = l.expected.Load()
	r.Delivered = l.nDelivered.Load()
	if last := l.lastDelivery.Load(); r.Delivered > 0 && last > begin {
		r.MessageSeconds = time.Duration(last - begin).Seconds()
		r.DeliveredPerSec = float64(r.Delivered) / r.MessageSeconds
	}
	lat, direct, fwd := latencies(act)
	r.Latency = loadstat.LatencyOf(lat)
	r.LatencyDirect, r.LatencyForwarded = loadstat.LatencyOf(direct), loadstat.LatencyOf(fwd)
	r.Forwarded = int64(len(fwd))
	r.Late = late(lat)
	for _, s := range act {
		s.mu.Lock()
		sent := s.sent - len(s.outq)
		wire, own := slices.Clone(s.wire[:sent]), s.life.Load()
		s.mu.Unlock()
		p := s.partner
		p.mu.Lock()
		r.countLost(wire, own, p.life.Load(), p.recv.seen)
		r.Duplicated += int64(p.recv.dups)
		r.OutOfOrder += int64(p.recv.ooo)
		r.Foreign += int64(p.recv.foreign)
		r.Bounced += int64(p.recv.bounced)
		r.Echoed += int64(p.recv.echoed)
		p.mu.Unlock()
		r.Sent += int64(sent)
		if !p.finished() {
			r.SessionsStuck++
		}
	}
	for _, s := range l.sessions {
		s.mu.Lock()
		if s.err != nil {
			r.SessionsFailed++
		}
		s.mu.Unlock()
	}
}

// countLost counts the messages a session put on the wire (wire, by seq)
// that its partner never received (seen), by what happened to the two
// sessions: own and partner are their life counters (session.life) at
// the end.
func (r *result) countLost(wire []lives, own, partner int32, seen []uint64) {
	for seq, lv := range wire {
		if seen[seq/64]&(1<<(seq%64)) != 0 {
			continue
		}
		r.Lost++
		if r.LostByRoute == nil {
			r.LostByRoute = map[string]int{}
		}
		count(r.LostByRoute, nodeName(lv.from)+">"+nodeName(lv.to))
		switch {
		case lv.partner%2 == 1:
			r.LostToGone++
		case partner > lv.partner:
			r.LostToEnded++
		case own > lv.own:
			r.LostFromEnded++
		default:
			r.LostLive++
		}
	}
}

// nodeName returns the node a session's at gave, "?" before any.
func nodeName(p *string) string {
	if p == nil {
		return "?"
	}
	return *p
}

// collectFaults fills the fault figures and the sessions the server ended.
func (r *result) collectFaults(l *load) {
	r.Faults = faultFigures{
		CutRate: l.o.cut, Resent: l.resent.Load(), ResentOther: l.resentAfter.Load(),
		GaveUp: l.gaveUp.Load(), MaxAttempts: maxAttempts, ResentBusy: l.resentBusy.Load(),
	}
	if c := l.t.cutter; c != nil {
		st := c.Stats()
		r.Faults.CutSeed = l.o.cutSeed
		r.Faults.Attempts, r.Faults.Cut, r.Faults.CutAnswered = st.Requests, st.Cut, st.Answered
	}
	l.mu.Lock()
	if len(l.endedBy) > 0 {
		r.SessionsEnded = maps.Clone(l.endedBy)
	}
	if len(l.relogins) > 0 {
		r.Relogins = maps.Clone(l.relogins)
	}
	if len(l.nodes) > 0 {
		r.Nodes = map[string]nodeFigures{}
		for id, n := range l.nodes {
			r.Nodes[id] = nodeFigures{Logins: n.Logins, Ended: maps.Clone(n.Ended), FirstEnded: n.FirstEnded}
		}
	}
	l.mu.Unlock()
}

// print writes the human-readable report.
func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "boshload: %d sessions, %s mode, %d messages each, against %s\n", r.Sessions, r.Mode, r.Messages, r.URL)
	fmt.Fprintf(w, "  logins:    %d ok, %d failed, %d creations retried after policy-violation, %d after HTTP 503; %.2f s, %.1f logins/s\n",
		r.LoggedIn, r.LoginFailures, r.CreateRetries, r.Create503, r.LoginSeconds, r.LoginsPerSecond)
	fmt.Fprintf(w, "  messages:  %d of %d delivered (%d sent) in %.2f s, %.1f msgs/s\n",
		r.Delivered, r.Expected, r.Sent, r.MessageSeconds, r.DeliveredPerSec)
	fmt.Fprintf(w, "  latency:   p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; %d messages later than %v\n",
		r.LatencyP50Ms, r.LatencyP90Ms, r.LatencyP99Ms, r.LatencyMaxMs, r.Late, lateAfter)
	if r.Forwarded > 0 {
		fmt.Fprintf(w, "  forwarded: %d of %d messages came in a forwarded response; latency p50 %.2f ms, p99 %.2f ms forwarded, p50 %.2f ms, p99 %.2f ms direct\n",
			r.Forwarded, r.Delivered, r.LatencyForwarded.LatencyP50Ms, r.LatencyForwarded.LatencyP99Ms, r.LatencyDirect.LatencyP50Ms, r.LatencyDirect.LatencyP99Ms)
	}
	fmt.Fprintf(w, "  integrity: %d lost, %d duplicated, %d out of order, %d foreign, %d bounced, %d echoed; %d sessions failed, %d stuck\n",
		r.Lost, r.Duplicated, r.OutOfOrder, r.Foreign, r.Bounced, r.Echoed, r.SessionsFailed, r.SessionsStuck)
	if r.Lost > 0 {
		fmt.Fprintf(w, "  lost:      %d sent to a session that was gone, %d to one ended before they arrived, %d from one ended after, %d between live sessions; by node: %s\n",
			r.LostToGone, r.LostToEnded, r.LostFromEnded, r.LostLive, countsOf(r.LostByRoute))
	}
	if len(r.Relogins) > 0 {
		fmt.Fprintf(w, "  relogins:  %s\n", countsOf(r.Relogins))
	}
	for _, id := range slices.Sorted(maps.Keys(r.Nodes)) {
		n := r.Nodes[id]
		fmt.Fprintf(w, "  node %q: %d logins", id, n.Logins)
		if len(n.Ended) > 0 {
			fmt.Fprintf(w, ", ended by the server: %s", countsOf(n.Ended))
		}
		fmt.Fprintln(w)
	}
	if f := r.Faults; f.CutRate > 0 {
		fmt.Fprintf(w, "  cuts:      %d of %d requests cut (-cut %g, -cut-seed %d), %d after the answer began\n",
			f.Cut, f.Attempts, f.CutRate, f.CutSeed, f.CutAnswered)
	}
	if f := r.Faults; f.Resent > 0 || f.GaveUp > 0 || f.ResentBusy > 0 {
		fmt.Fprintf(w, "  resends:   %d requests sent again (%d after errors other than cuts), %d given up after %d attempts; %d sent again after HTTP 502, 503 or 504\n",
			f.Resent, f.ResentOther, f.GaveUp, f.MaxAttempts, f.ResentBusy)
	}
	if len(r.SessionsEnded) > 0 {
		n := 0
		for _, v := range r.SessionsEnded {
			n += v
		}
		fmt.Fprintf(w, "  ended:     %d sessions ended by the server: %s\n", n, countsOf(r.SessionsEnded))
	} else {
		fmt.Fprintf(w, "  ended:     no session ended by the server\n")
	}
	if f := r.Server; f != nil {
		fmt.Fprintf(w, "  server:    RSS %.1f MB before, %.1f MB idle, %.1f MB after; %.1f KB per idle session\n",
			mb(f.RSSBefore), mb(f.RSSIdle), mb(f.RSSAfter), float64(f.IdleRSSPerSession)/1024)
		fmt.Fprintf(w, "  server:    CPU %.2f s for logins, %.3f ms per login; %.2f s for messages, %.3f s per 1,000 messages\n",
			f.CPULoginSeconds, f.CPUPerLoginMs, f.CPUMessageSeconds, f.CPUPer1000MsgsSeconds)
	}
	fmt.Fprintf(w, "  client:    CPU %.2f s\n", r.ClientCPUSeconds)
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "  error:     %d× %s\n", r.Errors[k], k)
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// countsOf writes counts by kind as "2× a, 1× b", sorted by kind.
func countsOf(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d× %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}
