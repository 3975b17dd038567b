// Package e2e holds the browser tests: real XMPP clients that nobody here
// wrote, Strophe.js 5.0.0 and converse.js 14.0.0, run unmodified in
// headless Chromium against the boshd program (with the in-memory core, and
// relaying to a real Prosody), driven by playwright-core.
//
// The package has no code of its own besides its tests. The JavaScript
// comes from npm: package.json pins the versions and package-lock.json the
// exact files; nothing third-party is copied into the repository. The
// browser is Debian's chromium (/usr/bin/chromium, or $CHROMIUM). Install
// both with
//
//	make e2e-deps        # apt-get install chromium; npm ci --prefix internal/e2e
//
// and run the tests with go test ./internal/e2e (make test does both).
// Without a browser or the npm packages the tests skip, except under
// CI=true, where they fail.
//
// Each scenario is a Go test that starts the servers it needs on loopback
// (boshd built from examples/boshd, a page server on another origin,
// Prosody for the relayed runs) and runs js/run.mjs with the scenario's
// name; the scenario's module in js/ drives the pages in pages/. A failing
// scenario prints the pages' console and every BOSH request and response
// it saw. Artifacts (the converse.js screenshots) are written to
// internal/e2e/artifacts, or to $E2E_ARTIFACTS.
package e2e
