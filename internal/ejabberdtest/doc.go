// Package ejabberdtest runs a real ejabberd (Debian's package) for
// integration tests, in the spirit of internal/prosodytest.
//
// [Start] writes a configuration of its own under t.TempDir() — Mnesia
// spool, log file — and runs the Erlang node of the package's ejabberd
// directly (erl -s ejabberd, not distributed, so no epmd and no node
// name), as the user the tests run as, on free loopback ports: a client
// port (RFC 6120) without STARTTLS, and HTTP for mod_http_api, which
// [Server.Register] creates accounts with. It never touches the system
// service, its configuration or its data. Passwords are stored in plain
// (auth_password_format: plain) and no SASL mechanism is disabled
// (disable_sasl_mechanisms: []), so ejabberd offers DIGEST-MD5 (RFC 2831)
// beside PLAIN and SCRAM. The server stops when the test ends; a failed
// test prints the tail of ejabberd's log.
//
// [Lookup] holds the one rule for a machine without ejabberd: the test is
// skipped, unless the environment variable CI is true, where it fails
// (make deps installs it).
//
// Layer: a test helper beside internal/; of this module it imports only
// internal/prosodytest (for the CI rule) and internal/proc (starting,
// watching and stopping the process, as prosodytest does), and only tests
// import it. Start at Start, configured by a Config.
package ejabberdtest
