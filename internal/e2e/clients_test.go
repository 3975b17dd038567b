package e2e

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/httpbind/httpbind/bosh/boshtest"
	"github.com/httpbind/httpbind/internal/prosodytest"
)

// The real-client suite (StanzaJS and node-xmpp-client in Node, libpurple
// through BitlBee) runs every client through the same steps against three
// targets in one run: Prosody's own BOSH (mod_bosh) as the baseline,
// boshd with its in-memory core, and boshd relaying to Prosody. The steps:
// log in, presence, roster, messages both ways with a second user, an
// XEP-0199 ping, an idle period longer than 'wait', a clean disconnect.

// Bounds of the client suite.
const (
	// clientWait is the longest 'wait' the targets allow (XEP-0124 §7.2):
	// short, so that the idle step outlasts it in a few seconds.
	clientWait = 4 * time.Second
	// idlePeriod is the idle step: longer than clientWait, so that every
	// held request is answered empty at least once meanwhile.
	idlePeriod = clientWait + 3*time.Second
	// clientTimeout bounds one client's whole scenario.
	clientTimeout = 120 * time.Second
	// rssLimit is the most resident memory a client process may use; a
	// runaway client (libpurple has a send loop that can spin) is killed
	// above it and the test fails.
	rssLimit = 200 << 20
	// rssInterval is how often the guard samples the client's memory.
	rssInterval = 100 * time.Millisecond
)

// clientDomain is the XMPP domain of every target.
const clientDomain = "localhost"

// target is one server a client runs against.
type target struct {
	name string
	// start runs the target's servers for users (name → password) until
	// the test ends.
	start func(t *testing.T, users map[string]string) *endpoint
}

// endpoint is a running target.
type endpoint struct {
	url string // the BOSH URL
	// stats reads boshd's session counters; nil for Prosody's own BOSH.
	stats func() stats
}

// targets are the three of every client scenario, the baseline first.
var targets = []target{
	{"prosody-bosh", startProsodyBOSH},
	{"boshd-memcore", startBoshdMemcore},
	{"boshd-prosody", startBoshdRelay},
}

// prosodyInactivity is the inactivity of Prosody's own BOSH sessions
// (XEP-0124 §7.2; Prosody's default is 60 s): libpurple's terminate
// request is lost there (see TestLibpurple), and its session ends when
// this runs out.
const prosodyInactivity = 10 * time.Second

// startProsody runs Prosody with users, its BOSH capping 'wait' as boshd
// -max-wait does.
func startProsody(t *testing.T, users map[string]string) *prosodytest.Server {
	t.Helper()
	p := prosodytest.Start(t, prosodytest.Config{Lua: []string{
		fmt.Sprintf("bosh_max_wait = %d", int(clientWait/time.Second)),
		fmt.Sprintf("bosh_max_inactivity = %d", int(prosodyInactivity/time.Second)),
	}})
	for name, password := range users {
		p.Register(name, password)
	}
	return p
}

func startProsodyBOSH(t *testing.T, users map[string]string) *endpoint {
	return &endpoint{url: startProsody(t, users).BOSHURL}
}

func startBoshdMemcore(t *testing.T, users map[string]string) *endpoint {
	t.Helper()
	cfg := &config{}
	base := boshd(t, cfg, "-listen", "127.0.0.1:0", "-users", writeAccounts(t, users),
		"-max-wait", clientWait.String())
	return &endpoint{url: cfg.BOSH, stats: func() stats { return boshStats(t, base) }}
}

func startBoshdRelay(t *testing.T, users map[string]string) *endpoint {
	t.Helper()
	p := startProsody(t, users)
	cfg := &config{}
	base := boshd(t, cfg, "-listen", "127.0.0.1:0", "-domain", p.Domain, "-upstream", "tcp://"+p.C2SAddr,
		"-upstream-ca", p.CAFile, "-max-wait", clientWait.String())
	return &endpoint{url: cfg.BOSH, stats: func() stats { return boshStats(t, base) }}
}

// newUsers returns alice and bob with fresh passwords.
func newUsers() map[string]string {
	return map[string]string{
		"alice": strings.ToLower(rand.Text())[:12],
		"bob":   strings.ToLower(rand.Text())[:12],
	}
}

// missingTool skips the test outside CI, and fails it under CI=true,
// where every part of the suite must be installed (make e2e-deps).
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + "; run make e2e-deps"
	if prosodytest.InCI() {
		t.Fatal("e2e: " + msg + " (CI=true requires it)")
	}
	t.Skip("e2e: " + msg + "; skipped outside CI")
}

