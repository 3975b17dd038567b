package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
	"github.com/httpbind/httpbind/bosh/cluster/gossip"
)

// drainPath is the admin endpoint that starts a drain, as SIGTERM does.
const drainPath = "/drain"

// clusterFlags are the flags of a node among several (package
// bosh/cluster).
type clusterFlags struct {
	nodeID       string        // -node-id → bosh.Config.SIDPrefix
	peers        string        // -peers: id=URL,… (cluster.ParsePeers)
	peersDNS     string        // -peers-dns: URL template with {id}
	drainTimeout time.Duration // -drain-timeout
	drainSet     bool          // -drain-timeout was given
	gossip       string        // -gossip: the gossip address, host:port
	join         []string      // -join: gossip addresses of running nodes
}

func (c *clusterFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&c.nodeID, "node-id", "", "this node's `id` among several (1 to 16 characters a-z, 0-9 and -), written before every sid it makes")
	fs.StringVar(&c.peers, "peers", "", "comma-separated `list` of every node, this one included, as id=http://host:port; a request of another node's session is forwarded to it (needs -node-id)")
	fs.StringVar(&c.peersDNS, "peers-dns", "", "URL `template` naming every node by its id, such as http://{id}.boshd-peers:5280 (needs -node-id; not with -peers)")
	fs.StringVar(&c.gossip, "gossip", "", "gossip `address` host:port (TCP and UDP, hashicorp/memberlist) by which the nodes find each other (needs -node-id; not with -peers or -peers-dns)")
	fs.Func("join", "comma-separated gossip `addresses` of running nodes to join (needs -gossip)", func(v string) error {
		c.join = list(v)
		return nil
	})
	fs.DurationVar(&c.drainTimeout, "drain-timeout", bosh.DefaultDrainTimeout, "on SIGTERM or POST "+drainPath+", how long sessions may go on with readiness off before they end with system-shutdown (`duration`; 0: at once, the default of a node without -peers, -peers-dns or -gossip)")
}

// check reports flags that do not go together; bosh.Config judges
// -node-id. A node alone drains for no time unless -drain-timeout says
// otherwise: no other node would take the new sessions meanwhile.
func (c *clusterFlags) check(fs *flag.FlagSet) error {
	fs.Visit(func(f *flag.Flag) { c.drainSet = c.drainSet || f.Name == "drain-timeout" })
	if !c.drainSet && !c.clustered() {
		c.drainTimeout = 0
	}
	given := 0
	for _, v := range []string{c.peers, c.peersDNS, c.gossip} {
		if v != "" {
			given++
		}
	}
	switch {
	case given > 1:
		return errors.New("-peers, -peers-dns and -gossip: give one")
	case given == 1 && c.nodeID == "":
		return errors.New("-peers, -peers-dns and -gossip need -node-id")
	case len(c.join) > 0 && c.gossip == "":
		return errors.New("-join needs -gossip")
	case c.gossip != "" && !validHostPort(c.gossip):
		return fmt.Errorf("-gossip %q: want host:port", c.gossip)
	case c.drainTimeout < 0:
		return fmt.Errorf("-drain-timeout %v: want 0 or more", c.drainTimeout)
	}
	_, err := c.membership()
	return err
}

// membership is the cluster.Membership of -peers or -peers-dns, nil for a
// node alone.
func (c *clusterFlags) membership() (cluster.Membership, error) {
	switch {
	case c.peers != "":
		urls, err := cluster.ParsePeers(c.peers)
		if err != nil {
			return nil, fmt.Errorf("-peers: %w", err)
		}
		m, err := cluster.NewStatic(c.nodeID, urls)
		if err != nil {
			return nil, fmt.Errorf("-peers: %w", err)
		}
		return m, nil
	case c.peersDNS != "":
		m, err := cluster.NewDNS(c.nodeID, c.peersDNS)
		if err != nil {
			return nil, fmt.Errorf("-peers-dns: %w", err)
		}
		return m, nil
	}
	return nil, nil
}

// clustered reports whether the node forwards to others; its listener
// then accepts h2c, which the other nodes' forwards speak.
func (c *clusterFlags) clustered() bool { return c.peers != "" || c.peersDNS != "" || c.gossip != "" }

// validHostPort reports whether s is host:port with a numeric port.
func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	n, perr := strconv.Atoi(port)
	return err == nil && perr == nil && n >= 0 && n <= 65535
}

