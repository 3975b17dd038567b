package cluster

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/httpbind/httpbind/bosh"
)

// DNS is a Membership that names every node by a URL template, such as
// "http://{id}.boshd-peers:5280" for the pods of a Kubernetes StatefulSet
// behind the headless service boshd-peers. Every valid node id is taken
// for a Ready node: the name is resolved when a request is forwarded, and
// a name that does not resolve (the node has left) gives item-not-found,
// as a refused connection does. DNS cannot list the nodes, so Pick finds
// none: a creation request on a draining node gets HTTP 503 with
// Retry-After, and the load balancer, which sees the node not ready, sends
// the resent request elsewhere. It is safe for concurrent use.
type DNS struct {
	self     string
	template string
}

// NewDNS returns the membership of the nodes named by template, which must
// contain "{id}" in its host, for this node self.
func NewDNS(self, template string) (*DNS, error) {
	if !bosh.ValidNodeID(self) {
		return nil, fmt.Errorf("cluster: node id %q: want 1 to 16 characters a-z, 0-9 and -", self)
	}
	u, err := nodeURL(strings.ReplaceAll(template, "{id}", self))
	if err != nil || !strings.Contains(template, "{id}") || !strings.Contains(u.Host, self) {
		return nil, fmt.Errorf("cluster: DNS template %q: want a URL with {id} in its host, like http://{id}.boshd-peers:5280", template)
	}
	return &DNS{self: self, template: template}, nil
}

// Self returns this node's id.
func (d *DNS) Self() string { return d.self }

// Lookup returns the node of a valid node id, Ready, at the template's URL.
func (d *DNS) Lookup(id string) (Node, bool) {
	if !bosh.ValidNodeID(id) {
		return Node{}, false
	}
	u, err := url.Parse(strings.ReplaceAll(d.template, "{id}", id))
	if err != nil {
		return Node{}, false
	}
	return Node{ID: id, URL: u}, true
}

// Pick finds no node: DNS cannot list them.
func (d *DNS) Pick() (Node, bool) { return Node{}, false }
