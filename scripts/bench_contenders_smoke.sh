#!/usr/bin/env bash
# Smoke run of the benchmark contenders (bench/harness/PROTOCOL.md) on a running broker: for every
# contender x scenario x guarantee, fresh topics, a backlog of SMOKE_RECORDS input records, the
# contender until `done`, the output records counted with bench_observe --from beginning (up to
# 60 s) against what the topology must produce, then SIGTERM (exit 0 expected). Prints one line per run
# with the records/s between the `first` and `done` events (indicative only: a backlog drain).
#
#   KAFKA_PORT=19350 bash scripts/bench_contenders_smoke.sh [build/release]
#
# Environment: SMOKE_RECORDS (20000), SMOKE_CONTENDERS ("ceiling kstreams"), SMOKE_SCENARIOS
# (stateless count tumbling hopping table_join stream_join saga), SMOKE_GUARANTEES (at_least_once
# exactly_once_v2), SMOKE_OUT (/tmp/kbench-smoke-<time>: logs and CSVs). Exit 1 if any run failed.
set -uo pipefail
build=${1:-build/release}
: "${KAFKA_PORT:?set KAFKA_PORT to the port of the broker}"
bootstrap="127.0.0.1:$KAFKA_PORT"
records=${SMOKE_RECORDS:-20000}
contenders=${SMOKE_CONTENDERS:-ceiling kstreams}
scenarios=${SMOKE_SCENARIOS:-stateless count tumbling hopping table_join stream_join saga}
guarantees=${SMOKE_GUARANTEES:-at_least_once exactly_once_v2}
run_id=$(date +%s)
out=${SMOKE_OUT:-/tmp/kbench-smoke-$run_id}
mkdir -p "$out"
bin="$build/bench"
keys=1000
failed=0

event_field() {  # event_field FILE EVENT FIELD
  grep -m1 "\"event\":\"$2\"" "$1" | sed -E "s/.*\"$3\":([0-9]+).*/\1/"
}

# What the topology writes for the backlog (no restarts, so at-least-once has no duplicates).
expected_outputs() {  # expected_outputs CONTENDER SCENARIO
  if [ "$1" = ceiling ]; then
    case "$2" in table_join) echo $((records + keys)) ;; *) echo "$records" ;; esac
    return
  fi
  case "$2" in
    stateless) echo $((records - records / 10)) ;;  # keys key-<i mod 1000>: those ending in 7 are dropped
    count | tumbling | table_join) echo "$records" ;;
    hopping) echo $((records * 5)) ;;                # every record is in 5 windows
    stream_join) echo $((records / 2)) ;;            # one partner per key
    saga) echo "$saga_expected" ;;                   # terminal statuses (loadgen's summary)
  esac
}

for contender in $contenders; do
  for scenario in $scenarios; do
    for guarantee in $guarantees; do
      p="sm$run_id-${contender:0:4}-$scenario-${guarantee%%_*}"
      log="$out/$p"
      expect=$records
      saga_expected=0
      if [ "$scenario" = saga ]; then
        "$build/apps/ecommerce_topology/ecommerce_loadgen" --bootstrap "$bootstrap" --orders "$records" --rate 0 \
          --time-step-ms 1 --topic-prefix "$p" --summary-json "$log.load.json" > /dev/null 2> "$log.loadgen.err" || {
          echo "$contender $scenario $guarantee: FAIL (loadgen)"; failed=1; continue; }
        saga_expected=$(python3 -c "import json;print(json.load(open('$log.load.json'))['expected']['terminal_statuses'])")
        [ "$contender" = ceiling ] && "$bin/bench_topics" --bootstrap "$bootstrap" create "$p-out:4" > /dev/null
      else
        topics=("$p-in:4" "$p-out:4")
        [ "$scenario" = stream_join ] && topics+=("$p-in2:4")
        [ "$scenario" = table_join ] && topics+=("$p-table:4:compact")
        "$bin/bench_topics" --bootstrap "$bootstrap" create "${topics[@]}" || { failed=1; continue; }
        if [ "$scenario" = stream_join ]; then
          for t in in in2; do
            "$bin/bench_produce" --bootstrap "$bootstrap" --topic "$p-$t" --records $((records / 2)) --value-bytes 100 \
              > /dev/null 2>> "$log.produce.err"
          done
        else
          [ "$scenario" = table_join ] && "$bin/bench_produce" --bootstrap "$bootstrap" --topic "$p-table" \
            --records "$keys" --keys "$keys" --value-bytes 20 > /dev/null 2>> "$log.produce.err"
          "$bin/bench_produce" --bootstrap "$bootstrap" --topic "$p-in" --records "$records" --keys "$keys" \
            --value-bytes 100 > /dev/null 2>> "$log.produce.err"
        fi
      fi
      : > "$log.events"
      "$bin/bench_$contender" --scenario "$scenario" --guarantee "$guarantee" --bootstrap "$bootstrap" --app-id "$p" \
        --prefix "$p" --expect "$expect" --state-dir "$out/state-$p" > "$log.events" 2> "$log.err" &
      pid=$!
      for _ in $(seq 1 1200); do
        grep -q '"event":"\(done\|error\)"' "$log.events" && break
        kill -0 $pid 2> /dev/null || break
        sleep 0.1
      done
      first=$(event_field "$log.events" first t_ms)
      done_at=$(event_field "$log.events" done t_ms)
      want=$(expected_outputs "$contender" "$scenario")
      if [ "$scenario" = saga ] && [ "$contender" = kstreams ]; then
        obs=("--topics" "${p}order-status" "--match" '"status":"CONFIRMED"' "--match" '"status":"CANCELLED"')
      else
        obs=("--topics" "$p-out")
      fi
      # Count the outputs while the contender still runs (the saga keeps emitting after `done`: its
      # counter is on its input), then stop it.
      wait_ms=60000
      [ -z "$done_at" ] && wait_ms=3000
      got=$("$bin/bench_observe" --bootstrap "$bootstrap" "${obs[@]}" --csv "$log.csv" --from beginning \
        --done-after "$want" --exit-on-done --duration-ms "$wait_ms" 2> /dev/null | event_field /dev/stdin summary records)
      kill -TERM $pid 2> /dev/null
      wait $pid
      rc=$?
      rate="n/a"
      [ -n "$first" ] && [ -n "$done_at" ] && rate=$(python3 -c "print(int($expect * 1000 / max(1, $done_at - $first)))")
      verdict=OK
      if [ "$rc" != 0 ] || [ -z "$done_at" ] || [ "$got" != "$want" ]; then verdict=FAIL; failed=1; fi
      echo "$contender $scenario $guarantee: $verdict exit=$rc outputs=$got expected=$want records/s(first->done)=$rate"
    done
  done
done
exit $failed
