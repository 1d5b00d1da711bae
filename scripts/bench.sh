#!/usr/bin/env bash
# `make bench`: the benchmarks that run on the local broker and print numbers (not a test).
#   harness    bench/harness/kbench.py: kstreams vs Apache Kafka Streams vs the raw librdkafka
#              ceiling on every scenario (PROTOCOL.md there), restoration and fail-over; writes the
#              generated section of docs/benchmarks.md (set KBENCH=0 to skip it)
#   ecommerce  sustained orders/s of one instance under exactly_once_v2 (a backlog drained), then
#              end-to-end latency p50/p95/p99 at half that rate (the harness, kstreams only)
# Results go to stdout, bench/out/ and docs/benchmarks.md. Takes about an hour on the 2-core machine.
set -euo pipefail
build=${1:-build/release}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=bench/out
mkdir -p "$out"
export KAFKA_PORT=${KAFKA_PORT:-9092}
bootstrap="127.0.0.1:$KAFKA_PORT"
started=0
if ! scripts/kafka/broker.sh status >/dev/null 2>&1; then scripts/kafka/broker.sh start >/dev/null; started=1; fi
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ $started = 1 ]; then scripts/kafka/broker.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
run_id=$(date +%s)

work="/tmp/kstreams-bench-$run_id"
mkdir -p "$work"

# ---- kstreams vs Apache Kafka Streams vs the raw ceiling (bench/harness, issue 7) ----------------
# Every scenario x guarantee x contender, restoration of 1,000,000 changelog records and fail-over;
# rewrites the generated section of docs/benchmarks.md and the charts in docs/bench/. KBENCH_ARGS
# adds flags (e.g. KBENCH_ARGS="--scenarios stateless,count --runs 3"); see kbench.py --help.
harness_status=0
# shellcheck disable=SC2086
[ "${KBENCH:-1}" = 0 ] || python3 bench/harness/kbench.py --build "$build" --bootstrap "$bootstrap" ${KBENCH_ARGS:-} || harness_status=$?

# ---- ecommerce (issue 6) -------------------------------------------------------------------------
# One kstreams instance under exactly_once_v2, same harness, kstreams only. First the sustained
# orders/s: 3 runs draining a backlog (first order processed -> every terminal status readable with
# read_committed and every notification settled), median. Then end-to-end latency p50/p95/p99 (order
# sent -> terminal status readable) in 3 runs at half that median: the machine's speed varies from
# minute to minute, and half of a single warm-up's rate could overload a slower run.
orders=${BENCH_ORDERS:-40000}
ecommerce_status=0
saga_args=(--build "$build" --bootstrap "$bootstrap" --scenarios saga --guarantees exactly_once_v2
  --contenders kstreams --runs 3 --warmup 1 --saga-rate-cap 1000000 --restore-records 0 --failover-runs 0
  --report none)
# The broker's JVM compiles its hot paths during the first minutes under load: on a fresh broker the
# saga's p99 at 5,600 orders/s fell from 2.4 s to under 0.4 s over eight 20-s runs in a row
# (docs/benchmarks.md, 2026-12-07). Unless the harness above already loaded it for an hour, the
# e-commerce figures start with ECOMMERCE_WARMUP_S (300) seconds of saga load, discarded.
warmup_s=${ECOMMERCE_WARMUP_S:-300}
if [ "${KBENCH:-1}" = 0 ] && [ "$warmup_s" -gt 0 ]; then
  python3 bench/harness/kbench.py "${saga_args[@]}" --runs 1 --warmup 0 --saga-orders 10000 \
    --latency-seconds "$warmup_s" --latency-rate 4000 --out "$out/ecommerce-warmup" >/dev/null 2>&1 || true
fi
python3 bench/harness/kbench.py "${saga_args[@]}" --saga-orders "$orders" --no-latency \
  --out "$out/ecommerce-throughput" || ecommerce_status=$?
half=$(python3 - "$out/ecommerce-throughput/results.json" <<'PY'
import json, sys
sys.path.insert(0, "bench/harness")
import stats
runs = [r for c in json.load(open(sys.argv[1]))["cells"] for r in c["runs"] if not r.get("error")]
tp = stats.median([r.get("throughput") for r in runs]) or 0
print(max(100, int(tp / 2 / 100) * 100))
PY
) || ecommerce_status=$?
python3 bench/harness/kbench.py "${saga_args[@]}" --saga-orders 10000 --warmup 0 --latency-seconds 20 \
  --latency-rate "${half:-100}" --out "$out/ecommerce-latency" || ecommerce_status=$?
python3 - "$out/ecommerce-throughput/results.json" "$out/ecommerce-latency/results.json" <<'PY' | tee "$out/ecommerce.txt"
import json, sys
sys.path.insert(0, "bench/harness")
import stats
def runs(path):
    return [r for c in json.load(open(path))["cells"] for r in c["runs"] if not r.get("error")]
drains, lats = runs(sys.argv[1]), runs(sys.argv[2])
tp = stats.median([r.get("throughput") for r in drains])
lat = {k: stats.median([(r.get("latency") or {}).get(k) for r in lats]) for k in ("p50", "p95", "p99")}
rate = stats.median([r.get("rate") for r in lats])
each = " / ".join(f"{r.get('throughput') or 0:,.0f}" for r in drains)
each_p99 = " / ".join(f"{(r.get('latency') or {}).get('p99') or 0:.0f}" for r in lats)
print(f"ecommerce, one instance, exactly_once_v2: {tp or 0:,.0f} orders/s sustained (median of {len(drains)} runs: "
      f"{each}); at {rate or 0:,.0f} orders/s (half of it): p50 {lat['p50'] or 0:.0f} ms, p95 {lat['p95'] or 0:.0f} ms, "
      f"p99 {lat['p99'] or 0:.0f} ms (medians of {len(lats)} runs; p99 per run: {each_p99})")
PY
[ $harness_status = 0 ] && exit $ecommerce_status
exit $harness_status
