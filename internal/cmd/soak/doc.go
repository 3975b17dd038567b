// Command soak runs an in-process BOSH connection manager (bosh.Handler over
// xmppstream.Server and the in-memory memcore core, as examples/boshd wires
// them) on a loopback port and drives it with many boshtest clients that
// log in, chat with a partner and log out, over and over, for a fixed
// time. Every interval it prints the process's resident memory (VmRSS from
// /proc/self/status), goroutines and the handler's counters, so that a
// leak shows as a rising line:
//
//	go run ./internal/cmd/soak -sessions 1000 -duration 10m
//
// It stops after -duration (or on SIGINT), shuts the handler down, and
// exits with status 1 if a client failed in a way a healthy server does
// not cause.
package main
