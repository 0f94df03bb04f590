# bouncehouse: the two commands of the README's quick start are `make demo` and `make test`.
# Both set up what they need on a fresh machine with Go installed (see README).

GO        ?= go
BIN       := bin/bouncehouse
FUZZTIME  ?= 10s
BENCHCOUNT ?= 6

.PHONY: all build demo test vet fmt-check unit fuzz bench clean check-go engine

# The embedded ClickHouse engine (libchdb.so): found where it is installed, or downloaded
# once (167 MB, npm registry) into ~/.cache/bouncehouse. The script prints its path.
CHDB_LIB_CMD := bash scripts/install-libchdb.sh
# Headless Chromium for the report's rendering test: found, or installed from Debian as root.
CHROMIUM_CMD := bash scripts/install-chromium.sh

all: build

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "Go is required (https://go.dev/dl/); set GO=/path/to/go" >&2; exit 1; }

build: check-go
	$(GO) build -o $(BIN) ./cmd/bouncehouse

# demo: the main job on the embedded default: an embedded Kafka broker and ClickHouse engine,
# a generated scenario, the real pipeline, then the NOC view. EVENTS=200000 for a bigger run.
EVENTS ?= 50000
demo: build engine
	CHDB_LIB=$$($(CHDB_LIB_CMD)) ./$(BIN) demo --events $(EVENTS)

# test: everything CI runs.
test: vet fmt-check unit fuzz

vet: check-go
	$(GO) vet ./...

fmt-check: check-go
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

engine:
	@$(CHDB_LIB_CMD) >/dev/null

unit: check-go engine
	CHDB_LIB=$$($(CHDB_LIB_CMD)) CHROMIUM=$$($(CHROMIUM_CMD)) $(GO) test -race -count=1 ./...

# A short run of every fuzz target: finds regressions; long runs are `make fuzz FUZZTIME=10m`.
fuzz: check-go engine
	CHDB_LIB=$$($(CHDB_LIB_CMD)) GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

# bench: the figures of BENCHMARKS.md; compare two runs with benchstat.
bench: check-go
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./classify | tee bench.txt

clean:
	rm -rf bin bench.txt