// requireNodePackages returns the node executable after checking that the
// npm packages are installed in internal/e2e.
func requireNodePackages(t *testing.T, pkgs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missingTool(t, "node is not installed")
	}
	for _, pkg := range pkgs {
		if _, err := os.Stat("node_modules/" + pkg + "/package.json"); err != nil {
			missingTool(t, "the npm package %s is not installed in internal/e2e", pkg)
		}
	}
	return node
}

// rssGuard watches the resident memory of one process this test started.
// Above rssLimit it kills that process, by its pid, and the test fails.
type rssGuard struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	peak    int64 // bytes; guarded by mu
	samples int   // guarded by mu
	killed  bool  // guarded by mu
}

// guardRSS starts watching pid until Stop.
func guardRSS(pid int) *rssGuard {
	g := &rssGuard{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go g.watch()
	return g
}

func (g *rssGuard) watch() {
	defer close(g.done)
	tick := time.NewTicker(rssInterval)
	defer tick.Stop()
	for {
		rss, ok := readRSS(g.pid)
		if ok {
			g.mu.Lock()
			g.samples++
			g.peak = max(g.peak, rss)
			over := rss > rssLimit
			if over {
				g.killed = true
			}
			g.mu.Unlock()
			if over {
				syscall.Kill(g.pid, syscall.SIGKILL)
				return
			}
		}
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
	}
}

// Stop ends the watch and returns the peak resident memory seen, whether
// the process was killed for exceeding rssLimit, and the number of
// samples taken.
func (g *rssGuard) Stop() (peak int64, killed bool, samples int) {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak, g.killed, g.samples
}

// check fails the test if the process went over the limit, and logs its
// peak.
func (g *rssGuard) check(t *testing.T, what string) {
	t.Helper()
	peak, killed, samples := g.Stop()
	t.Logf("%s: peak RSS %.1f MB over %d samples (limit %d MB)", what, float64(peak)/(1<<20), samples, rssLimit>>20)
	if killed {
		t.Errorf("%s ran away: RSS above %d MB, killed (pid %d)", what, rssLimit>>20, g.pid)
	}
	if _, procfs := readRSS(os.Getpid()); samples == 0 && procfs {
		t.Errorf("%s: no RSS sample of pid %d", what, g.pid)
	}
}

var vmRSS = regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`)

// readRSS reads a process's resident memory from /proc (Linux).
func readRSS(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	m := vmRSS.FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10, true
}

// peer is the second user of a scenario: a Go BOSH client
// (bosh/boshtest) logged in to the same target.
type peer struct {
	t   *testing.T
	c   *boshtest.Client
	ctx context.Context
	jid string
}

// newPeer logs name in to ep and sends initial presence.
func newPeer(ctx context.Context, t *testing.T, ep *endpoint, name, password string) *peer {
	t.Helper()
	c := boshtest.NewClient(ep.url, boshtest.ClientConfig{Wait: clientWait})
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Connect(ctx, clientDomain))
	jid, err := c.Login(ctx, name, password, "peer")
	require.NoError(t, err)
	p := &peer{t: t, c: c, ctx: ctx, jid: jid}
	p.send("<presence xmlns='jabber:client'/>") // available (RFC 6121 §4.2), without a roster get
	return p
}

// send sends a stanza, in jabber:client.
func (p *peer) send(format string, args ...any) {
	p.t.Helper()
	require.NoError(p.t, p.c.Send(p.ctx, fmt.Appendf(nil, format, args...)))
}

// stanza is what the peer reads of a received stanza.
type stanza struct {
	XMLName xml.Name
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Type    string `xml:"type,attr"`
	ID      string `xml:"id,attr"`
	Body    string `xml:"body"`
	Raw     []byte `xml:"-"`
}

// expect returns the first stanza that match accepts, skipping others,
// within the peer's context.
func (p *peer) expect(what string, match func(s *stanza) bool) *stanza {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	var seen []string
	for range 200 {
		raw, err := p.c.Receive(ctx)
		if err != nil {
			p.t.Fatalf("peer: waiting for %s: %v; received:\n%s", what, err, strings.Join(seen, "\n"))
		}
		var s stanza
		if xml.Unmarshal(raw, &s) == nil {
			s.Raw = raw
			if match(&s) {
				return &s
			}
		}
		seen = append(seen, string(raw))
	}
	p.t.Fatalf("peer: no %s among 200 stanzas", what)
	return nil
}

// bare returns a JID without its resource.
func bare(jid string) string {
	b, _, _ := strings.Cut(jid, "/")
	return b
}

// xmppClient is a client under test, logged in as alice, as its driver
// sees it. Each method fails the test when the client does not do it in
// time.
type xmppClient interface {
	// login logs in and sends initial presence (RFC 6121 §4.2).
	login()
	// addContact adds jid to the roster and asks to subscribe to its
	// presence (RFC 6121 §2.3, §3.1.1).
	addContact(jid string)
	// acceptSubscription waits for from's subscription request and
	// approves it (RFC 6121 §3.1.4).
	acceptSubscription(from string)
	// waitContact waits until jid shows as available.
	waitContact(jid string)
	// rosterHas checks that the roster has jid.
	rosterHas(jid string)
	sendMessage(to, body string)
	waitMessage(from, body string)
	// ping pings the client's server (XEP-0199 §4.2) and reports whether
	// the client can be asked to.
	ping() bool
	// disconnect ends the session cleanly (XEP-0124 §13).
	disconnect()
}

// runClientSteps runs the steps with c as alice and a Go BOSH client as
// bob, on ep.
func runClientSteps(ctx context.Context, t *testing.T, c xmppClient, ep *endpoint, users map[string]string) {
	t.Helper()
	alice, bobJID := "alice@"+clientDomain, "bob@"+clientDomain
	c.login()

	// Roster and presence: alice adds bob (RFC 6121 §2.3, §3.1); bob
	// approves and asks back; alice approves; each sees the other.
	bob := newPeer(ctx, t, ep, "bob", users["bob"])
	c.addContact(bobJID)
	bob.expect("alice's subscription request", func(s *stanza) bool {
		return s.XMLName.Local == "presence" && s.Type == "subscribe" && bare(s.From) == alice
	})
	bob.send("<presence xmlns='jabber:client' to='%s' type='subscribed'/>", alice)
	bob.send("<presence xmlns='jabber:client' to='%s' type='subscribe'/>", alice)
	c.acceptSubscription(bobJID)
	aliceFull := bob.expect("alice's presence", func(s *stanza) bool {
		return s.XMLName.Local == "presence" && s.Type == "" && bare(s.From) == alice
	}).From
	c.waitContact(bobJID)
	c.rosterHas(bobJID)

	toAlice := func(step string) {
		t.Helper()
		bob.send("<message xmlns='jabber:client' to='%s' type='chat'><body>%s, alice</body></message>", alice, step)
		c.waitMessage(bobJID, step+", alice")
	}
	toBob := func(step string) {
		t.Helper()
		c.sendMessage(bobJID, step+", bob")
		m := bob.expect("alice's message "+step, func(s *stanza) bool {
			return s.XMLName.Local == "message" && s.Body != ""
		})
		assert.Equal(t, step+", bob", m.Body)
		assert.Equal(t, aliceFull, m.From)
	}
	toAlice("hello")
	toBob("hello")

	// XEP-0199: the client answers bob's ping, and pings its server.
	bob.send("<iq xmlns='jabber:client' type='get' to='%s' id='ping-1'><ping xmlns='urn:xmpp:ping'/></iq>", aliceFull)
	pong := bob.expect("the ping's answer (XEP-0199 §4.2)", func(s *stanza) bool {
		return s.XMLName.Local == "iq" && s.ID == "ping-1"
	})
	assert.Equal(t, "result", pong.Type, "%s", pong.Raw)
	if !c.ping() {
		t.Log("the client pings its server only on its own timer; it answered the peer's ping")
	}

	// Idle for longer than 'wait' (XEP-0124 §7.1): every held request is
	// answered empty meanwhile, and the session goes on.
	time.Sleep(idlePeriod) // real processes: nothing to wait for
	toBob("after idle")    // alice first: her client has a request held
	toAlice("after idle")

	// A clean disconnect: bob sees alice go; on boshd both sessions end
	// with a terminate request.
	c.disconnect()
	bob.expect("alice's unavailable presence", func(s *stanza) bool {
		return s.XMLName.Local == "presence" && s.Type == "unavailable" && s.From == aliceFull
	})
	require.NoError(t, bob.c.Terminate(ctx))
	if ep.stats != nil {
		st := waitStats(t, ep, func(st stats) bool { return st.Sessions == 0 })
		assert.Equal(t, uint64(2), st.Ended["terminate"], "both sessions ended by a terminate request: %v", st.Ended)
	}
}
