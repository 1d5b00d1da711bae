"""Unit tests of the benchmark harness's parsing, statistics and report (no broker needed).

    python3 -m unittest discover -s bench/harness -p 'test_*.py'
"""

import json
import os
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check_saga_latency  # noqa: E402
import kbench  # noqa: E402
import report  # noqa: E402
import stats  # noqa: E402


class PercentileTest(unittest.TestCase):
    def test_linear_interpolation_like_numpy(self):
        data = [15, 20, 35, 40, 50]
        self.assertEqual(stats.percentile(data, 0), 15)
        self.assertEqual(stats.percentile(data, 100), 50)
        self.assertEqual(stats.percentile(data, 50), 35)
        self.assertAlmostEqual(stats.percentile(data, 40), 29.0)  # numpy.percentile(data, 40) == 29.0
        self.assertAlmostEqual(stats.percentile(list(range(1, 101)), 99), 99.01)

    def test_order_does_not_matter_and_single_values(self):
        self.assertEqual(stats.percentile([3, 1, 2], 50), 2)
        self.assertEqual(stats.percentile([7], 99), 7.0)
        self.assertIsNone(stats.percentile([], 50))

    def test_rejects_out_of_range(self):
        with self.assertRaises(ValueError):
            stats.percentile([1], 101)

    def test_median_skips_missing_runs(self):
        self.assertEqual(stats.median([3, None, 1, 2]), 2)
        self.assertEqual(stats.median([4, 1]), 2.5)
        self.assertIsNone(stats.median([None, None]))


class EventTest(unittest.TestCase):
    def test_parses_events(self):
        ev = stats.parse_event('{"event":"done","t_ms":1700000000123,"processed":5}\n')
        self.assertEqual(ev["event"], "done")
        self.assertEqual(ev["processed"], 5)
        self.assertIsNone(stats.parse_event("   \n"))

    def test_rejects_non_protocol_lines(self):
        for bad in ('hello', '[1,2]', '{"t_ms":1}', '{"event":3}', '{"event":"done","t_ms":"soon"}'):
            with self.assertRaises(stats.ProtocolError, msg=bad):
                stats.parse_event(bad)


class ProcTest(unittest.TestCase):
    STAT = ("4242 (java (weird) name) S 1 4242 4242 0 -1 4194560 12000 0 3 0 "
            "1500 250 0 0 20 0 40 0 123456 9999999 12345 18446744073709551615")

    def test_cpu_ticks_survive_parentheses_and_spaces_in_the_command(self):
        self.assertEqual(stats.cpu_ticks_from_proc_stat(self.STAT), 1750)

    def test_cpu_ticks_of_this_process_are_plausible(self):
        with open(f"/proc/{os.getpid()}/stat") as f:
            self.assertGreaterEqual(stats.cpu_ticks_from_proc_stat(f.read()), 0)

    def test_malformed_stat(self):
        with self.assertRaises(stats.ProtocolError):
            stats.cpu_ticks_from_proc_stat("4242 java S 1")
        with self.assertRaises(stats.ProtocolError):
            stats.cpu_ticks_from_proc_stat("4242 (java) S 1 2")

    def test_vm_hwm(self):
        self.assertEqual(stats.vm_hwm_kb("Name:\tx\nVmPeak:\t 900 kB\nVmHWM:\t  81234 kB\n"), 81234)
        self.assertIsNone(stats.vm_hwm_kb("Name:\tzombie\n"))
        with self.assertRaises(stats.ProtocolError):
            stats.vm_hwm_kb("VmHWM: lots\n")


