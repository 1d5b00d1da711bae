#!/usr/bin/env python3
"""Checks the saga's end-to-end latency measure of a kbench run (statuses joined to send times).

    python3 bench/harness/check_saga_latency.py OUT_DIR [--max-late-share F]

OUT_DIR is the --out of a kbench run of the saga scenario with the kstreams contender and a latency
phase long enough to drain (--drain-seconds). For every run in OUT_DIR/logs it checks that the
latency CSV holds exactly one row per terminal status the latency phase's load generator expects
(`expected.terminal_statuses` of <prefix>-lat.json): a status whose order was never matched is not
written, so a missing row means the join lost it (or the status never became readable);
that every row's send time lies within the load generator's sending window; and that no status was
readable before its order was sent; and that no more than --max-late-share (0.5) of the statuses
became readable over a second after the load generator stopped (the observer that read orders and
statuses with one consumer held most of them until then: docs/benchmarks.md, 2026-12-04 evening;
an instance that far behind would fail it too). Exits 1 and says why on the first run that fails, 2 on bad use.
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402


def check_run(lat_json, csv_path, max_late_share):
    with open(lat_json) as f:
        load = json.load(f)
    expected = load["expected"]["terminal_statuses"]
    start = load["options"]["created_at_start"]
    stopped = start + int(load["sent"]["elapsed_s"] * 1000)
    end = stopped + 5000
    with open(csv_path) as f:
        rows = stats.parse_observer_csv(f.read())
    problems = []
    if len(rows) != expected:
        problems.append(f"{len(rows)} terminal statuses timed, {expected} expected")
    early = [r for r in rows if r[0] < r[2]]
    if early:
        problems.append(f"{len(early)} statuses readable before their order was sent (first: {early[0]})")
    outside = [r for r in rows if not (start - 5000 <= r[2] <= end)]
    if outside:
        problems.append(f"{len(outside)} send times outside the load generator's window "
                        f"[{start}, {end}] (first: {outside[0]})")
    late = sum(1 for r in rows if r[0] > stopped + 1000)
    if rows and late > max_late_share * len(rows):
        problems.append(f"{late} of {len(rows)} statuses readable over 1 s after the load stopped "
                        f"(more than {max_late_share:g} of them)")
    return problems


def main(argv):
    max_late_share = 0.5
    if len(argv) == 4 and argv[2] == "--max-late-share":
        try:
            max_late_share = float(argv[3])
        except ValueError:
            print(f"check_saga_latency: --max-late-share needs a number, not {argv[3]!r}", file=sys.stderr)
            return 2
    elif len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    runs = sorted(glob.glob(os.path.join(argv[1], "logs", "*-saga-*-lat.json")))
    if not runs:
        print(f"check_saga_latency: no saga latency phase in {argv[1]}/logs", file=sys.stderr)
        return 1
    failed = False
    for lat_json in runs:
        csv_path = lat_json[: -len("-lat.json")] + ".latency.csv"
        problems = check_run(lat_json, csv_path, max_late_share)
        name = os.path.basename(csv_path)
        if problems:
            failed = True
            print(f"check_saga_latency: {name}: " + "; ".join(problems), file=sys.stderr)
        else:
            print(f"check_saga_latency: {name}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
