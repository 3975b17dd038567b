// Package proxytest runs private reverse proxies, Debian's nginx and
// HAProxy, in front of a server under test, the way operators put them in
// front of boshd. Each proxy is a child process of the test with its own
// configuration in the test's temporary directory, listening on a free
// loopback port; the system's services and configuration files are never
// used or touched, and the process (with its workers) is stopped by its
// id when the test ends.
//
// A test that needs a proxy whose binary is not installed is skipped, or
// fails when the environment variable CI is true: `make deps` installs
// both there.
//
// Start at Nginx and HAProxy. Relay relays TCP connections: it counts the
// connections a proxy opens to the server behind it (HTTP keep-alive), and
// can drop one direction, as a one-way partition does. Cert makes a TLS
// certificate for the proxy's front.
//
// Layer: internal test support; it imports only the standard library and
// testify, and nothing but tests imports it.
package proxytest
