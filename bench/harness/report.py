"""The benchmark report: docs/benchmarks.md tables and SVG charts from the harness's results.json.

Pure functions of the results dictionary (see kbench.py for its shape), unit-tested by
test_harness.py. SVG is written by hand so the harness needs nothing beyond the Python standard library.
"""

import html

from stats import median, ratio

CONTENDERS = ("ceiling", "kstreams", "kafka-streams")
LABELS = {"ceiling": "raw librdkafka ceiling", "kstreams": "kstreams", "kafka-streams": "Kafka Streams 3.9.1"}
COLORS = {"ceiling": "#9e9e9e", "kstreams": "#1565c0", "kafka-streams": "#ef6c00"}
GUARANTEES = ("at_least_once", "exactly_once_v2")
SHORT = {"at_least_once": "ALOS", "exactly_once_v2": "EOS"}


def fmt(value, digits=0, unit=""):
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}{unit}"
    return f"{value:,.{digits}f}{unit}"


def summarize_runs(runs):
    """Medians over measured runs of every metric the report shows."""
    def med(key, sub=None):
        vals = []
        for r in runs:
            v = r.get(key)
            if sub is not None:
                v = (v or {}).get(sub)
            vals.append(v)
        return median(vals)

    return {
        "throughput": med("throughput"),
        "cpu_s_per_m": med("cpu_s_per_m"),
        "rss_mb": med("rss_mb"),
        "p50": med("latency", "p50"),
        "p95": med("latency", "p95"),
        "p99": med("latency", "p99"),
        "rate": med("rate"),
        "runs": len(runs),
        "failed": sum(1 for r in runs if r.get("error")),
    }


def comparisons(cells):
    """Per (scenario, guarantee): the ratios the issue asks for, from the medians of each contender.
    cells: {(scenario, guarantee, contender): summary}."""
    out = {}
    keys = sorted({(s, g) for s, g, _ in cells})
    for scenario, guarantee in keys:
        ks = cells.get((scenario, guarantee, "kstreams"))
        jv = cells.get((scenario, guarantee, "kafka-streams"))
        ce = cells.get((scenario, guarantee, "ceiling"))
        row = {
            "throughput_vs_ks": ratio(ks and ks["throughput"], jv and jv["throughput"]),
            # throughput per CPU second = 1e6 / cpu_s_per_m, so the ratio inverts.
            "per_cpu_vs_ks": ratio(jv and jv["cpu_s_per_m"], ks and ks["cpu_s_per_m"]),
            "vs_ceiling": ratio(ks and ks["throughput"], ce and ce["throughput"]),
            "p99_vs_ks": ratio(ks and ks["p99"], jv and jv["p99"]),
            "rss_vs_ks": ratio(ks and ks["rss_mb"], jv and jv["rss_mb"]),
        }
        row["targets"] = targets(scenario, guarantee, row)
        out[(scenario, guarantee)] = row
    return out


def targets(scenario, guarantee, row):
    """Issue 7's targets for one cell: name -> True/False/None (None: not measured or not applicable)."""
    def at_least(v, bound):
        return None if v is None else v >= bound

    def at_most(v, bound):
        return None if v is None else v <= bound

    t = {
        ">=3x KS per CPU s": at_least(row["per_cpu_vs_ks"], 3.0),
        "RSS <= 1/4 of KS": at_most(row["rss_vs_ks"], 0.25),
    }
    if guarantee == "exactly_once_v2":
        p = row["p99_vs_ks"]
        t["p99 < KS (EOS)"] = None if p is None else p < 1.0
    if scenario == "stateless":
        t[">=60% of ceiling"] = at_least(row["vs_ceiling"], 0.6)
    return t


def mark(flag):
    return "n/a" if flag is None else ("yes" if flag else "**no**")


