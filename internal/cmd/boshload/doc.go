// Command boshload is a black-box load generator for BOSH connection
// managers (XEP-0124, XEP-0206). It speaks only HTTP to a BOSH URL, so it
// runs the same way against boshd, Prosody's mod_bosh and ejabberd's
// mod_bosh, and prints the figures that size a deployment: session setup rate,
// server memory per idle session, server CPU per login and per message,
// delivered messages per second, delivery latency, and lost, duplicated
// and reordered messages.
//
// It keeps a minimal BOSH client of its own rather than the module's
// (internal/boshclient, under boshtest's Client and prebind, with
// internal/xmpplogin): a load tool must behave the same against every
// server, hold 20,000 sessions with little memory and few goroutines each,
// and time every message from outside; it shares the client-side fault
// model (internal/faulttest's Cutter) and the namespaces and escaping of
// internal/xmppwire.
//
//	go build -o /tmp/boshd ./examples/boshd
//	for i in $(seq 1 1000); do echo "user$i:secret"; done > /tmp/users
//	/tmp/boshd -users /tmp/users -log-level warn &
//	go run ./internal/cmd/boshload -sessions 1000 -password secret -pid $!
//
// # What a run does
//
// Every session is one account, -user-format with the account number
// (-first, -first+1, …): it creates a BOSH session with hold='1' (like a
// browser), authenticates with SASL PLAIN, restarts the stream, binds a
// resource and, when the server advertises it, establishes the RFC 3921
// session. From then on it keeps exactly one request held at the server at
// all times, sends stanzas in further requests while fewer than the
// server's 'requests' are in flight (batching what waits), and handles the
// responses in rid order.
//
// The run has four phases, all within -duration:
//
//  1. Logins, -login-concurrency at a time and at most -login-rate a
//     second. A creation refused with HTTP 503 (boshd's rate and session
//     limits: the server is busy and did not process it) is sent again
//     after its Retry-After (RFC 9110 §10.2.3; 1 s without one, at most
//     30 s), as Strophe.js and StanzaJS do; one refused with
//     policy-violation (other servers' rate or per-address limits) is
//     retried after a pause. Both are counted.
//  2. Idle: every session holds a request for -idle; then the server's RSS
//     and CPU time are read.
//  3. Messages: sessions 2k and 2k+1 chat, each sending -messages chat
//     messages to the other's full JID. In closed mode each session
//     starts with -window messages and sends its next one whenever one
//     arrives from its partner; in paced mode each sends one every
//     -interval, the sessions' first messages spread over one interval.
//     A message's body is "sender seq nanos": nanos is its send time on
//     the tool's monotonic clock, so the receiver measures the delivery
//     latency and finds lost, duplicated and reordered messages. The
//     phase ends when every message arrived, or when nothing arrived for
//     -drain after the last message was due.
//  4. Every session is terminated (XEP-0124 §13).
//
// # Flags
//
//	-url URL                BOSH endpoint, http or https (default http://127.0.0.1:5280/http-bind)
//	-domain NAME            XMPP domain of the accounts (default localhost)
//	-user-format FMT        account name from the account number (default user%d)
//	-first N                first account number (default 1)
//	-password PW            password of every account, or
//	-password-format FMT    password from the account number
//	-sessions N             sessions, an even number (default 1000)
//	-messages M             messages each session sends (default 20)
//	-mode closed|paced      (default closed)
//	-window N               closed mode: messages in flight per session (default 1)
//	-interval D             paced mode: time between a session's messages (default 2s)
//	-login-rate R           logins started per second, 0 unlimited (default 0)
//	-login-concurrency N    logins in progress at once (default 50)
//	-wait D                 BOSH 'wait' asked for, whole seconds (default 30s)
//	-idle D                 idle time before the idle figures (default 2s)
//	-drain D                give up on messages after this long without one (default 10s)
//	-duration D             hard bound on the whole run (default 2m)
//	-pid PID                server process for the /proc figures (default none)
//	-sources N              source addresses 127.0.0.1 .. 127.0.0.N (default one per 500 sessions)
//	-json                   one JSON line on stdout; the report goes to stderr
//	-h2c                    HTTP/2 with prior knowledge to an http URL (see below)
//	-h2                     HTTP/2 over TLS to an https URL (see below)
//	-insecure               https: do not verify the server's certificate
//	-ca FILE                https: PEM CA certificates to trust (default: the system's)
//	-sessions-per-conn N    with -h2c or -h2: N sessions share one connection (default 1)
//	-cut F                  cut the connections of this fraction of the requests after login (default 0)
//	-cut-seed N             seed of the cuts' random choices (default 1)
//	-relogin                a session the server ends logs in again and carries on (see below)
//
// # Network errors and cuts
//
// A request that fails with a network error (the connection failed, was
// reset or closed before the whole response arrived) is sent again,
// byte for byte with the same rid, on another connection, as XEP-0124
// §14.3 allows: the connection manager answers a rid it has answered
// from its buffer and treats one it has not yet answered as the request.
// The pause before a resend is 50 ms times the attempts so far, none after
// a cut; after 8 attempts the request is given up and its session fails.
// A request answered with HTTP 503 (a cluster node that cannot reach the
// session's owner for now, bosh/cluster; a server over its limits), or
// with 502 or 504 (a proxy that lost it), is sent again as it is after its
// Retry-After (1 s without one, at most 30 s), up to 60 times.
// A creation is never resent (XEP-0124 §7.1: if the server made the
// session, the client never learnt its sid); it fails the login.
// Responses are still handled in rid order, and at most the server's
// 'requests' rids are unanswered at once.
//
// -cut F breaks connections on purpose, on the client's side, with
// internal/faulttest's Cutter, so that the same command measures any
// server: every request of a logged-in session (the held ones, those that
// carry messages, and their resends; not the login's requests nor the
// final terminate) is cut with probability F. A cut request is written in
// full on a TCP connection of its own; the tool waits until the server's
// TCP stack has acknowledged every byte (SIOCOUTQ is 0, on Linux), then
// closes the connection without reading, at a uniform random moment up to
// 10 ms later. At that moment the server may not have read the request
// yet, may be forwarding its payloads, may be holding it, or may have
// answered it. The same request is cut at most 5 times in a row. -cut
// needs HTTP/1.1 to an http URL.
//
// # Several nodes and relogins
//
// Against several connection manager nodes (bosh/cluster), every session
// is counted under its owner node, the prefix of its sid before the first
// '.' (bosh.SIDPrefixOf): logins, and the sessions the server ended by
// condition. A node relays the owner's response to a request it forwarded
// with the Httpbind-Forwarded-By header (cluster.HopHeader): a message
// that arrives in such a response counts as forwarded, and the delivery
// latency is given for forwarded and direct messages apart.
//
// With -relogin, a session that the server ends with a terminate body
// (XEP-0124 §17.2: item-not-found when its node died, system-shutdown
// after a drain, remote-connection-failed, …) logs in again as the same
// account, once its old requests have returned, and carries on where it
// was: its message numbers go on, in closed mode it sends its window of
// messages again (the pair would stall on a lost one), in paced mode its
// timer starts again. Relogins are counted by condition. A relogin never
// hides a loss: every message put on the wire that its addressee never
// received is lost, and the report says which of four causes explains
// it, from each session's count of ends and relogins when the message
// went on the wire and at the end: sent while the addressee had no
// session (the server had ended it, the next was not live yet); addressed
// to a live session that the server ended before it arrived; sent by a
// session that the server ended afterwards (it may never have left that
// session); or between two sessions that both lived on, which no end
// explains. Without -relogin the same split applies to sessions that end.
// Lost messages are also counted by route, the owner nodes of the sender's
// and of the addressee's sessions when the message went on the wire
// ("n1>n3"), so that a run can tell the losses of a failed node from the
// others'.
//
// # HTTP/2
//
// By default the tool speaks HTTP/1.1 (over TLS for an https URL), with
// one transport whose keep-alive connections every session shares: each
// session needs two connections at times, one for its held request and
// one for the request that sends. With -h2c (prior knowledge, RFC 9113
// §3.3) or -h2 (ALPN over TLS), each session has a transport of its own
// and so exactly one TCP connection, whose streams carry its held and
// sending requests, as a browser has one HTTP/2 connection per origin.
// Sessions take source addresses in turn (session i: 127.0.0.(i mod
// -sources + 1)). -sessions-per-conn N lets N consecutive sessions share
// one connection instead, as they do behind a reverse proxy that speaks
// HTTP/2 to boshd: it is how 20,000 sessions fit under a process's
// descriptor limit on a machine where it cannot be raised past 20,000.
//
// The tool raises its own RLIMIT_NOFILE to the hard limit; it needs about
// two descriptors per session (one per -sessions-per-conn sessions over
// HTTP/2). With -sources above 1 the URL's host must
// be an IPv4 loopback address; spreading connections over source
// addresses keeps each address under the ephemeral port range and under
// a server's per-address session limit (boshd's default is 1000).
//
// # Figures
//
//   - logins/s: logged-in sessions over the time from the first login's
//     start to the last success; login failures by kind.
//   - RSS per idle session: (RSS with every session idle − RSS before the
//     first login) / sessions, from VmRSS of /proc/PID/status.
//   - CPU per login: utime+stime of /proc/PID/stat over the login and idle
//     phases, per session; CPU per 1,000 messages: over the message phase,
//     per delivered message. Both count every thread of -pid only.
//   - delivered msgs/s: distinct messages delivered over the time from the
//     phase's start to the last delivery.
//   - latency p50/p90/p99/max: send to receipt, on the tool's clock;
//     late: messages that took more than 5 s (a server held them back,
//     say until a held request's 'wait' ran out).
//   - lost: messages put in a request that never arrived; duplicated;
//     out of order (arrived after a later one of the same sender);
//     foreign (arrived at a session that was not the addressee);
//     bounced (came back to their sender as a message of type 'error',
//     RFC 6120 §8.3); echoed (came back to their sender as it was sent,
//     as if it had arrived).
//   - sessions failed (a request failed or the server terminated the
//     session) and stuck (did not send and receive all its messages).
//   - sessions ended by the server, by terminal condition (XEP-0124
//     §17.2) or HTTP status: the run's own terminates are not counted;
//     relogins, by condition; logins and ends by owner node.
//   - forwarded: messages delivered in a response that a cluster node
//     forwarded; latency p50/p90/p99/max of those and of the others.
//   - requests cut and cut after the response had begun to arrive;
//     requests sent again after a network error, and given up.
//   - the tool's own CPU time, since it shares the machine with the server.
//
// # Comparison
//
// compare.sh (make compare) installs Prosody and ejabberd from Debian when
// missing, starts each with its own configuration and data directory on
// free loopback ports, creates the accounts, and runs the same closed and
// paced loads against Prosody's mod_bosh, ejabberd's mod_bosh, boshd with
// its in-memory core and boshd relaying to the Prosody, one after another;
// table.py prints the markdown table with ratios to the best peer. Then it
// runs the fault loads (-cut 0.1 and -cut 0.3, several seeds, 100
// sessions, 50 paced messages each) against the same four targets, each
// on a freshly started server, and table.py -faults prints the second
// table: messages sent, lost, duplicated, reordered, stuck sessions and
// the sessions each server ended, by condition.
//
// big.sh (make bigload) runs 20,000 sessions against boshd over h2c, two
// sessions per HTTP/2 connection, and fails unless every session logs in
// and every message arrives exactly once.
//
// The exit status is 1 when the flags are wrong or no session logged in;
// lost messages and failures are figures, not errors. Logs and reports
// never contain passwords or message bodies.
package main
