// Command boshd is a BOSH connection manager (XEP-0124, XEP-0206) with the
// in-memory XMPP core: browser clients such as Strophe.js or converse.js
// log in over HTTP and chat with each other, without any other server.
//
//	go run ./examples/boshd
//
// serves http://127.0.0.1:5280/http-bind for the domain "localhost" and
// prints the demo accounts it created (alice and bob, with fresh random
// passwords). Flags:
//
//	-listen ADDR        address to listen on (default 127.0.0.1:5280)
//	-path PATH          path of the BOSH endpoint (default /http-bind)
//	-domain NAME        XMPP domain served (default localhost)
//	-users FILE         accounts, one "name:password" a line; '#' starts a
//	                    comment line; without it, the demo accounts
//	-allow-origin LIST  comma-separated origins whose pages may use the
//	                    endpoint (CORS), or * for any origin without
//	                    credentials
//	-log-level LEVEL    debug, info, warn or error (default info)
//
// Session counters (bosh.Handler.Stats) are served as JSON at
// /debug/vars. SIGINT or SIGTERM shut it down gracefully: every session
// ends with system-shutdown, then the HTTP server stops.
//
// Layer: the top; it imports bosh, xmppstream and xmppstream/memcore, and
// nothing imports it. Start at run.
package main
