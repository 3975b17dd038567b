# The whole test suite: `make test`. CI runs it through .ci/run.
# Each target installs what it needs; `go test ./...` alone also works on a
# machine with only Go.

GO ?= go

.PHONY: test deps e2e-deps vet unit race fuzz bench compare bigload bigidle faults cluster

test: deps e2e-deps vet unit race

# deps installs what the tests need besides Go, Debian's packages: Prosody
# and ejabberd for the interoperability tests (internal/interop,
# internal/ejabberdtest and what uses them); nginx and HAProxy for the
# reverse proxy tests (examples/boshd TestBehindReverseProxy, through
# internal/proxytest); systemd for systemd-analyze (make unit). The tests
# run their own servers and proxies with their own configurations on free
# loopback ports; nothing uses the packages' system services. Under CI=true
# a missing one fails them.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y
DEPS := prosody:prosody ejabberdctl:ejabberd nginx:nginx haproxy:haproxy systemd-analyze:systemd
deps:
	@missing=; for d in $(DEPS); do cmd=$${d%%:*}; \
		command -v $$cmd >/dev/null || [ -x /usr/sbin/$$cmd ] || missing="$$missing $${d#*:}"; \
	done; [ -z "$$missing" ] || ($(APT_INSTALL) $$missing)

# unit checks boshd's systemd unit, examples/boshd/boshd.service, with
# systemd-analyze verify and security (examples/boshd/verify-unit.sh).
unit: deps
	sh examples/boshd/verify-unit.sh

# e2e-deps installs what the real-client tests (internal/e2e) need:
# Debian's chromium and bitlbee-libpurple (libpurple's XMPP code, driven
# over IRC), and Strophe.js, converse.js, StanzaJS, node-xmpp-client and
# playwright-core from npm at the versions internal/e2e/package-lock.json
# pins. Under CI=true a missing part fails those tests.
E2E_MODULES := internal/e2e/node_modules/.httpbind-installed
e2e-deps: $(E2E_MODULES)
	@command -v chromium >/dev/null || ($(APT_INSTALL) chromium)
	@(command -v bitlbee >/dev/null && bitlbee -V | grep -q -- --purple=1) || ($(APT_INSTALL) bitlbee-libpurple)
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
	$(GO) test ./session -run '^$$' -fuzz '^FuzzSessionModel$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bosh -run '^$$' -fuzz '^FuzzCharset$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bosh -run '^$$' -fuzz '^FuzzClientAddr$$' -fuzztime $(FUZZTIME)
	$(GO) test ./xmppstream -run '^$$' -fuzz '^FuzzInspectStanza$$' -fuzztime $(FUZZTIME)
	$(GO) test ./xmppstream -run '^$$' -fuzz '^FuzzStreamReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/digestmd5 -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./xmppstream/memcore -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./xmppstream/memcore -run '^$$' -fuzz '^FuzzRoute$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/xmppwire -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/prosodytest -run '^$$' -fuzz '^FuzzElementReader$$' -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./bosh/... ./internal/xmlscan ./xmppstream/...

# faults runs internal/faulttest at full size, without the race detector:
# 100 session pairs × 50 messages each way with client cuts of 10% and 30%,
# 20 seeds each, and 10 pairs through Prosody with 5 seeds (see README,
# Reliability). About 3 minutes.
faults: deps
	@log=$$(mktemp); cd internal/faulttest && $(GO) test -count=1 -timeout 60m -v \
		-run 'TestLosslessUnderClientCuts|TestLosslessToProsodyUnderClientCuts' . \
		-args -cut.pairs 100 -cut.msgs 50 -cut.seeds 20 -prosody.seeds 5 >$$log 2>&1; st=$$?; \
	grep -E '^\s*(--- |ok|FAIL|PASS)|sent [0-9]' $$log; echo "full log: $$log"; exit $$st

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

# bigidle holds 19,800 idle sessions over HTTP/1.1 (SESSIONS=…), each held request parked, in one
# boshd with its in-memory core, and prints its RSS per idle session
# (internal/cmd/boshload/bigidle.sh).
bigidle:
	sh internal/cmd/boshload/bigidle.sh

# cluster runs boshd as three nodes in network namespaces (internal/clustertest),
# with Prosody behind, HAProxy in front and boshload as the client: one node,
# round-robin, routing by sid, 600 idle sessions on one node and on three,
# partitions of 5 s and 90 s, a one-way partition of 10 s, kill -9 of a node,
# a drain, a rolling restart. As root, about 5 minutes; not in make test.
cluster: deps
	HTTPBIND_CLUSTER=1 $(GO) test -count=1 -timeout 20m -v -run TestCluster ./internal/clustertest
