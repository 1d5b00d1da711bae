#!/usr/bin/env bash
# `make demo`: the e-commerce order system on a real Kafka broker, end to end.
#   1. a local broker (reused if one answers on 127.0.0.1:9092), topics and state reset
#   2. the webhook receiver (5% random failures, plus a full outage a few seconds in)
#   3. two instances of ecommerce_topology (exactly-once), queryable on :8081 and :8082
#   4. the load generator: restocks, then DEMO_ORDERS orders (bad records and duplicates included)
#   5. the verifier: every invariant of the contract, read with read_committed
#   6. a summary; DEMO_KEEP_RUNNING=1 leaves everything up for exploring
set -euo pipefail
build=${1:-build/release}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin="$build/apps/ecommerce_topology"
orders=${DEMO_ORDERS:-20000}
rate=${DEMO_RATE:-2000}
work=${DEMO_DIR:-/tmp/kstreams-demo}
export KAFKA_PORT=${KAFKA_PORT:-9092}
bootstrap="127.0.0.1:$KAFKA_PORT"
config=config/ecommerce-local.properties
rm -rf "$work"
mkdir -p "$work"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pids=()
started_broker=0
cleanup() {
  if [ "${DEMO_KEEP_RUNNING:-0}" = 1 ]; then
    echo "DEMO_KEEP_RUNNING=1: broker, webhook and instances stay up (logs in $work). Stop with: kill ${pids[*]:-}"
    return
  fi
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if [ $started_broker = 1 ]; then scripts/kafka/broker.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

say "1/6 Kafka broker on $bootstrap"
if ! scripts/kafka/broker.sh status >/dev/null 2>&1; then
  scripts/kafka/broker.sh start >/dev/null
  started_broker=1
  echo "started Apache Kafka 3.9.1 (KRaft, single node)"
else
  echo "reusing the broker that answers there"
fi
"$bin/ecommerce_topology" --config "$config" --set bootstrap.servers="$bootstrap" --set state.dir="$work/state-1" \
  --reset-all 2>/dev/null | sed 's/^/  /'

say "2/6 webhook receiver on 127.0.0.1:8089 (5% random 503s, outage from 3 s to 7 s)"
"$bin/ecommerce_webhook" --listen 127.0.0.1:8089 --fail-share 0.05 --outage-ms-from 3000 --outage-ms-to 7000 \
  > "$work/webhook.log" 2>&1 &
pids+=($!)

say "3/6 two instances of ecommerce_topology (processing.guarantee=exactly_once_v2)"
for i in 1 2; do
  "$bin/ecommerce_topology" --config "$config" --set bootstrap.servers="$bootstrap" \
    --set state.dir="$work/state-$i" --set application.server="127.0.0.1:808$i" > "$work/instance-$i.log" 2>&1 &
  pids+=($!)
  echo "instance $i: http://127.0.0.1:808$i  (log: $work/instance-$i.log)"
done
for i in 1 2; do
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:808$i/healthz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "http://127.0.0.1:808$i/healthz" >/dev/null || { echo "instance $i did not become healthy"; tail -20 "$work/instance-$i.log"; exit 1; }
done
# Wait until the group is stable: both instances announce their tasks in /v1/metadata.
for _ in $(seq 1 120); do
  n=$(curl -s http://127.0.0.1:8081/v1/metadata | python3 -c "import json,sys
try:
  d=json.load(sys.stdin); print(sum(1 for i in d['instances'] if i['tasks']))
except Exception: print(0)")
  [ "$n" = 2 ] && break
  sleep 0.5
done
echo "both instances RUNNING and sharing the tasks"

# Event time runs 10x faster than the wall clock (created_at steps of 10000/rate ms), so that a
# demo of a few seconds spans minutes of order time and the analytics windows close; 10x keeps the
# saga's processing lag well inside the 30 s grace period.
step=$((10000 / rate)); [ $step -lt 1 ] && step=1
span=$((orders * step))
now_ms=$(($(date +%s%3N)))
start_ms=$((now_ms - span))
say "4/6 load: $orders orders at $rate/s (event time: $((span / 1000)) s ending now, 10x the wall clock)"
"$bin/ecommerce_loadgen" --bootstrap "$bootstrap" --orders "$orders" --rate "$rate" --seed 42 \
  --created-at-start "$start_ms" --time-step-ms "$step" --summary-json "$work/load.json" > /dev/null 2> "$work/loadgen.err"
tail -n 1 "$work/loadgen.err"
expected=$(python3 -c "import json;print(json.load(open('$work/load.json'))['expected']['terminal_statuses'])")

say "5/6 verifier: every invariant of the contract (read_committed)"
set +e
"$bin/ecommerce_verify" --bootstrap "$bootstrap" --wait-for-orders "$expected" --timeout-ms 240000 \
  --summary-json "$work/verify.json" > "$work/verify.txt" 2> "$work/verify.err"
verdict=$?
set -e
grep -vE '^(waiting|%)' "$work/verify.txt"

say "6/6 summary"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
load = json.load(open(f"{work}/load.json"))
print(f"orders sent: {load['order_records']} at {load['sent']['rate']:.0f}/s: {load['orders_by_category']}")
print(f"restocks sent: {load['restocks']['records']}")
PY
echo "webhook receiver: $(curl -s http://127.0.0.1:8089/stats)"
echo "queries (any instance answers any key; the other one forwards):"
for path in /v1/orders/o-000001 /v1/inventory/sku-0001 "/v1/analytics/revenue?from=$start_ms&to=$now_ms"; do
  printf '  GET http://127.0.0.1:8082%s\n    %s\n' "$path" "$(curl -s "http://127.0.0.1:8082$path" | cut -c1-240)"
done
echo "metrics: http://127.0.0.1:8081/metrics  http://127.0.0.1:8082/metrics   health: /healthz   metadata: /v1/metadata"
curl -s http://127.0.0.1:8081/metrics | grep -E '^kstreams_thread_(process_records_total|commits_total|transaction_aborts_total)' | sed 's/^/  8081 /'
if [ $verdict = 0 ]; then
  echo -e "\nRESULT: OK - every invariant holds"
else
  echo -e "\nRESULT: VIOLATIONS (see $work/verify.txt)"
fi
exit $verdict
