package gossip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
)

// Config configures a Gossip membership.
type Config struct {
	// NodeID is this node's id, its bosh.Config.SIDPrefix. Required.
	NodeID string
	// URL is where the other nodes reach this node's BOSH handler, such
	// as "http://10.0.0.1:5280". Required.
	URL string
	// Bind is the gossip address, host:port, TCP and UDP; port 0 picks
	// one. Default "0.0.0.0:7946".
	Bind string
	// Advertise is the gossip address told to the others when it is not
	// Bind's (Bind on 0.0.0.0, or behind NAT); empty: found from Bind.
	Advertise string
	// Join are gossip addresses of nodes already running; empty: this
	// node starts a cluster of its own, which others join.
	Join []string
	// Draining and Sessions report this node's state, sent to the others
	// on every Update; nil: never draining, no count.
	Draining func() bool
	Sessions func() int64
	// Local tunes memberlist for loopback: probes every 500ms, each
	// answered within 400ms, a node suspect within a second or two and
	// found dead a few seconds later; for tests. (Probes every 100ms
	// answered within 50ms made nodes suspect one another on a loaded
	// 2-core machine under the race detector: never all seen, or a node
	// found dead before its leave arrived.)
	Local bool
	// Logger receives the gossip's logs; nil means slog.Default().
	Logger *slog.Logger
}

// meta is what a node tells the others of itself (memberlist node
// metadata, at most memberlist.MetaMaxSize bytes).
type meta struct {
	URL      string `json:"url"`
	Draining bool   `json:"draining,omitempty"`
	Sessions int64  `json:"sessions,omitempty"`
	Leaving  bool   `json:"leaving,omitempty"` // Leave was called: gone, not suspect
}

// member is a node as this one knows it.
type member struct {
	url      *url.URL
	draining bool
	sessions int64
	state    cluster.State
}

// Gossip is a cluster.Membership learned by gossip. Its methods are safe
// for concurrent use.
type Gossip struct {
	// Set in New, then read-only.
	cfg Config
	ml  *memberlist.Memberlist

	leaving atomic.Bool // Leave was called

	mu    sync.Mutex
	nodes map[string]*member // by node id, including self; guarded by mu
	next  int                // Pick's turn; guarded by mu
}

// New starts the gossip and joins the nodes of cfg.Join.
func New(cfg Config) (*Gossip, error) {
	if !bosh.ValidNodeID(cfg.NodeID) {
		return nil, fmt.Errorf("gossip: node id %q: want 1 to 16 characters a-z, 0-9 and -", cfg.NodeID)
	}
	if _, err := nodeURL(cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Bind == "" {
		cfg.Bind = "0.0.0.0:7946"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Gossip{cfg: cfg, nodes: map[string]*member{}}
	mc, err := g.memberlistConfig()
	if err != nil {
		return nil, err
	}
	if g.ml, err = memberlist.Create(mc); err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	if len(cfg.Join) > 0 {
		if _, err := g.ml.Join(cfg.Join); err != nil {
			g.ml.Shutdown()
			return nil, fmt.Errorf("gossip: join %v: %w", cfg.Join, err)
		}
	}
	return g, nil
}

// memberlistConfig is cfg for memberlist.
func (g *Gossip) memberlistConfig() (*memberlist.Config, error) {
	mc := memberlist.DefaultLANConfig()
	if g.cfg.Local {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval, mc.ProbeTimeout, mc.SuspicionMult = 500*time.Millisecond, 400*time.Millisecond, 3
	}
	mc.Name = g.cfg.NodeID
	host, port, err := splitHostPort(g.cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("gossip: Bind %q: %w", g.cfg.Bind, err)
	}
	mc.BindAddr, mc.BindPort = host, port
	if g.cfg.Advertise != "" {
		if mc.AdvertiseAddr, mc.AdvertisePort, err = splitHostPort(g.cfg.Advertise); err != nil {
			return nil, fmt.Errorf("gossip: Advertise %q: %w", g.cfg.Advertise, err)
		}
	}
	mc.Delegate = delegate{g}
	mc.Events = events{g}
	mc.Logger = log.New(io.Discard, "", 0)
	if g.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		mc.Logger = slog.NewLogLogger(g.cfg.Logger.Handler(), slog.LevelDebug)
	}
	return mc, nil
}

func splitHostPort(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, errors.New("port is not 0-65535")
	}
	return host, port, nil
}

