// Package clustertest runs boshd as three nodes in Linux network
// namespaces on one bridge, with Prosody behind them and Debian's HAProxy
// in front, and measures what the README's "Running several nodes"
// promises: no session ended, lost or duplicated under round-robin, few
// forwards with routing by sid, memory and CPU per idle session summed
// over three nodes against one, a killed node costing only its own
// sessions, a short partition costing nothing, nor a one-way one (the
// node's outgoing packets dropped), a long one ending only the cut node's
// sessions and only by inactivity, a drain and a rolling restart with no
// failed creation.
//
// The client is boshload (internal/cmd/boshload), built into a temporary
// directory and run in a namespace of its own: it logs the sessions in,
// has them talk in pairs, logs a session the server ended in again
// (-relogin), and reports every message lost or duplicated, the sessions
// by owner node and how each ended, and which messages came through a
// forwarding hop. The scenarios read its -json line.
//
// Its test runs only as root with HTTPBIND_CLUSTER=1 (make cluster): it
// creates the namespaces hb-c (the client) and hb-n1…hb-n3, the bridge
// hb-br0 and the address range 10.77.0.0/24, and removes them when it
// ends. It imports internal/prosodytest, internal/proxytest and
// internal/loadstat, and nothing imports it. With HTTPBIND_CLUSTER_LOGS
// set to a directory, each node logs at debug level to n1.log…n3.log
// there instead of warnings to the test's output.
package clustertest
