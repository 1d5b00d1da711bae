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

.PHONY: all deps configure build test lint format demo bench broker-start broker-stop clean

all: build

deps:
	@bash scripts/install_deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

# Lint, then every tier (the integration tier starts and stops its own broker on 127.0.0.1:19092).
# Both always run; the target fails if either failed.
test: build
	@status=0; bash scripts/lint.sh $(BUILD_DIR) || status=1; \
	(cd $(BUILD_DIR) && ctest -j $(JOBS) -L '$(LABELS)' --output-on-failure --timeout 900) || status=1; \
	exit $$status

lint: configure
	@bash scripts/lint.sh $(BUILD_DIR)

format:
	@bash scripts/lint.sh --fix $(BUILD_DIR)

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

bench: build
	@bash scripts/bench.sh $(BUILD_DIR)

broker-start: deps
	@bash scripts/kafka/broker.sh start

broker-stop:
	@bash scripts/kafka/broker.sh stop

clean:
	rm -rf build
