// Package prosodytest runs a real Prosody (Debian's package) for
// integration tests, and gives them a small XMPP client over TCP to
// connect a second user to it directly.
//
// [Start] writes a configuration of its own under t.TempDir() — data
// directory, log file, pidfile, a fresh self-signed CA and a certificate
// for the test domain — and runs "prosody --config FILE -F" on free
// loopback ports: c2s with STARTTLS (RFC 6120 §5), c2s with direct TLS,
// and HTTP for mod_bosh (XEP-0206). It never touches the system service
// or its configuration, and it runs as root too (run_as_root). The server
// stops when the test ends; a failed test prints the tail of Prosody's
// log.
//
// [Lookup] holds the one rule for a machine without Prosody: the test is
// skipped, unless the environment variable CI is true, where it fails.
//
// [Dial] returns a [TCPClient] that has done STARTTLS, SASL PLAIN
// (mellium.im/sasl) and resource binding (RFC 6120 §7); it sends raw
// stanzas and returns the next top-level element as bytes.
//
// Layer: a test helper beside internal/; of this module it imports only
// internal/proc (starting, watching and stopping the process, shared with
// internal/ejabberdtest) and internal/xmppwire, and only tests import it.
// Start at Start, configured by a Config.
package prosodytest
