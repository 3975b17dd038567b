// Command pollfloor measures the floor for any HTTP long-poll transport on
// this machine: a bare net/http long-poll echo, with the same traffic shape
// as boshload's paced mode, so that boshd's delivery latency can be put
// next to it (the target: boshd's paced p50 at most 1.5× this floor).
//
//	pollfloor serve -listen 127.0.0.1:5300
//	pollfloor load -url http://127.0.0.1:5300 -pairs 500 -messages 20 -interval 2s
//
// The server keeps one channel per client id. GET /poll?id=N waits up to
// -wait for the next message for client N and answers with it (or 204);
// POST /send?to=N answers 204 at once and hands the body to client N's
// poll. That is all a long-poll transport has to do: no sessions, no rids,
// no XML, no authentication.
//
// load runs 2×pairs clients; each keeps one poll held at all times, like a
// BOSH client, and client 2k and 2k+1 send each other -messages messages,
// one every -interval (staggered), each carrying its send time on the load
// process's monotonic clock. It prints the delivery latency p50, p90, p99
// and max, and the delivered, lost and duplicated counts, and ends within
// -duration whatever the server does. Connections stay on loopback.
package main
