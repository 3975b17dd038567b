// Command boshd is a BOSH connection manager (XEP-0124, XEP-0206). By
// default it runs the in-memory XMPP core: browser clients such as
// Strophe.js or converse.js log in over HTTP and chat with each other,
// without any other server. With -upstream it relays every session to an
// existing XMPP server over TCP (xmppstream.TCPUpstream), like Punjab.
//
//	go run ./examples/boshd
//
// serves http://127.0.0.1:5280/http-bind for the domain "localhost" and
// prints the demo accounts it created (alice and bob, with fresh random
// passwords).
//
//	go run ./examples/boshd -domain example.com -upstream tcp://xmpp.example.com:5222
//
// relays to the server's client port, with STARTTLS. Flags:
//
//	-listen ADDR           address to listen on (default 127.0.0.1:5280)
//	-path PATH             path of the BOSH endpoint (default /http-bind)
//	-domain LIST           comma-separated XMPP domains served (default
//	                       localhost); the in-memory core serves one
//	-users FILE            accounts of the in-memory core, one
//	                       "name:password" a line; '#' starts a comment
//	                       line; without it, the demo accounts
//	-upstream URL          tcp://HOST:PORT (STARTTLS) or tls://HOST:PORT
//	                       (direct TLS): the XMPP server to relay to
//	-upstream-ca FILE      PEM CA certificates trusted for -upstream
//	                       (default: the system's)
//	-upstream-insecure-plaintext
//	                       INSECURE: relay in plain text (passwords in
//	                       clear) to a server that is not on loopback and
//	                       offers no STARTTLS; by default such a session
//	                       is refused with remote-connection-failed
//	-max-wait DURATION     the longest 'wait' a client may ask for
//	                       (bosh.Config.MaxWait, XEP-0124 §7.2; default
//	                       45s, below the common proxies' timeouts)
//	-route-allow LIST      comma-separated proto:host:port routes clients
//	                       may ask for (XEP-0124 §7.1; others get
//	                       host-unknown); with -upstream, a session with
//	                       an allowed route connects there
//	-trusted-proxies LIST  comma-separated IPs or CIDR prefixes of reverse
//	                       proxies whose Forwarded / X-Forwarded-For
//	                       headers give the client's address
//	-allow-origin LIST     comma-separated origins whose pages may use the
//	                       endpoint (CORS), or * for any origin without
//	                       credentials
//	-sasl-digest-md5       also offer SASL DIGEST-MD5 (RFC 2831), before
//	                       PLAIN; the in-memory core then keeps each
//	                       account's DIGEST-MD5 credential. Off by default:
//	                       the mechanism is historic (RFC 6331) and the
//	                       credential is a password equivalent
//	-non-sasl-auth MODE    non-SASL authentication (XEP-0078): off
//	                       (default), with-sasl (the iq-auth feature beside
//	                       the SASL mechanisms) or only (no SASL mechanism,
//	                       for clients such as Strophe.js that fall back to
//	                       it only then). A plain-text password is taken
//	                       only over HTTPS; the digest works everywhere.
//	                       These two are for the in-memory core
//	-log-level LEVEL       debug, info, warn or error (default info)
//	-log-format FORMAT     text (key=value pairs, the default) or json
//	                       (one JSON object a line)
//	-prebind PATH          serve a prebind endpoint at PATH (converse.js
//	                       prebind_url, package xmppstream/prebind): it logs
//	                       in with the request's HTTP Basic credentials
//	                       (user or user@domain, the XMPP password) and
//	                       answers {"jid","sid","rid"}; a wrong password is
//	                       401. Default: none
//	-tls-cert FILE         PEM certificate chain: serve HTTPS, HTTP/2
//	-tls-key FILE          chosen by ALPN and HTTP/1.1 (both needed)
//	-h2c                   also accept unencrypted HTTP/2 with prior
//	                       knowledge on the plain listener (not with
//	                       -tls-cert)
//	-session-rate N        session creations a second (default 200)
//	-session-burst N       session creations at once (default 400)
//	-max-sessions N        sessions at once (default 100000)
//	-max-sessions-per-address N
//	                       sessions at once from one client address
//	                       (default 1000); these four set bosh.Config's
//	                       SessionsPerSecond, SessionBurst, MaxSessions
//	                       and MaxSessionsPerAddress
//	-node-id ID            this node's id among several (1 to 16
//	                       characters a-z, 0-9 and -), written before
//	                       every sid it makes: "n2.<random>"
//	                       (bosh.Config.SIDPrefix)
//	-peers LIST            every node, this one included, as
//	                       id=http://host:port,…: a request of another
//	                       node's session is forwarded to it (package
//	                       bosh/cluster); needs -node-id
//	-peers-dns TEMPLATE    every node named by a URL template such as
//	                       http://{id}.boshd-peers:5280 (a Kubernetes
//	                       StatefulSet); needs -node-id, not with -peers
//	-gossip ADDR           gossip address host:port (TCP and UDP,
//	                       hashicorp/memberlist, package
//	                       bosh/cluster/gossip) by which the nodes find
//	                       each other and learn who drains; needs
//	                       -node-id, not with -peers or -peers-dns. The
//	                       others reach this node's BOSH listener at its
//	                       -listen address, or at the -gossip host when
//	                       -listen is 0.0.0.0
//	-join LIST             comma-separated gossip addresses of running
//	                       nodes to join (needs -gossip)
//	-drain-timeout DURATION
//	                       on SIGTERM or POST /drain, how long sessions
//	                       go on with readiness off before they end with
//	                       system-shutdown (default 5m with -peers,
//	                       -peers-dns or -gossip, 0 for a node alone)
//
// Over HTTP/2 a client's held request and the requests it sends are
// streams of one TCP connection instead of two or more connections.
// Sessions created over TLS, by HTTP/2 or HTTP/1.1, are secure sessions
// (XEP-0124 §19.1).
//
// Every flag can also be set by the environment variable BOSHD_<FLAG>,
// the flag's name in upper case with '-' as '_' (BOSHD_LISTEN,
// BOSHD_UPSTREAM, BOSHD_MAX_SESSIONS); a flag on the command line wins.
// An invalid flag is an error that names it, and an invalid variable one
// that names the variable.
//
// Besides the BOSH endpoint, which answers a browser's GET with a short
// page about itself, boshd serves:
//
//	/healthz     200 whenever the process serves (liveness)
//	/readyz      200 when it accepts new sessions: not shutting down,
//	             fewer than -max-sessions sessions and, with -upstream,
//	             the XMPP server accepts a TCP connection within 1s;
//	             503 with the reason otherwise (readiness)
//	/debug/vars  the session counters (bosh.Handler.Stats) as JSON
//	/metrics     the same and more in the Prometheus text format
//	/drain       POST from a loopback address: drain, as SIGTERM does
//
// SIGTERM drains: readiness goes off (/readyz answers 503), creation
// requests that still arrive go to another node (or get HTTP 503 with
// Retry-After), and the sessions go on until they end or -drain-timeout
// passes; then, as at once on SIGINT, every remaining session ends with
// system-shutdown and the HTTP server stops; with -gossip the node then
// leaves, so that the others answer its sessions' requests with
// item-not-found at once. With -peers, -peers-dns or -gossip the
// listener also accepts h2c, which the nodes' forwards speak; list the
// nodes' addresses in -trusted-proxies, so that the owner of a session
// believes the client address and proto=https they forward.
//
// Layer: the top; it imports bosh, bosh/cluster, bosh/cluster/gossip, xmppstream and xmppstream/memcore
// (and, in tests, internal/prosodytest, internal/ejabberdtest and
// internal/digestmd5), and nothing imports it. Start at run.
package main
