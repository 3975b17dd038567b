package cluster

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/httpbind/httpbind/bosh"
)

// State is what the membership knows of a node.
type State int

const (
	// Ready: the node serves its sessions and takes new ones.
	Ready State = iota
	// Draining: the node serves its sessions and takes no new ones.
	Draining
	// Suspect: the node may be down; its sessions' requests get HTTP 503
	// with Retry-After until it is known Ready or Left.
	Suspect
	// Left: the node is gone, and its sessions with it; their requests
	// get item-not-found (XEP-0124 §17.2).
	Left
)

func (s State) String() string {
	switch s {
	case Ready:
		return "ready"
	case Draining:
		return "draining"
	case Suspect:
		return "suspect"
	case Left:
		return "left"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Node is one node of the cluster.
type Node struct {
	ID    string   // its node id, bosh.Config.SIDPrefix
	URL   *url.URL // where it listens: scheme and host; a request keeps its path
	State State
}

// Membership says who the nodes are. The Handler calls it on every request
// it does not serve itself, concurrently from many goroutines: its methods
// must be safe for concurrent use, and must not block on the network (a
// membership that learns over the network does so in its own goroutines).
type Membership interface {
	// Self returns this node's id.
	Self() string
	// Lookup returns the node with the given id, and false when the
	// membership does not know it (its sessions get item-not-found).
	Lookup(id string) (Node, bool)
	// Pick returns a Ready node other than this one to take a new session
	// while this one drains, and false when there is none.
	Pick() (Node, bool)
}

// Static is a Membership of a fixed list of nodes, each assumed Ready. It
// is safe for concurrent use.
type Static struct {
	self  string
	nodes map[string]Node
	peers []Node // the nodes other than self, in id order, for Pick
	next  atomic.Uint64
}

// NewStatic returns the membership of the nodes whose URLs are given by
// node id; self must be one of them.
func NewStatic(self string, urls map[string]string) (*Static, error) {
	s := &Static{self: self, nodes: make(map[string]Node, len(urls))}
	for id, raw := range urls {
		u, err := nodeURL(raw)
		if !bosh.ValidNodeID(id) || err != nil {
			return nil, fmt.Errorf("cluster: node %q=%q: want a node id (1 to 16 characters a-z, 0-9 and -) and an http:// or https:// URL", id, raw)
		}
		n := Node{ID: id, URL: u}
		s.nodes[id] = n
		if id != self {
			s.peers = append(s.peers, n)
		}
	}
	if _, ok := s.nodes[self]; !ok {
		return nil, fmt.Errorf("cluster: this node %q is not among the nodes", self)
	}
	slices.SortFunc(s.peers, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return s, nil
}

// Self returns this node's id.
func (s *Static) Self() string { return s.self }

// Lookup returns the node with the given id.
func (s *Static) Lookup(id string) (Node, bool) {
	n, ok := s.nodes[id]
	return n, ok
}

// Pick returns the other nodes in turn.
func (s *Static) Pick() (Node, bool) {
	if len(s.peers) == 0 {
		return Node{}, false
	}
	i := s.next.Add(1) - 1
	return s.peers[i%uint64(len(s.peers))], true
}

// ParsePeers parses a list of nodes "n1=http://10.0.0.1:5280,n2=…" into
// URLs by node id, for NewStatic.
func ParsePeers(list string) (map[string]string, error) {
	out := make(map[string]string)
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, raw, ok := strings.Cut(item, "=")
		id, raw = strings.TrimSpace(id), strings.TrimSpace(raw)
		if _, err := nodeURL(raw); !ok || !bosh.ValidNodeID(id) || err != nil {
			return nil, fmt.Errorf("cluster: peer %q: want id=http://host:port, the id 1 to 16 characters a-z, 0-9 and -", item)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("cluster: peer %q given twice", id)
		}
		out[id] = raw
	}
	if len(out) == 0 {
		return nil, errors.New("cluster: no peers")
	}
	return out, nil
}

// nodeURL parses a node's URL: http or https, a host, nothing else but a
// path.
func nodeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("cluster: %q is not http://host[:port]", raw)
	}
	return u, nil
}
