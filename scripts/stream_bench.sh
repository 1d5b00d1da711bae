#!/usr/bin/env bash
# Stream benchmarks on the local broker (called by scripts/bench.sh, or alone):
#   for each of stateless and windowed, under at_least_once and exactly_once_v2: a backlog of
#   STREAM_BENCH_RECORDS (200,000) records of 100 bytes, 1,000 keys, drained by one instance with
#   one stream thread; records/s = records / time until the instance's process counter reaches them
#   (read from /metrics). And the raw ceiling: an EOS consume -> produce loop with librdkafka only
#   (apps/examples/kstreams_wiring_demo), same record count.
set -euo pipefail
build=${1:-build/release}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export KAFKA_PORT=${KAFKA_PORT:-9092}
bootstrap="127.0.0.1:$KAFKA_PORT"
records=${STREAM_BENCH_RECORDS:-200000}
out=${STREAM_BENCH_OUT:-bench/out}
mkdir -p "$out"
: > "$out/stream.txt"
run_id=$(date +%s)
failed=0
for mode in stateless windowed; do
  for guarantee in at_least_once exactly_once_v2; do
    app="sbench-$mode-${guarantee%%_*}-$run_id"
    "$build/bench/bench_produce" --bootstrap "$bootstrap" --topic "$app-in" --records "$records" --value-bytes 100 \
      --keys 1000 > /dev/null
    "$build/bench/bench_produce" --bootstrap "$bootstrap" --topic "$app-out" --records 1 --value-bytes 1 > /dev/null
    port=$((18500 + RANDOM % 1000))
    t0=$(date +%s.%N)
    "$build/bench/stream_bench_app" --mode "$mode" --input "$app-in" --output "$app-out" \
      --set application.id="$app" --set bootstrap.servers="$bootstrap" --set processing.guarantee="$guarantee" \
      --set state.dir="/tmp/$app" --set application.server="127.0.0.1:$port" > "/tmp/$app.log" 2>&1 &
    pid=$!
    done_at=""
    for _ in $(seq 1 1200); do
      n=$({ curl -s "http://127.0.0.1:$port/metrics" 2>/dev/null || true; } |
        awk '/^kstreams_thread_process_records_total/ {s+=$2} END {print s+0}')
      if [ "${n%.*}" -ge "$records" ] 2>/dev/null; then done_at=$(date +%s.%N); break; fi
      sleep 0.1
    done
    # Latency at a moderate load: STREAM_BENCH_RATE records/s for 5 s on the drained instance,
    # read from its end-to-end histogram (record timestamp -> processed, every task).
    if [ -n "$done_at" ]; then
      rate=${STREAM_BENCH_RATE:-20000}
      curl -s "http://127.0.0.1:$port/metrics" > "/tmp/$app.before"
      "$build/bench/bench_produce" --bootstrap "$bootstrap" --topic "$app-in" --records $((rate * 5)) --value-bytes 100 \
        --keys 1000 --rate "$rate" > /dev/null
      sleep 2
      curl -s "http://127.0.0.1:$port/metrics" > "/tmp/$app.after"
      latency=$(python3 - "/tmp/$app.before" "/tmp/$app.after" <<'PY'
import re, sys
def buckets(path):
    b = {}
    for line in open(path):
        m = re.match(r'kstreams_task_e2e_latency_ms_bucket\{.*le="([^"]+)".*\} (\S+)', line)
        if m:
            le = float('inf') if m.group(1) == '+Inf' else float(m.group(1))
            b[le] = b.get(le, 0) + float(m.group(2))
    return b
before, after = buckets(sys.argv[1]), buckets(sys.argv[2])
d = sorted((le, after.get(le, 0) - before.get(le, 0)) for le in after)
total = d[-1][1] if d else 0
def pct(p):
    for le, c in d:
        if total and c >= p * total: return le
    return float('nan')
print(f"p50 <= {pct(0.5):g} ms, p99 <= {pct(0.99):g} ms ({int(total)} records, bucket upper bounds)")
PY
)
    fi
    kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
    rm -rf "/tmp/$app"
    if [ -z "$done_at" ]; then
      echo "$mode $guarantee: did not finish (log: /tmp/$app.log)" | tee -a "$out/stream.txt"
      failed=1
      continue
    fi
    python3 -c "print(f'kstreams $mode $guarantee: {$records} records in {$done_at - $t0:.2f} s = {$records / ($done_at - $t0):.0f} records/s (includes startup); at ${STREAM_BENCH_RATE:-20000}/s latency $latency')" | tee -a "$out/stream.txt"
  done
done
"$build/apps/examples/kstreams_wiring_demo" --bootstrap "$bootstrap" --records "$records" 2>/dev/null \
  | grep -E "transformed" | sed 's/^3\. /raw librdkafka ceiling (EOS consume->produce): /' | tee -a "$out/stream.txt"
exit $failed
