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
	"sync"
	"time"

	"github.com/httpbind/httpbind/bosh"
	"github.com/httpbind/httpbind/bosh/cluster"
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
}

func (c *clusterFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&c.nodeID, "node-id", "", "this node's `id` among several (1 to 16 characters a-z, 0-9 and -), written before every sid it makes")
	fs.StringVar(&c.peers, "peers", "", "comma-separated `list` of every node, this one included, as id=http://host:port; a request of another node's session is forwarded to it (needs -node-id)")
	fs.StringVar(&c.peersDNS, "peers-dns", "", "URL `template` naming every node by its id, such as http://{id}.boshd-peers:5280 (needs -node-id; not with -peers)")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", bosh.DefaultDrainTimeout, "on SIGTERM or POST "+drainPath+", how long sessions may go on with readiness off before they end with system-shutdown (`duration`; 0: at once, the default of a node without -peers or -peers-dns)")
}

// check reports flags that do not go together; bosh.Config judges
// -node-id. A node alone drains for no time unless -drain-timeout says
// otherwise: no other node would take the new sessions meanwhile.
func (c *clusterFlags) check(fs *flag.FlagSet) error {
	fs.Visit(func(f *flag.Flag) { c.drainSet = c.drainSet || f.Name == "drain-timeout" })
	if !c.drainSet && !c.clustered() {
		c.drainTimeout = 0
	}
	switch {
	case c.peers != "" && c.peersDNS != "":
		return errors.New("-peers and -peers-dns: give one")
	case (c.peers != "" || c.peersDNS != "") && c.nodeID == "":
		return errors.New("-peers and -peers-dns need -node-id")
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
func (c *clusterFlags) clustered() bool { return c.peers != "" || c.peersDNS != "" }

// handler returns the cluster handler in front of h of -peers or
// -peers-dns, or nil for a node alone.
func (c *clusterFlags) handler(h *bosh.Handler, log *slog.Logger) (*cluster.Handler, error) {
	m, err := c.membership()
	if err != nil || m == nil {
		return nil, err
	}
	return cluster.New(h, cluster.Config{Membership: m, Logger: log})
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
	once    sync.Once
}

// start begins the drain in its own goroutine; later calls do nothing.
func (d *drainer) start(why string) {
	d.once.Do(func() {
		d.log.Info("boshd: draining", "reason", why, "timeout", d.timeout)
		go func() {
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