class ObserverPriorityTest(unittest.TestCase):
    def run_sleeper(self, nice):
        with tempfile.TemporaryDirectory() as d:
            c = kbench.Contender(["sleep", "5"], os.path.join(d, "sleep.log"), nice=nice)
            try:
                return kbench.session_nice(c.proc.pid), os.getpriority(os.PRIO_PROCESS, c.proc.pid)
            finally:
                c.kill()

    def test_an_observer_runs_in_its_own_session_at_the_observer_priority(self):
        if os.geteuid() != 0 or kbench.session_nice(os.getpid()) is None:
            self.skipTest("needs root and a kernel with autogroups (the bench machine has both)")
        self.assertEqual(self.run_sleeper(kbench.OBSERVER_NICE), (kbench.OBSERVER_NICE, kbench.OBSERVER_NICE))
        self.assertEqual(self.run_sleeper(0), (0, os.getpriority(os.PRIO_PROCESS, 0)))

    def test_session_nice_of_a_missing_process_is_none(self):
        self.assertIsNone(kbench.session_nice(2 ** 22 + 12345))

    def test_a_nice_value_that_was_not_set_is_noticed(self):
        own = os.getpriority(os.PRIO_PROCESS, 0)
        self.assertTrue(kbench.nice_applied(os.getpid(), own))
        self.assertFalse(kbench.nice_applied(os.getpid(), own - 5 if own > -15 else own + 5))
        self.assertFalse(kbench.nice_applied(2 ** 22 + 12345, 0))


class ObserverTest(unittest.TestCase):
    def test_csv_and_latencies(self):
        rows = stats.parse_observer_csv("arrival_ms,partition,timestamp_ms\n1000,0,900\n1010,1,1005\n\n1020,0,1030\n")
        self.assertEqual(rows, [(1000, 0, 900), (1010, 1, 1005), (1020, 0, 1030)])
        # Only records stamped at or after the phase start; a reader ahead of the stamp counts as 0.
        self.assertEqual(stats.latencies_ms(rows, 1000), [5, 0])

    def test_csv_errors_name_the_line(self):
        with self.assertRaisesRegex(stats.ProtocolError, "line 2"):
            stats.parse_observer_csv("1,2,3\n1,2\n")
        with self.assertRaisesRegex(stats.ProtocolError, "line 1"):
            stats.parse_observer_csv("a,b,c\n")
        with self.assertRaisesRegex(stats.ProtocolError, "line 2"):
            stats.parse_observer_csv("1,2,3\narrival_ms,partition,timestamp_ms\n")

    def test_keyed_csv_decodes_keys(self):
        rows = stats.parse_keyed_observer_csv("arrival_ms,partition,timestamp_ms,key\n1000,0,900,o-1\n"
                                              "1010,2,905,a%2Cb%20c\n1020,1,910,\n")
        self.assertEqual(rows, [(1000, 0, 900, "o-1"), (1010, 2, 905, "a,b c"), (1020, 1, 910, "")])
        with self.assertRaisesRegex(stats.ProtocolError, "line 2"):
            stats.parse_keyed_observer_csv("1,2,3,k\n1,2,3\n")
        with self.assertRaisesRegex(stats.ProtocolError, "line 1"):
            stats.parse_keyed_observer_csv("1,x,3,k\n")

    def test_statuses_are_timed_from_their_orders_send_time(self):
        # o-1 is sent twice (a duplicate): its status answers the first send.
        sends = [(500, 0, 1000, "o-1"), (505, 1, 1002, "o-2"), (400, 2, 990, "o-early"), (1150, 0, 1140, "o-1")]
        statuses = [
            (1100, 0, 1090, "o-2"),     # a status may be read before its order by the other observer
            (1200, 1, 1150, "o-1"),
            (1300, 2, 1290, "o-lost"),  # its order was never observed: unmatched
            (1010, 0, 995, "o-early"),  # sent before the phase: not a row
            (999, 2, 950, "o-before"),  # stamped before the phase, order unseen: not unmatched either
        ]
        rows, unmatched = stats.join_send_times(statuses, sends, since_ms=1000)
        self.assertEqual(rows, [(1100, 0, 1002), (1200, 1, 1000)])
        self.assertEqual(unmatched, 1)
        self.assertEqual(stats.latencies_ms(rows, 1000), [98, 200])

    def test_latency_summary(self):
        s = stats.latency_summary(list(range(1, 101)))
        self.assertEqual(s["count"], 100)
        self.assertAlmostEqual(s["p50"], 50.5)
        self.assertAlmostEqual(s["p95"], 95.05)
        self.assertEqual(s["max"], 100)
        self.assertIsNone(stats.latency_summary([])["p99"])


