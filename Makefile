# The README's two commands: `make demo` and `make test`. Both install what is missing first.
PRESET ?= release
# One compiler cache for every clone of the repository (CI clones into a fresh folder).
export CCACHE_DIR ?= $(HOME)/.cache/kstreams/ccache
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= true
export CCACHE_MAXSIZE ?= 5G
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)
# Tiers run by `make test`; e.g. `make test LABELS=unit` for one tier.
LABELS ?= unit|topology|integration|bench
# Seconds each libFuzzer target runs in `make fuzz` (and in `make test`).
FUZZ_SECONDS ?= 60
# `make test` also runs the unit and topology tiers under ASan + UBSan (`make sanitize`) and every
# fuzz target (`make fuzz`); SANITIZE=0 / FUZZ=0 leave them out.
SANITIZE ?= 1
FUZZ ?= 1

.PHONY: all deps configure build test lint format demo bench soak broker-start broker-stop clean sanitize fuzz

all: build

deps:
	@bash scripts/install_deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

# Lint, then every tier (the integration tier starts and stops its own broker on 127.0.0.1:19092),
# then the sanitizer tiers and the fuzz targets. All always run; the target fails if any failed.
test: build
	@status=0; bash scripts/lint.sh $(BUILD_DIR) || status=1; \
	(cd $(BUILD_DIR) && ctest -j $(JOBS) -L '$(LABELS)' --output-on-failure --timeout 900) || status=1; \
	if [ "$(SANITIZE)" = 1 ]; then $(MAKE) --no-print-directory sanitize || status=1; fi; \
	if [ "$(FUZZ)" = 1 ]; then $(MAKE) --no-print-directory fuzz || status=1; fi; \
	exit $$status

# The unit and topology tiers built with the `dev` preset (Debug + ASan + UBSan, build/dev): only
# the binaries those tiers run (target unit_topology_tier); then the integration tests of the query
# server's concurrency (close while queries arrive, forwarding, restoration, hostile requests), whose
# application processes run under the sanitizers too (their ctest fixture starts a broker).
SANITIZE_INTEGRATION ?= ClosingWhileQueriesArrive|AnyInstanceAnswersAnyKey|QueriesAreAnsweredWhileATaskRestores|TheQueryServerProcessSurvives
sanitize: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS) --target unit_topology_tier integration_tests
	@status=0; (cd build/dev && ctest -j $(JOBS) -L 'unit|topology' --output-on-failure --timeout 900) || status=1; \
	(cd build/dev && ctest -L integration -R '$(SANITIZE_INTEGRATION)' --output-on-failure --timeout 900) || status=1; \
	exit $$status

# Every libFuzzer target (preset `fuzz`, clang, build/fuzz) for FUZZ_SECONDS each over its corpus.
fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh build/fuzz

lint: configure
	@bash scripts/lint.sh $(BUILD_DIR)

format:
	@bash scripts/lint.sh --fix $(BUILD_DIR)

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

bench: build
	@bash scripts/bench.sh $(BUILD_DIR)

# Exactly-once under faults (~20 min, not part of `make test`): a 3-broker cluster, 3 instances, steady
# load, instance and broker kills, restarts, a scale 3->1->3 and a broker freeze; then the verifier.
soak: build
	@python3 scripts/soak.py $(BUILD_DIR)

broker-start: deps
	@bash scripts/kafka/broker.sh start

broker-stop:
	@bash scripts/kafka/broker.sh stop

clean:
	rm -rf build
