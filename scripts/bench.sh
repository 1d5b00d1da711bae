#!/usr/bin/env bash
# `make bench`: the benchmarks that run on the local broker and print numbers (not a test).
#   harness    bench/harness/kbench.py: kstreams vs Apache Kafka Streams vs the raw librdkafka
#              ceiling on every scenario (PROTOCOL.md there), restoration and fail-over; writes the
#              generated section of docs/benchmarks.md (set KBENCH=0 to skip it)
#   ecommerce  sustained orders/s of one instance under exactly_once_v2 (a backlog drained), then
#              end-to-end latency p50/p95/p99 at half that rate
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

# ---- ecommerce -----------------------------------------------------------------------------------
bin="$build/apps/ecommerce_topology"
orders=${BENCH_ORDERS:-50000}
edir="$work/ecommerce"
mkdir -p "$edir"
"$bin/ecommerce_webhook" --listen 127.0.0.1:8089 > "$edir/webhook.log" 2>&1 &
pids+=($!)
"$bin/ecommerce_topology" --config config/ecommerce-local.properties --set bootstrap.servers="$bootstrap" \
  --set state.dir="$edir/s" --reset-all > /dev/null 2>&1
echo "== ecommerce: backlog of $orders orders, then one instance (exactly_once_v2) drains it"
"$bin/ecommerce_loadgen" --bootstrap "$bootstrap" --orders "$orders" --rate 0 --time-step-ms 1 \
  --summary-json "$edir/load.json" > /dev/null 2> "$edir/loadgen.err"
expected=$(python3 -c "import json;print(json.load(open('$edir/load.json'))['expected']['terminal_statuses'])")
t0=$(date +%s.%N)
"$bin/ecommerce_topology" --config config/ecommerce-local.properties --set bootstrap.servers="$bootstrap" \
  --set state.dir="$edir/s" --set application.server= > "$edir/app.log" 2>&1 &
app_pid=$!
pids+=($app_pid)
"$bin/ecommerce_verify" --bootstrap "$bootstrap" --wait-for-orders "$expected" --timeout-ms 600000 > "$edir/verify1.txt" 2>&1 || true
t1=$(date +%s.%N)
rate=$(python3 -c "print(int($orders / ($t1 - $t0)))")
echo "ecommerce: $orders orders drained in $(python3 -c "print(round($t1 - $t0, 1))") s = $rate orders/s (one instance, includes startup and the verifier's polling)" | tee "$out/ecommerce.txt"
half=$((rate / 2))
kill $app_pid 2>/dev/null || true; wait $app_pid 2>/dev/null || true
"$bin/ecommerce_topology" --config config/ecommerce-local.properties --set bootstrap.servers="$bootstrap" \
  --set state.dir="$edir/s2" --reset-all > /dev/null 2>&1
"$bin/ecommerce_topology" --config config/ecommerce-local.properties --set bootstrap.servers="$bootstrap" \
  --set state.dir="$edir/s2" --set application.server= > "$edir/app2.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do grep -q "REBALANCING -> RUNNING" "$edir/app2.log" && break; sleep 0.5; done
sleep 2
echo "== ecommerce: $((half * 20)) orders at half that rate ($half/s) on fresh topics; latency from the order's send time"
"$bin/ecommerce_loadgen" --bootstrap "$bootstrap" --orders $((half * 20)) --rate "$half" --time-step-ms 1 \
  --summary-json "$edir/load2.json" > /dev/null 2> "$edir/loadgen2.err"
expected2=$(python3 -c "import json;print(json.load(open('$edir/load2.json'))['expected']['terminal_statuses'])")
"$bin/ecommerce_verify" --bootstrap "$bootstrap" --wait-for-orders "$expected2" --timeout-ms 600000 > "$edir/verify2.txt" 2>&1 || true
grep -E "to status updated_at" "$edir/verify2.txt" | sed "s/^ */ecommerce at $half orders\/s: /" | tee -a "$out/ecommerce.txt"
grep -E "RESULT" "$edir/verify1.txt" "$edir/verify2.txt" | tee -a "$out/ecommerce.txt"
exit $harness_status