// clusterNode is boshd's part in a cluster: the cluster handler in front of the
// bosh.Handler and, with -gossip, the gossip. The zero clusterNode is a node
// alone.
type clusterNode struct {
	handler *cluster.Handler // nil for a node alone
	gossip  *gossip.Gossip   // nil without -gossip
	log     *slog.Logger
}

// start joins the cluster of the flags, if any, as the node listening on
// addr. A forward waits for its answer 15 s longer than -max-wait.
func (c *clusterFlags) start(h *bosh.Handler, addr net.Addr, log *slog.Logger) (*clusterNode, error) {
	nd := &clusterNode{log: log}
	m, err := c.membership()
	if err != nil {
		return nil, err
	}
	if c.gossip != "" {
		u, err := advertisedURL(addr, c.gossip)
		if err != nil {
			return nil, err
		}
		nd.gossip, err = gossip.New(gossip.Config{
			NodeID: c.nodeID, URL: u, Bind: c.gossip, Join: c.join,
			Draining: h.Draining, Sessions: func() int64 { return h.Stats().Sessions }, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("-gossip: %w", err)
		}
		m = nd.gossip
	}
	if m == nil {
		return nd, nil
	}
	wait := cluster.DefaultResponseTimeout - bosh.DefaultMaxWait
	nd.handler, err = cluster.New(h, cluster.Config{Membership: m, ResponseTimeout: h.Config().MaxWait + wait, Logger: log})
	if err != nil {
		nd.leave()
		return nil, err
	}
	return nd, nil
}

// advertisedURL is the URL by which the other nodes reach a node listening
// on addr: its address, or, when that is unspecified (0.0.0.0), the host
// of its gossip address, which must then be an address.
func advertisedURL(addr net.Addr, gossipAddr string) (string, error) {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host, _, _ = net.SplitHostPort(gossipAddr)
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			return "", fmt.Errorf("-gossip %q and -listen %q: one of them must name an IP address the other nodes reach", gossipAddr, addr)
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// endpoint is what serves -path: the cluster handler, or h alone.
func (nd *clusterNode) endpoint(h *bosh.Handler) http.Handler {
	if nd.handler != nil {
		return nd.handler
	}
	return h
}

// update tells the other nodes this node's state now (a drain began).
func (nd *clusterNode) update() {
	if nd.gossip != nil {
		if err := nd.gossip.Update(time.Second); err != nil {
			nd.log.Warn("boshd: gossip update", "err", err)
		}
	}
}

// leave tells the other nodes this node is gone, so that its sessions'
// requests get item-not-found at once.
func (nd *clusterNode) leave() {
	if nd.gossip != nil {
		if err := nd.gossip.Leave(time.Second); err != nil {
			nd.log.Warn("boshd: gossip leave", "err", err)
		}
	}
}

// drainer drains the handler once, on SIGTERM or POST /drain, then has
// run shut down: readiness off, sessions go on until they end or
// -drain-timeout, then the usual shutdown ends the rest with
// system-shutdown. Its methods are safe for concurrent use.
type drainer struct {
	h       *bosh.Handler
	timeout time.Duration
	log     *slog.Logger
	stop    context.CancelFunc // ends run's serving context
	changed func()             // tells the other nodes; nil for none
	once    sync.Once
}

// start begins the drain in its own goroutine; later calls do nothing.
func (d *drainer) start(why string) {
	d.once.Do(func() {
		d.log.Info("boshd: draining", "reason", why, "timeout", d.timeout)
		go func() {
			if d.changed != nil {
				d.changed()
			}
			defer d.stop()
			ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
			defer cancel()
			if err := d.h.Drain(ctx); err != nil {
				d.log.Info("boshd: drain timeout, ending the remaining sessions", "sessions", d.h.Stats().Sessions)
			}
		}()
	})
}

// ServeHTTP answers POST /drain from a loopback address: 202, and the
// drain starts. Other addresses get 403: the endpoint is for the host's
// own tooling (a preStop hook, systemd's ExecStop).
func (d *drainer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
		writeProbe(w, http.StatusForbidden, "forbidden: "+drainPath+" is served to loopback only")
		return
	}
	d.start("POST " + drainPath)
	writeProbe(w, http.StatusAccepted, "draining")
}
