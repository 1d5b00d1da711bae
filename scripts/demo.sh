#!/usr/bin/env bash
# `make demo`: starts a local broker (unless one answers already), runs the demo against it, prints
# what happened, and stops what it started. DEMO_KEEP_RUNNING=1 leaves the broker up.
set -euo pipefail
build=${1:-build/release}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export KAFKA_PORT=${KAFKA_PORT:-9092}
started=0
if ! scripts/kafka/broker.sh status >/dev/null 2>&1; then
  scripts/kafka/broker.sh start >/dev/null
  started=1
fi
cleanup() {
  if [ $started = 1 ] && [ "${DEMO_KEEP_RUNNING:-0}" != 1 ]; then scripts/kafka/broker.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
echo "== kstreams demo: exactly-once transform on a real Kafka broker at 127.0.0.1:$KAFKA_PORT =="
"$build/apps/examples/kstreams_wiring_demo" --bootstrap "127.0.0.1:$KAFKA_PORT" --records "${DEMO_RECORDS:-20000}"
