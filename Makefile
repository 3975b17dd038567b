# The whole test suite: `make test`. CI runs it through .ci/run.
# Each target installs what it needs; `go test ./...` alone also works on a
# machine with only Go.

GO ?= go

.PHONY: test deps e2e-deps vet race fuzz bench compare bigload

test: deps e2e-deps vet race

# deps installs what the tests need besides Go: Prosody, Debian's package,
# for the interoperability tests (internal/interop). The tests run their own
# prosody with their own configuration on free loopback ports; nothing uses
# the package's system service. Under CI=true a missing Prosody fails them.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y
deps:
	@command -v prosody >/dev/null || ($(APT_INSTALL) prosody)

# e2e-deps installs what the browser tests (internal/e2e) need: Debian's
# chromium, and Strophe.js, converse.js and playwright-core from npm at the
# versions internal/e2e/package-lock.json pins. Under CI=true a missing part
# fails those tests.
E2E_MODULES := internal/e2e/node_modules/.httpbind-installed
e2e-deps: $(E2E_MODULES)
	@command -v chromium >/dev/null || ($(APT_INSTALL) chromium)
$(E2E_MODULES): internal/e2e/package-lock.json
	@command -v npm >/dev/null || ($(APT_INSTALL) nodejs npm)
	npm ci --prefix internal/e2e --no-audit --no-fund
	touch $@

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi

race:
	$(GO) test -race -count=1 ./...

# Run every fuzz target for FUZZTIME each (default 1m): make fuzz FUZZTIME=5m
FUZZTIME ?= 1m
fuzz:
	$(GO) test ./internal/xmlscan -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bosh -run '^$$' -fuzz '^FuzzDecodeBody$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bosh -run '^$$' -fuzz '^FuzzCharset$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bosh -run '^$$' -fuzz '^FuzzClientAddr$$' -fuzztime $(FUZZTIME)
	$(GO) test ./xmppstream -run '^$$' -fuzz '^FuzzInspectStanza$$' -fuzztime $(FUZZTIME)
	$(GO) test ./xmppstream -run '^$$' -fuzz '^FuzzStreamReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./xmppstream/memcore -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./xmppstream/memcore -run '^$$' -fuzz '^FuzzRoute$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bosh/boshtest -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/prosodytest -run '^$$' -fuzz '^FuzzElementReader$$' -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./bosh/... ./internal/xmlscan ./xmppstream/...

# compare runs boshload against Prosody, ejabberd and boshd, one after another, and prints a
# markdown table (internal/cmd/boshload/compare.sh; SESSIONS=1000 by default); then the same
# targets under client-side connection cuts (boshload -cut 0.1 and 0.3, CUT_RUNS seeds each), and
# a second table of lost, duplicated, reordered, stuck and server-ended. PERF=0 or FAULTS=0 skips
# a part. Installs what it needs.
compare:
	sh internal/cmd/boshload/compare.sh

# bigload runs 20,000 concurrent sessions (SESSIONS=…) against boshd with its in-memory core,
# over h2c, and fails unless every one logs in and no message is lost, duplicated or stuck
# (internal/cmd/boshload/big.sh).
bigload:
	sh internal/cmd/boshload/big.sh