class FailoverTest(unittest.TestCase):
    def test_latest_partition_to_resume_defines_the_failover(self):
        kill = 10_000
        rows = [
            (9_000, 0, 8_990), (9_100, 1, 9_090),      # before the kill
            (10_050, 0, 10_040),                        # partition 0 (survivor) goes on at once
            (10_500, 1, 9_500),                         # re-processed pre-kill record: not a resumption
            (16_000, 1, 10_100), (16_100, 1, 15_900),   # partition 1 resumes 6 s after the kill
        ]
        self.assertEqual(stats.failover_ms(rows, kill), 6_000)

    def test_no_resumption_is_none(self):
        rows = [(9_000, 0, 8_990), (9_100, 1, 9_090), (10_050, 0, 10_040)]
        self.assertIsNone(stats.failover_ms(rows, 10_000))
        self.assertIsNone(stats.failover_ms([], 10_000))


class ThroughputTest(unittest.TestCase):
    def test_rates(self):
        self.assertEqual(stats.throughput(200_000, 1_000, 3_000), 100_000)
        self.assertIsNone(stats.throughput(10, 5, 5))
        self.assertIsNone(stats.throughput(10, None, 5))
        self.assertAlmostEqual(stats.cpu_seconds_per_million(250, 100, 500_000), 5.0)
        self.assertIsNone(stats.cpu_seconds_per_million(None, 100, 5))
        self.assertEqual(stats.ratio(6, 3), 2)
        self.assertIsNone(stats.ratio(6, 0))
        self.assertIsNone(stats.ratio(None, 3))


def cell(tp, cpu, p99, rss):
    return {"throughput": tp, "cpu_s_per_m": cpu, "rss_mb": rss, "p50": p99 / 2, "p95": p99 * 0.9, "p99": p99,
            "rate": 1000, "runs": 3, "failed": 0}


