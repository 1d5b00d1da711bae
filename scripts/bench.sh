#!/usr/bin/env bash
# `make bench`: the benchmarks that run on the local broker and print numbers (not a test).
#   restore    restoring BENCH_RESTORE_RECORDS (1,000,000) changelog records of ~200 bytes
#   ecommerce  sustained orders/s of one instance under exactly_once_v2 (a backlog drained), then
#              end-to-end latency p50/p95/p99 at half that rate
# Results go to stdout and to bench/out/. The comparison with Apache Kafka Streams (issue 7) is not
# part of this script yet.
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

# ---- restore -------------------------------------------------------------------------------------
records=${BENCH_RESTORE_RECORDS:-1000000}
app="bench-restore-$run_id"
work="/tmp/kstreams-bench-$run_id"
mkdir -p "$work"
# counter_app's store "group-counts" restores from <app>-group-counts-changelog. Create the app's
# topics (a first short run creates the changelog), fill the changelog directly (restoration copies
# bytes, it does not decode values), then time a start on an empty state directory.
"$build/bench/bench_produce" --bootstrap "$bootstrap" --topic "$app-in" --records 1 --value-bytes 3 >/dev/null
"$build/bench/bench_produce" --bootstrap "$bootstrap" --topic "$app-ids" --records 1 --value-bytes 3 >/dev/null
"$build/bench/bench_produce" --bootstrap "$bootstrap" --topic "$app-counts" --records 1 --value-bytes 3 >/dev/null
"$build/tests/integration/counter_app" --input "$app-in" --ids-out "$app-ids" --counts-out "$app-counts" \
  --set application.id="$app" --set bootstrap.servers="$bootstrap" --set state.dir="$work/first" > "$work/first.log" 2>&1 &
first=$!
for _ in $(seq 1 60); do grep -q "state REBALANCING -> RUNNING" "$work/first.log" && break; sleep 0.5; done
kill $first; wait $first 2>/dev/null || true
echo "== restore: filling $app-group-counts-changelog with $records records of ~200 bytes"
"$build/bench/bench_produce" --bootstrap "$bootstrap" --topic "$app-group-counts-changelog" --records "$records" --value-bytes 190
"$build/tests/integration/counter_app" --input "$app-in" --ids-out "$app-ids" --counts-out "$app-counts" \
  --set application.id="$app" --set bootstrap.servers="$bootstrap" --set state.dir="$work/restore" > "$work/restore.log" 2>&1 &
restorer=$!
pids+=($restorer)
for _ in $(seq 1 600); do
  grep -q "restoration finished" "$work/restore.log" && break
  sleep 0.5
done
kill $restorer 2>/dev/null || true
grep "restored\|restoration finished" "$work/restore.log" | sed 's/^.*stream-thread/  stream-thread/' | tee "$out/restore.txt"
python3 - "$work/restore.log" <<'PY' | tee -a "$out/restore.txt"
import re, sys
for line in open(sys.argv[1]):
    m = re.search(r"restoration finished: (\d+) records of (\d+) task.* in ([0-9.]+) s", line)
    if m:
        total, tasks, secs = int(m.group(1)), int(m.group(2)), float(m.group(3))
        print(f"restore: {total} records in {secs:.2f} s of restoration = {total / secs if secs else 0:.0f} records/s (one stream thread, {tasks} tasks restoring together)")
PY

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
bash "$root/scripts/stream_bench.sh" "$build"