// Addr is the gossip address this node listens on, for the others' Join.
func (g *Gossip) Addr() string {
	n := g.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Self returns this node's id.
func (g *Gossip) Self() string { return g.cfg.NodeID }

// Lookup returns the node with the given id as the gossip last told: Left
// after it left (Leave), Suspect once memberlist declared it dead without
// a Leave (it may be cut off, not gone), Draining or Ready otherwise.
func (g *Gossip) Lookup(id string) (cluster.Node, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.nodes[id]
	if !ok {
		return cluster.Node{}, false
	}
	return m.node(id), true
}

func (m *member) node(id string) cluster.Node {
	st := m.state
	if st == cluster.Ready && m.draining {
		st = cluster.Draining
	}
	return cluster.Node{ID: id, URL: m.url, State: st}
}

// Pick returns the Ready node other than this one with the fewest
// sessions, taking turns among equals.
func (g *Gossip) Pick() (cluster.Node, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var best []string
	var fewest int64
	for id, m := range g.nodes {
		if id == g.cfg.NodeID || m.node(id).State != cluster.Ready {
			continue
		}
		switch {
		case len(best) == 0 || m.sessions < fewest:
			best, fewest = []string{id}, m.sessions
		case m.sessions == fewest:
			best = append(best, id)
		}
	}
	if len(best) == 0 {
		return cluster.Node{}, false
	}
	slices.Sort(best)
	g.next++
	id := best[g.next%len(best)]
	return g.nodes[id].node(id), true
}

// Update sends this node's state (Config.Draining, Config.Sessions) to
// the others now, within timeout.
func (g *Gossip) Update(timeout time.Duration) error {
	return g.ml.UpdateNode(timeout)
}

// Leave tells the others that this node is gone, so that its sessions'
// requests get item-not-found at once, waits up to timeout for that to
// spread, and stops the gossip.
func (g *Gossip) Leave(timeout time.Duration) error {
	g.leaving.Store(true)
	err := g.ml.UpdateNode(timeout) // memberlist does not tell a leave from a death
	err = errors.Join(err, g.ml.Leave(timeout))
	return errors.Join(err, g.ml.Shutdown())
}

// Close stops the gossip without telling the others (they will find this
// node dead, and take it for suspect).
func (g *Gossip) Close() error { return g.ml.Shutdown() }

// set records what the gossip says of node n: alive, or gone; a node gone
// that said it was leaving has Left, one found dead may only be cut off,
// and its sessions may live on: Suspect.
func (g *Gossip) set(n *memberlist.Node, gone bool) {
	var md meta
	if err := json.Unmarshal(n.Meta, &md); err != nil {
		g.cfg.Logger.Debug("gossip: node metadata unreadable", "node", n.Name, "err", err)
	}
	st := cluster.Ready
	switch {
	case gone && md.Leaving:
		st = cluster.Left
	case gone:
		st = cluster.Suspect
	}
	u, err := nodeURL(md.URL)
	if !bosh.ValidNodeID(n.Name) || err != nil {
		g.cfg.Logger.Debug("gossip: node ignored", "node", n.Name, "url", md.URL)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodes[n.Name] = &member{url: u, draining: md.Draining, sessions: md.Sessions, state: st}
}

// nodeURL parses a node's URL: http or https and a host.
func nodeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gossip: URL %q: want http://host:port", raw)
	}
	return u, nil
}

// delegate gives memberlist this node's metadata; it carries no messages.
type delegate struct{ g *Gossip }

func (d delegate) NodeMeta(limit int) []byte {
	md := meta{URL: d.g.cfg.URL, Leaving: d.g.leaving.Load()}
	if d.g.cfg.Draining != nil {
		md.Draining = d.g.cfg.Draining()
	}
	if d.g.cfg.Sessions != nil {
		md.Sessions = d.g.cfg.Sessions()
	}
	b, _ := json.Marshal(md)
	if len(b) > limit {
		return nil // cannot happen with a URL of a sane length
	}
	return b
}

func (delegate) NotifyMsg([]byte)                    {}
func (delegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (delegate) LocalState(bool) []byte              { return nil }
func (delegate) MergeRemoteState(buf []byte, _ bool) {}

// events follows the nodes as memberlist sees them come and go.
type events struct{ g *Gossip }

func (e events) NotifyJoin(n *memberlist.Node)   { e.g.set(n, false) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.g.set(n, false) }
func (e events) NotifyLeave(n *memberlist.Node)  { e.g.set(n, true) }
