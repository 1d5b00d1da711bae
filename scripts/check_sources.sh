#!/usr/bin/env bash
# Keeps third-party engines inside their modules (ARCHITECTURE.md, "Modules, one direction"):
#   - RocksDB headers only in state/src and state's own tests;
#   - librdkafka, OpenSSL and prometheus-cpp headers only in runtime/src and runtime's own tests; libcurl only
#     in runtime/src/http; cpp-httplib only in the benchmark that measures it
#     (and librdkafka in bench/contenders/ceiling.cc, the raw-librdkafka benchmark ceiling);
#   - no public header (*/include/**) includes any of them;
#   - no module includes a module above it (common < state < topology < runtime < apps);
#   - the library logs through KS_LOG_* (the "kstreams" logger, on stderr), never through spdlog's
#     default logger, which writes to stdout, where applications (and the benchmark protocol) write.
# Exit 1 with one line per violation.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
fail=0
report() { echo "check_sources: $1" >&2; fail=1; }

files=$(git ls-files -co --exclude-standard -- '*.h' '*.cc' '*.hpp' '*.cpp' 2>/dev/null || find . -name '*.h' -o -name '*.cc')
for f in $files; do
  [ -f "$f" ] || continue
  case "$f" in build*/*|*/build/*) continue ;; esac
  incs=$(grep -hoE '^\s*#\s*include\s*[<"][^>"]+[>"]' "$f" | sed -E 's/.*[<"]([^>"]+)[>"]/\1/' || true)
  for inc in $incs; do
    case "$inc" in
      rocksdb/*)
        case "$f" in state/src/*|tests/unit/state/*|bench/*state*) ;; *) report "$f includes <$inc>: RocksDB belongs to state/src" ;; esac ;;
      librdkafka/*|rdkafka*.h)
        # bench/contenders/ceiling.cc is the raw-librdkafka ceiling of the benchmark: measuring
        # librdkafka without the runtime's adapters is its purpose.
        case "$f" in runtime/src/*|bench/contenders/ceiling.cc) ;; *) report "$f includes <$inc>: librdkafka belongs to runtime/src" ;; esac ;;
      httplib.h)
        case "$f" in bench/tools/http_server_cpu.cc) ;; *) report "$f includes <$inc>: cpp-httplib is a benchmark contender only; HTTP is runtime/src/http" ;; esac ;;
      curl/*)
        case "$f" in runtime/src/http/*) ;; *) report "$f includes <$inc>: libcurl belongs to runtime/src/http" ;; esac ;;
      prometheus/*)
        case "$f" in runtime/src/*) ;; *) report "$f includes <$inc>: Prometheus libraries belong to runtime/src" ;; esac ;;
      openssl/*)
        case "$f" in runtime/src/*|tests/unit/runtime/*) ;; *) report "$f includes <$inc>: OpenSSL belongs to runtime/src" ;; esac ;;
      kstreams/state/*)
        case "$f" in common/*) report "$f includes <$inc>: common may not depend on state" ;; esac ;;
      kstreams/topology/*)
        case "$f" in common/*|state/*) report "$f includes <$inc>: a lower module may not depend on topology" ;; esac ;;
      kstreams/runtime/*|kstreams/kstreams.h)
        case "$f" in common/*|state/*|topology/*) report "$f includes <$inc>: a lower module may not depend on runtime" ;; esac ;;
    esac
  done
done
# Library code (common, state, topology, runtime) logs through kstreams::log only.
for f in $files; do
  case "$f" in common/src/logging.cc) continue ;; common/*|state/*|topology/*|runtime/*) ;; *) continue ;; esac
  [ -f "$f" ] || continue
  if grep -nE 'spdlog::(trace|debug|info|warn|error|critical|log)\(' "$f" >/dev/null; then
    report "$f logs through spdlog's default logger (stdout): use KS_LOG_* (kstreams/common/logging.h)"
  fi
done
exit $fail
