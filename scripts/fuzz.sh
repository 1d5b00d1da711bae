#!/usr/bin/env bash
# Runs every libFuzzer target of the `fuzz` preset for a bounded time (docs/development.md, "Fuzzing").
#   scripts/fuzz.sh [BUILD_DIR]     (default build/fuzz; `make fuzz` builds it first)
# Environment: FUZZ_SECONDS per target (default 60); FUZZ_JOBS targets at a time (default: the
# number of cores; each target is one process on one core); FUZZ_TARGETS to run only some
# (space-separated names such as "http_request recording").
# Each target starts from its seed corpus fuzz/corpus/<name>/ (read, never written) plus what earlier
# runs found in BUILD_DIR/corpus/<name>/, where new inputs go. A crash, an invariant violation, a
# sanitizer report, a leak or a timeout fails the run; the input is saved as
# BUILD_DIR/artifacts/<name>/crash-* (reproduce: BUILD_DIR/fuzz/fuzz_<name> that-file).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-$(nproc)}
targets=${FUZZ_TARGETS:-$(ls fuzz/corpus)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# Runs one target; its outcome goes to BUILD_DIR/artifacts/<name>/last-run.{log,rc,secs}.
run_one() {
  local name=$1 bin="$build/fuzz/fuzz_$1" dir="$build/artifacts/$1" start
  mkdir -p "$build/corpus/$name" "$dir"
  rm -f "$dir/last-run.rc"
  if [ ! -x "$bin" ]; then
    echo "$bin is missing (make fuzz builds it)" >"$dir/last-run.log"
    echo 127 >"$dir/last-run.rc"; echo 0 >"$dir/last-run.secs"; return
  fi
  start=$(date +%s)
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$build/corpus/$name" "fuzz/corpus/$name" >"$dir/last-run.log" 2>&1
  echo $? >"$dir/last-run.rc"
  echo $(( $(date +%s) - start )) >"$dir/last-run.secs"
}

running=0
for name in $targets; do
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  run_one "$name" &
  running=$((running + 1))
done
wait

failed=()
ran=0
for name in $targets; do
  dir="$build/artifacts/$name"; log="$dir/last-run.log"
  rc=$(cat "$dir/last-run.rc" 2>/dev/null || echo 1)
  took=$(cat "$dir/last-run.secs" 2>/dev/null || echo 0)
  ran=$((ran + 1))
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  corpus=$(ls "$build/corpus/$name" 2>/dev/null | wc -l)
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $name: FAILED (exit $rc) after ${execs:-?} executions in ${took} s; the report:" >&2
    # The first report: what broke, the top of its stack, and where the input was saved.
    awk '/FUZZ_CHECK failed|runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|is missing|uncaught exception|terminate called/ && !shown { shown = 1; frames = 0 }
         shown && frames < 12 && !/in fuzzer::|__sanitizer|libc_start|_start$/ { print; frames++ }
         /Test unit written to/ { print }' "$log" | head -30 | cut -c1-240 >&2
    failed+=("$name")
  else
    echo "fuzz: $name: ${execs:-?} executions in ${took} s ($(( ${execs:-0} / (took > 0 ? took : 1) ))/s), coverage ${cov:-?} edges, corpus $build/corpus/$name: $corpus inputs"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of $ran targets failed: ${failed[*]} (logs: $build/artifacts/<name>/last-run.log)" >&2
  exit 1
fi
echo "fuzz: all $ran targets ran ${seconds} s each without a crash"
