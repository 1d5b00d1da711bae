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
	@scripts/install_deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

# Every tier; the integration tier starts (and stops) its own broker on 127.0.0.1:19092.
test: build lint
	@cd $(BUILD_DIR) && ctest -j $(JOBS) -L '$(LABELS)' --output-on-failure --timeout 900

lint: configure
	@scripts/lint.sh $(BUILD_DIR)

format:
	@scripts/lint.sh --fix $(BUILD_DIR)

demo: build
	@scripts/demo.sh $(BUILD_DIR)

bench: build
	@scripts/bench.sh $(BUILD_DIR)

broker-start: deps
	@scripts/kafka/broker.sh start

broker-stop:
	@scripts/kafka/broker.sh stop

clean:
	rm -rf build
