// Package e2e holds the real-client tests: XMPP clients that nobody here
// wrote, run unmodified against the boshd program (with the in-memory
// core, and relaying to a real Prosody): Strophe.js 5.0.0 and converse.js
// 14.0.0 in headless Chromium, driven by playwright-core; and the client
// suite (clients_test.go), where StanzaJS 12.22.1 and node-xmpp-client
// 3.2.0 in Node and libpurple 2.14 (through Debian's bitlbee-libpurple, a
// private BitlBee driven over IRC) each log in, exchange presence, roster,
// messages both ways and an XEP-0199 ping with a second user, stay idle
// longer than 'wait' and disconnect, on boshd with either upstream and on
// Prosody's own BOSH as the baseline, in the same run. Each client process
// is killed by its pid, failing the test, if its resident memory passes
// 200 MB (a runaway guard).
//
// The package has no code of its own besides its tests. The JavaScript
// comes from npm: package.json pins the versions and package-lock.json the
// exact files; nothing third-party is copied into the repository. The
// browser is Debian's chromium (/usr/bin/chromium, or $CHROMIUM). Install
// both with
//
//	make e2e-deps        # apt-get install chromium bitlbee-libpurple; npm ci --prefix internal/e2e
//
// and run the tests with go test ./internal/e2e (make test does both).
// Without a browser, BitlBee, Prosody or the npm packages the tests skip,
// except under CI=true, where they fail. node-xmpp-client's dependency
// reconnect-core is pinned to 1.3.0 from the registry by an npm override
// (its own dependency names a tarball that cannot be fetched here); it
// serves only TCP reconnects, which BOSH does not use.
//
// Each scenario is a Go test that starts the servers it needs on loopback
// (boshd built from examples/boshd, a page server on another origin,
// Prosody for the relayed runs) and runs js/run.mjs with the scenario's
// name; the scenario's module in js/ drives the pages in pages/. A failing
// scenario prints the pages' console and every BOSH request and response
// it saw. Artifacts (the converse.js screenshots) are written to
// internal/e2e/artifacts, or to $E2E_ARTIFACTS.
package e2e
