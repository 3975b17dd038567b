// Command webchat is a small host application that gives its logged-in
// users a chat in the browser without ever handing them an XMPP password:
// it embeds a BOSH endpoint (bosh.Handler over xmppstream.Server and the
// in-memory core memcore) at /http-bind, has its own login (a form and an
// HttpOnly session cookie), and prebinds an XMPP session for the logged-in
// user (package xmppstream/prebind) that converse.js attaches to
// (authentication: 'prebind', XEP-0206 over XEP-0124).
//
//	npm ci --prefix examples/webchat   # converse.js 14.0.0, into node_modules
//	go run ./examples/webchat          # prints the URL and the demo accounts
//
// Pages:
//
//	/          the login form (fields "user" and "password"); a right
//	           password sets the session cookie and redirects to /chat
//	/chat      converse.js, prebound; without the cookie, back to /
//	/prebind   prebind.Endpoint: {"jid","sid","rid"} for the cookie's user,
//	           401 without it
//	/logout    forgets the cookie's session
//	/http-bind the BOSH endpoint (same origin: no CORS needed)
//	/assets/   the -assets directory (converse.min.js, converse.min.css…)
//
// Flags:
//
//	-listen ADDR   address to listen on (default 127.0.0.1:8080)
//	-domain NAME   the XMPP domain (default localhost)
//	-users FILE    the site's accounts, one "name:password" a line ('#'
//	               comments); default: alice and bob with fresh passwords,
//	               printed
//	-assets DIR    converse.js's dist directory (default
//	               examples/webchat/node_modules/converse.js/dist)
//
// The site's passwords are only the site's: each account's XMPP password
// is a random one the program makes at start and keeps to itself, and the
// prebind endpoint logs in with it for the user the cookie names. A real
// host would do the same with one-time tokens its xmppstream.Core accepts.
//
// Layer: the top, beside boshd; nothing imports it. Start at run.
package main