class ReportTest(unittest.TestCase):
    def cells(self):
        return {
            ("stateless", "exactly_once_v2", "ceiling"): cell(200_000, 2.0, 50, 20),
            ("stateless", "exactly_once_v2", "kstreams"): cell(100_000, 4.0, 80, 30),
            ("stateless", "exactly_once_v2", "kafka-streams"): cell(50_000, 16.0, 120, 400),
            ("count", "at_least_once", "kstreams"): cell(80_000, 10.0, 90, 50),
            ("count", "at_least_once", "kafka-streams"): cell(40_000, 20.0, 60, 100),
        }

    def test_ratios_and_targets(self):
        comp = report.comparisons(self.cells())
        s = comp[("stateless", "exactly_once_v2")]
        self.assertAlmostEqual(s["throughput_vs_ks"], 2.0)
        self.assertAlmostEqual(s["per_cpu_vs_ks"], 4.0)       # 16 / 4 CPU s per M records
        self.assertAlmostEqual(s["vs_ceiling"], 0.5)
        self.assertEqual(s["targets"][">=3x KS per CPU s"], True)
        self.assertEqual(s["targets"][">=60% of ceiling"], False)
        self.assertEqual(s["targets"]["p99 < KS (EOS)"], True)
        self.assertEqual(s["targets"]["RSS <= 1/4 of KS"], True)
        c = comp[("count", "at_least_once")]
        self.assertEqual(c["targets"][">=3x KS per CPU s"], False)  # 2x
        self.assertNotIn("p99 < KS (EOS)", c["targets"])            # only asked under EOS
        self.assertIsNone(c["vs_ceiling"])                          # no ceiling cell

    def test_summaries_use_medians_of_successful_runs(self):
        runs = [{"throughput": 10, "latency": {"p99": 5}}, {"throughput": 30, "latency": {"p99": 7}},
                {"throughput": 20, "latency": {"p99": 100}}]
        s = report.summarize_runs(runs)
        self.assertEqual(s["throughput"], 20)
        self.assertEqual(s["p99"], 7)

    def test_tables_mark_missed_targets(self):
        comp = report.comparisons(self.cells())
        table = report.ratio_table(comp, ["stateless"], "exactly_once_v2")
        self.assertIn(">=60% of ceiling", table)
        self.assertIn("0.50x", table)

    def test_svg_is_well_formed_and_has_one_bar_per_value(self):
        values = {("a", "kstreams"): 10.0, ("a", "kafka-streams"): 5.0, ("b", "kstreams"): None}
        svg = report.bar_chart_svg("t <&>", ["a", "b"], ["kstreams", "kafka-streams"], values, "records/s")
        root = ET.fromstring(svg)
        bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{http://www.w3.org/2000/svg}title") is not None]
        self.assertEqual(len(bars), 2)
        self.assertIn("n/a", svg)

    def test_nice_ceiling(self):
        self.assertEqual(report.nice_ceiling(87_000), 100_000)
        self.assertEqual(report.nice_ceiling(130), 200)
        self.assertEqual(report.nice_ceiling(2.2), 2.5)
        self.assertEqual(report.nice_ceiling(1000), 1000)


class ReportFileTest(unittest.TestCase):
    def results(self):
        run = {"throughput": 1000.0, "cpu_s_per_m": 3.0, "rss_mb": 20.0, "rate": 500,
               "latency": {"p50": 10, "p95": 20, "p99": 30, "count": 100, "max": 40}}
        return {
            "meta": {"command": "kbench.py --smoke", "date": "2026-11-28", "duration_min": 1, "machine": "m",
                     "pinning": "none", "warmup": 0, "runs": 1, "records": 4000, "saga_orders": 1000,
                     "value_bytes": 100, "keys": 1000, "partitions": 4, "latency_seconds": 2, "smoke": True,
                     "restore_records": 100, "failover": {"rate": 1, "settle_s": 1, "settings": ["a=b"]}},
            "cells": [{"scenario": "stateless", "guarantee": "exactly_once_v2", "contender": c, "runs": [dict(run)]}
                      for c in ("ceiling", "kstreams", "kafka-streams")]
            + [{"scenario": "count", "guarantee": "exactly_once_v2", "contender": "kstreams",
                "runs": [{"error": "boom"}]}],
            "restore": [{"contender": "kstreams", "records": 100, "runs": [{"rate": 50.0, "seconds": 2.0}]}],
            "failover": [{"contender": "kstreams", "runs": [{"failover_ms": 12000}]}],
            "errors": [],
        }

    def test_report_replaces_only_its_section_and_writes_charts(self):
        with tempfile.TemporaryDirectory() as d:
            doc = os.path.join(d, "benchmarks.md")
            with open(doc, "w") as f:
                f.write("# Benchmarks\n\nhand-written intro\n\n" + kbench.BEGIN_MARK + "\nold\n" + kbench.END_MARK
                        + "\n\n## Micro\nkept\n")
            kbench.write_report(self.results(), doc)
            kbench.write_report(self.results(), doc)  # idempotent: still one section
            text = kbench.read_text(doc)
            self.assertEqual(text.count(kbench.BEGIN_MARK), 1)
            self.assertIn("hand-written intro", text)
            self.assertIn("## Micro\nkept", text)
            self.assertNotIn("\nold\n", text)
            self.assertIn("Smoke run", text)
            self.assertIn("count exactly_once_v2 kstreams: boom", text)
            self.assertIn("| kstreams | 12.0 s | 1/1 |", text)
            self.assertTrue(os.path.exists(os.path.join(d, "bench", "throughput-eos.svg")))
            self.assertTrue(os.path.exists(os.path.join(d, "bench", "latency-p99-eos.svg")))


class ArgsTest(unittest.TestCase):
    def test_smoke_shrinks_the_run(self):
        a = kbench.parse_args(["--smoke"])
        self.assertEqual((a.runs, a.warmup), (1, 0))
        self.assertLessEqual(a.records, 5000)
        self.assertEqual(a.failover_set, ["session.timeout.ms=10000", "transaction.timeout.ms=8000"])

    def test_unknown_scenario_is_an_error(self):
        with self.assertRaises(SystemExit):
            kbench.parse_args(["--scenarios", "stateless,nope"])

    def test_latency_rate_is_half_the_slower_processor_capped(self):
        bench = kbench.Bench.__new__(kbench.Bench)
        bench.a = kbench.parse_args(["--rate-cap", "20000"])
        self.assertEqual(bench.latency_rate("count", {"ceiling": 900_000, "kstreams": 100_000,
                                                       "kafka-streams": 30_000}), 15_000)
        self.assertEqual(bench.latency_rate("count", {"kstreams": 100_000, "kafka-streams": 90_000}), 20_000)
        self.assertEqual(bench.latency_rate("saga", {"kstreams": 3_000, "kafka-streams": 2_000}), 1_000)


class CheckSagaLatencyTest(unittest.TestCase):
    """check_saga_latency.py on a hand-made run: 4 expected statuses, load sent over [1000, 3000]."""

    def run_check(self, rows, expected=4, late_share=0.5):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "logs"))
            prefix = os.path.join(d, "logs", "kb1-1-saga-exa-kstreams")
            with open(prefix + "-lat.json", "w") as f:
                json.dump({"expected": {"terminal_statuses": expected},
                           "options": {"created_at_start": 1000}, "sent": {"elapsed_s": 2.0}}, f)
            with open(prefix + ".latency.csv", "w") as f:
                f.write("arrival_ms,partition,timestamp_ms\n")
                f.writelines(f"{a},0,{t}\n" for a, t in rows)
            return check_saga_latency.check_run(prefix + "-lat.json", prefix + ".latency.csv", late_share)

    def test_a_good_run_passes(self):
        self.assertEqual(self.run_check([(1200, 1000), (1900, 1500), (2600, 2400), (3300, 3000)]), [])

    def test_a_missing_status_is_reported(self):
        problems = self.run_check([(1200, 1000), (1900, 1500), (2600, 2400)])
        self.assertEqual(problems, ["3 terminal statuses timed, 4 expected"])

    def test_a_status_read_before_its_order_was_sent_is_reported(self):
        problems = self.run_check([(1200, 1000), (1400, 1500), (2600, 2400), (3300, 3000)])
        self.assertEqual(len(problems), 1)
        self.assertIn("1 statuses readable before their order was sent", problems[0])

    def test_a_send_time_outside_the_window_is_reported(self):
        problems = self.run_check([(1200, 1000), (1900, 1500), (2600, 2400), (99000, 90000)])
        self.assertTrue(any("outside the load generator's window" in p for p in problems), problems)

    def test_statuses_held_until_the_load_stopped_are_reported(self):
        # the 1-consumer observer's pattern: most statuses readable only after the load (t=3000) stopped
        problems = self.run_check([(1200, 1000), (4500, 1500), (4500, 2400), (4500, 3000)])
        self.assertEqual(problems, ["3 of 4 statuses readable over 1 s after the load stopped (more than 0.5 of them)"])
        self.assertEqual(self.run_check([(1200, 1000), (4500, 1500), (4500, 2400), (4500, 3000)], late_share=0.8),
                         [])

    def test_main_fails_without_a_saga_run_and_on_bad_arguments(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(check_saga_latency.main(["x", d]), 1)
            self.assertEqual(check_saga_latency.main(["x", d, "--max-late-share", "lots"]), 2)
            self.assertEqual(check_saga_latency.main(["x"]), 2)


if __name__ == "__main__":
    unittest.main()
