# The whole test suite: `make test`. CI runs it through .ci/run.
# Each target installs what it needs; `go test ./...` alone also works on a
# machine with only Go.

GO ?= go

.PHONY: test deps vet race fuzz bench

test: deps vet race

# deps installs what the tests need besides Go: Prosody, Debian's package,
# for the interoperability tests (internal/interop). The tests run their own
# prosody with their own configuration on free loopback ports; nothing uses
# the package's system service. Under CI=true a missing Prosody fails them.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deps:
	@command -v prosody >/dev/null || \
	  ($(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y prosody)

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
	$(GO) test -run '^$$' -bench . -benchmem ./bosh ./internal/xmlscan ./xmppstream/...