def scenario_table(cells, scenarios, guarantee, unit_of):
    lines = [
        "| scenario | contender | throughput | CPU s / M records | p50 ms | p95 ms | p99 ms | latency at | peak RSS MB | runs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in scenarios:
        for contender in CONTENDERS:
            c = cells.get((scenario, guarantee, contender))
            if c is None:
                continue
            unit = unit_of(scenario)
            runs = f"{c['runs'] - c['failed']}/{c['runs']}"
            lines.append(
                f"| {scenario} | {LABELS[contender]} | {fmt(c['throughput'])} {unit}/s | {fmt(c['cpu_s_per_m'], 2)} | "
                f"{fmt(c['p50'])} | {fmt(c['p95'])} | {fmt(c['p99'])} | {fmt(c['rate'])} {unit}/s | "
                f"{fmt(c['rss_mb'])} | {runs} |")
    return "\n".join(lines)


def ratio_table(comp, scenarios, guarantee):
    lines = [
        "| scenario | kstreams / KS throughput | kstreams / KS per CPU second | kstreams / ceiling | "
        "p99 kstreams / KS | RSS kstreams / KS | targets missed |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for scenario in scenarios:
        row = comp.get((scenario, guarantee))
        if row is None:
            continue
        missed = [name for name, ok in row["targets"].items() if ok is False]
        unknown = [name for name, ok in row["targets"].items() if ok is None]
        verdict = ", ".join(missed) if missed else "none"
        if unknown:
            verdict += f" (not measured: {', '.join(unknown)})"
        lines.append(
            f"| {scenario} | {fmt(row['throughput_vs_ks'], 2, 'x')} | {fmt(row['per_cpu_vs_ks'], 2, 'x')} | "
            f"{fmt(row['vs_ceiling'], 2, 'x')} | {fmt(row['p99_vs_ks'], 2, 'x')} | {fmt(row['rss_vs_ks'], 2, 'x')} | "
            f"{verdict} |")
    return "\n".join(lines)


def bar_chart_svg(title, groups, series, values, unit, width=760, height=340):
    """A grouped bar chart: one group per entry of `groups`, one bar per entry of `series` (contender),
    values[(group, series)] -> number or None (drawn as 'n/a'). Returns the SVG text."""
    left, right, top, bottom = 70, 20, 40, 70
    plot_w = width - left - right
    plot_h = height - top - bottom
    present = [v for v in values.values() if v is not None]
    vmax = max(present) if present else 1.0
    vmax = nice_ceiling(vmax)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
    ]
    for i in range(5):
        v = vmax * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{axis_label(v)}</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
                 f'text-anchor="middle">{html.escape(unit)}</text>')
    group_w = plot_w / max(1, len(groups))
    bar_w = group_w * 0.8 / max(1, len(series))
    for gi, group in enumerate(groups):
        gx = left + gi * group_w + group_w * 0.1
        for si, name in enumerate(series):
            v = values.get((group, name))
            x = gx + si * bar_w
            if v is None:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - 4}" text-anchor="middle" '
                             f'font-size="9" fill="#777">n/a</text>')
                continue
            h = plot_h * v / vmax if vmax else 0
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                         f'fill="{COLORS.get(name, "#555")}"><title>{html.escape(name)}: {v:,.1f}</title></rect>')
        parts.append(f'<text x="{gx + group_w * 0.4:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                     f'{html.escape(group)}</text>')
    lx = left
    for name in series:
        parts.append(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{COLORS.get(name, "#555")}"/>')
        parts.append(f'<text x="{lx + 16}" y="{height - 12}">{html.escape(LABELS.get(name, name))}</text>')
        lx += 190
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def nice_ceiling(v):
    """The smallest 1/2/2.5/5 x 10^k that is >= v (v > 0), for a readable axis."""
    if v <= 0:
        return 1.0
    k = 1.0
    while k * 10 <= v:
        k *= 10
    while k > v:
        k /= 10
    for m in (1, 2, 2.5, 5, 10):
        if k * m >= v:
            return k * m
    return k * 10


def axis_label(v):
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def charts(cells, scenarios):
    """{file name: svg text}: throughput and p99 latency per scenario, one chart per guarantee."""
    out = {}
    for g in GUARANTEES:
        tp = {(s, c): cells[(s, g, c)]["throughput"] for s in scenarios for c in CONTENDERS if (s, g, c) in cells}
        if tp:
            out[f"throughput-{SHORT[g].lower()}.svg"] = bar_chart_svg(
                f"Throughput, {g} (records/s; saga: orders/s; median of runs)", scenarios, CONTENDERS, tp, "records/s")
        lat = {(s, c): cells[(s, g, c)]["p99"] for s in scenarios for c in CONTENDERS if (s, g, c) in cells}
        if any(v is not None for v in lat.values()):
            out[f"latency-p99-{SHORT[g].lower()}.svg"] = bar_chart_svg(
                f"End-to-end latency p99, {g} (ms, read_committed; lower is better)", scenarios, CONTENDERS, lat, "ms")
    return out
