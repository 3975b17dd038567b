// Package cluster runs several BOSH connection manager nodes behind any
// load balancer, without sticky sessions: an http.Handler in front of each
// node's bosh.Handler that serves the node's own sessions and forwards
// another node's request to that node.
//
// Layer: above bosh, which it imports and which never imports it (as
// net/http/httputil stands above net/http). It owns the routing of a
// request by its sid and the forwarding; sessions themselves (rid window,
// held requests, queue, upstream stream) never leave the node that created
// them. It must not import xmppstream; membership engines that bring a
// dependency of their own live in packages below this one (so that hosts
// not using them do not import them).
//
// The owner of a session is written in its sid: every node sets
// bosh.Config.SIDPrefix to its node id, so a sid reads "n2.<random>"
// (bosh.SIDPrefixOf). Start at New and the Membership interface, which
// says who this node is, where another node is and in what State, and
// which node takes a new session while this one is not ready (it drains,
// bosh.Handler.Drain, or is full).
// NewStatic is a fixed list of nodes (ParsePeers reads "n1=http://…,n2=…");
// NewDNS names every node by a URL template such as
// "http://{id}.boshd-peers:5280" (a Kubernetes StatefulSet).
//
// A forwarded request goes to its owner with net/http/httputil.ReverseProxy
// over HTTP/2 without TLS (h2c), so each pair of nodes shares one
// connection. It carries a Forwarded header (RFC 7239) with the client's
// address and proto=https when the client used TLS; the owner believes it
// only when the forwarding node is among its bosh.Config.TrustedProxies,
// so list the nodes' addresses there (a secure session must stay secure,
// XEP-0124 §19.1). A forwarded request carries HopHeader
// (Httpbind-Forwarded-By) with the forwarding node's id and is never
// forwarded again; the forwarding node sets the same header on the owner's
// response as it relays it, so that a client can tell a response that took
// the hop from one its node answered itself.
//
// Failures never end a live session on a guess. A node known to be gone
// (connection refused, a name that no longer resolves, an id the
// membership does not know, a node that has Left) means its sessions are
// lost: the client gets item-not-found (§17.2). A failure that may pass (a
// timeout, a reset connection, a Suspect node) gets HTTP 503 with
// Retry-After; the client sends the same rid again, and the owner's rid
// window (§14.3) makes that safe. A connection between nodes that stops
// answering (a partition, or a node whose packets out are lost) is found
// by an HTTP/2 ping (Config.PingTimeout) and closed, so that forwards do
// not queue on it.
package cluster
