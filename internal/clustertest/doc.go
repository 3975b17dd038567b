// Package clustertest runs boshd as three nodes in Linux network
// namespaces on one bridge, with Prosody behind them and Debian's HAProxy
// in front, and measures what the README's "Several nodes" promises: no
// session ended, lost or duplicated under round-robin, few forwards with
// routing by sid, a killed node costing only its own sessions, a short
// partition costing nothing, a long one ending only the cut node's sessions
// and only by inactivity, a drain and a rolling restart with no failed
// creation.
//
// Its test runs only as root with HTTPBIND_CLUSTER=1 (make cluster): it
// creates the namespaces hb-n1…hb-n3, the bridge hb-br0 and the address
// range 10.77.0.0/24, and removes them when it ends. It imports
// internal/prosodytest and internal/proxytest, and nothing imports it.
package clustertest
