"""Parsing and statistics of the benchmark harness (unit-tested by test_harness.py).

Everything here is pure: functions take text or numbers and return numbers, so the harness's
arithmetic can be checked without a broker. The protocol these parsers read is bench/harness/PROTOCOL.md.
"""

import json
import math
import urllib.parse


class ProtocolError(ValueError):
    """A contender or tool printed something the protocol does not allow."""


def percentile(values, p):
    """The p-th percentile (0 <= p <= 100) by linear interpolation between closest ranks
    (numpy's default). None for an empty input."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} outside [0, 100]")
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return float(data[0])
    rank = (len(data) - 1) * p / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def median(values):
    """The median of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return percentile(present, 50) if present else None


def parse_event(line):
    """One protocol event line -> dict with at least "event". Blank lines -> None.
    Raises ProtocolError for anything that is not a JSON object with a string "event"."""
    text = line.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProtocolError(f"not a JSON event line: {text[:120]!r} ({e})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("event"), str):
        raise ProtocolError(f"event line without an \"event\" string: {text[:120]!r}")
    for key in ("t_ms", "processed", "restored", "count", "records"):
        if key in obj and not isinstance(obj[key], (int, float)):
            raise ProtocolError(f"event {obj['event']}: {key} is not a number: {text[:120]!r}")
    return obj


def cpu_ticks_from_proc_stat(text):
    """utime + stime (clock ticks) from the text of /proc/<pid>/stat. The command name (field 2)
    is in parentheses and may itself contain spaces and parentheses, so fields are counted from
    the last ')'."""
    end = text.rfind(")")
    if end < 0:
        raise ProtocolError("malformed /proc/<pid>/stat: no ')'")
    fields = text[end + 2:].split()
    # After the command: state(3) ppid(4) ... utime is field 14, stime field 15 (1-based, man 5 proc).
    if len(fields) < 13:
        raise ProtocolError("malformed /proc/<pid>/stat: too few fields")
    return int(fields[11]) + int(fields[12])


def vm_hwm_kb(text):
    """Peak resident set size (VmHWM, kB) from the text of /proc/<pid>/status; None if absent
    (a process that already exited)."""
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise ProtocolError(f"malformed VmHWM line: {line!r}")
            return int(parts[1])
    return None


def _observer_rows(text, keyed):
    """Rows of an observer CSV: int triples, plus the percent-decoded key when `keyed`. The header
    line is skipped; a malformed row raises ProtocolError naming its line number."""
    header = "arrival_ms,partition,timestamp_ms" + (",key" if keyed else "")
    width = 4 if keyed else 3
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or (number == 1 and line.strip() == header):
            continue
        parts = line.split(",")
        if len(parts) != width:
            raise ProtocolError(f"observer csv line {number}: expected {width} fields: {line!r}")
        try:
            row = (int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            raise ProtocolError(f"observer csv line {number}: not integers: {line!r}") from None
        rows.append(row + (urllib.parse.unquote(parts[3]),) if keyed else row)
    return rows


def parse_observer_csv(text):
    """Rows of bench_observe's CSV (arrival_ms,partition,timestamp_ms) -> list of int triples."""
    return _observer_rows(text, keyed=False)


def parse_keyed_observer_csv(text):
    """Rows of bench_observe --key-column's CSV (arrival_ms,partition,timestamp_ms,key) -> list of
    (arrival, partition, timestamp, key) with the key percent-decoded."""
    return _observer_rows(text, keyed=True)


def join_send_times(statuses, sends, since_ms):
    """The saga's end-to-end rows: each terminal status (arrival, partition, _, order_id) of
    `statuses` timed from its order's send time (the `sends` rows: _, _, sent_at, order_id).
    Returns (rows, unmatched): rows (arrival, partition, sent_at) for the statuses whose order was
    sent at or after since_ms, in arrival order, as parse_observer_csv gives them; unmatched, the
    statuses stamped at or after since_ms whose order was never seen (an observer that missed
    records, or a status without its order). Two processes read the two topics: one process polling both once held the statuses
    back for as long as it was busy with the orders (docs/benchmarks.md, 2026-12-07)."""
    sent = {}
    for _, _, sent_at, key in sends:
        # A duplicate order (the load generator sends some twice) is dropped by the saga: its
        # status answers the first send.
        sent[key] = min(sent_at, sent.get(key, sent_at))
    rows, unmatched = [], 0
    for arrival, partition, stamped, key in statuses:
        if key not in sent:
            # A status stamped before the phase belongs to an order sent before it (not observed).
            unmatched += stamped >= since_ms
        elif sent[key] >= since_ms:
            rows.append((arrival, partition, sent[key]))
    return rows, unmatched


def latencies_ms(rows, since_ms):
    """End-to-end latencies (arrival - record timestamp) of the rows stamped at or after since_ms.
    Negative values (clock skew between writer and reader is impossible here: one machine) are
    kept as 0 so a percentile never goes below zero."""
    return [max(0, arrival - ts) for arrival, _, ts in rows if ts >= since_ms]


def latency_summary(values):
    """p50/p95/p99/max and the count of a list of latencies (ms)."""
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def failover_ms(rows, kill_ms):
    """Fail-over time after a SIGKILL at kill_ms: for every output partition that received records,
    the first arrival of a record stamped after the kill; the latest of those minus kill_ms.
    None when some partition that had output before the kill never receives a post-kill record
    (output did not resume), or when there are no rows."""
    seen = set()
    resumed = {}
    for arrival, partition, ts in rows:
        seen.add(partition)
        if ts > kill_ms and (partition not in resumed or arrival < resumed[partition]):
            resumed[partition] = arrival
    if not seen or seen - set(resumed):
        return None
    return max(resumed.values()) - kill_ms


def throughput(records, first_ms, done_ms):
    """Records per second between the first and the done events."""
    if done_ms is None or first_ms is None or done_ms <= first_ms:
        return None
    return records * 1000.0 / (done_ms - first_ms)


def cpu_seconds_per_million(cpu_ticks_delta, ticks_per_second, records):
    if cpu_ticks_delta is None or records <= 0:
        return None
    return cpu_ticks_delta / ticks_per_second / records * 1e6


def ratio(a, b):
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b
