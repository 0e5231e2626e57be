"""Turns a results file into docs/benchmarks.md: medians with min-max, ratios to client-go,
to the best Python peer and to the floors, and kubeops' targets as PASS/MISS.

    .venv/bin/python bench/report.py [RESULTS_JSON] [--out docs/benchmarks.md]

Without RESULTS_JSON the newest full run in bench/results/ is used.  Everything below
the analysis marker in the existing file is hand-written and kept as it is.
"""

# ruff: noqa: RUF001 -- the report prints multiplication signs and en dashes on purpose
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MARKER = "<!-- analysis: written by hand below this line; bench/report.py keeps it -->"
KUBEOPS_ROWS = {
    "S7": ["kubeops"],
    "S7-startup": ["kubeops"],
    "S8": ["kubeops-inspect"],
    "S9": ["kubeops-respond"],
}

Results = dict[str, Any]


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit in ("objects/s", "µs"):
        return f"{value:,.0f}"
    if unit == "MiB":
        return f"{value:,.1f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "–"
    return f"{value / reference:.2f}×"


class Scenario:
    """One scenario's medians and the references its ratios are taken against."""

    def __init__(self, key: str, entry: dict[str, Any], contenders: dict[str, Any]) -> None:
        self.key = key
        self.entry = entry
        self.contenders = contenders
        self.summary: dict[str, Any] = entry.get("summary", {})
        self.unit: str = entry["unit"]
        self.lower_better = entry["better"] == "lower"

    def median(self, name: str) -> float | None:
        stats = self.summary.get(name, {})
        return stats.get("median") if stats.get("n") else None

    def target_value(self, name: str) -> float | None:
        """What targets judge: the median, except S3, where all samples are pooled."""
        if self.key in ("S3", "S9"):
            pooled = self.summary.get(name, {}).get("pooled")
            return pooled["p99"] if pooled else None
        return self.median(name)

    def group(self, group: str) -> list[str]:
        return [n for n in self.summary if self.contenders.get(n, {}).get("group") == group]

    def best_peer(self) -> tuple[str | None, float | None]:
        """The best figure among the Python peers (the lightest, the fastest)."""
        values: list[tuple[str, float]] = []
        for name in self.group("peer"):
            value = self.target_value(name)
            if value is not None:
                values.append((name, value))
        if not values:
            return None, None
        pick = min if self.lower_better else max
        return pick(values, key=lambda nv: nv[1])

    def label(self, name: str | None) -> str:
        if name is None:
            return "–"
        return str(self.contenders.get(name, {}).get("label", name))


# -- targets ------------------------------------------------------------------------------------

Check = Callable[[Scenario, str], tuple[bool | None, str]]


def _against(reference: str, limit: float, lower: bool) -> Check:
    def check(s: Scenario, name: str) -> tuple[bool | None, str]:
        value, ref = s.target_value(name), s.target_value(reference)
        if value is None or not ref:
            return None, f"no {s.label(reference)} figure"
        ratio = value / ref
        ok = ratio <= limit if lower else ratio >= limit
        return ok, f"{ratio:.2f}× {s.label(reference)}"

    return check


def _absolute(limit: float) -> Check:
    def check(s: Scenario, name: str) -> tuple[bool | None, str]:
        value = s.target_value(name)
        if value is None:
            return None, "no figure"
        return value <= limit, f"{_fmt(value, s.unit)} {s.unit}"

    return check


def _vs_best_peer(factor: float) -> Check:
    def check(s: Scenario, name: str) -> tuple[bool | None, str]:
        value = s.target_value(name)
        peer, best = s.best_peer()
        if value is None or best is None:
            return None, "no peer figure"
        advantage = best / value if s.lower_better else value / best
        return advantage >= factor, f"{advantage:.2f}× better than {s.label(peer)}"

    return check


def _faster_than(reference: str) -> Check:
    def check(s: Scenario, name: str) -> tuple[bool | None, str]:
        value, ref = s.target_value(name), s.target_value(reference)
        if value is None or not ref:
            return None, f"no {s.label(reference)} figure"
        return value < ref, f"{value / ref:.2f}× {s.label(reference)}"

    return check


def _linear(s: Scenario, name: str) -> tuple[bool | None, str]:
    rows = growth(s.entry.get("by_size", {}).get(name, {}))
    if len(rows) < 3:
        return None, "needs three sizes (two slopes to compare)"
    steps = [f"{what} {step}" for what in ("RSS", "sync") if (step := _step(rows, what))]
    if steps:
        return False, "; ".join(steps)
    return True, (
        f"added per Pod: {', '.join(_fmt(r['rss_added_kib'], 'KiB') for r in rows[1:])} KiB, "
        f"{', '.join(_fmt(r['sync_added_us'], 'µs') for r in rows[1:])} µs"
    )


Target = Check | tuple[Check, list[str]]  # a check, or a check and the kubeops rows it judges
ASYNC_SYNC = ["kubeops-async", "kubeops-sync"]
TARGETS: dict[str, list[Target]] = {
    "S1": [_against("floor-python", 1.1, lower=True), _vs_best_peer(2.0)],
    "S2": [_against("floor-python", 1.3, lower=True)],
    "S3": [_absolute(100.0), _against("client-go", 1.5, lower=True)],
    "S4": [_against("client-go", 0.9, lower=False), _vs_best_peer(2.0)],
    "S5": [_against("client-go", 1.3, lower=True)],
    "S6": [
        (_against("client-go", 1.0, lower=True), ASYNC_SYNC),
        (_against("client-go", 2.0, lower=True), ["kubeops-async-dict"]),
    ],
    "S6-scale": [
        (_against("client-go", 1.0, lower=True), ["kubeops-async"]),
        (_against("client-go", 2.0, lower=True), ["kubeops-async-dict"]),
        (_linear, ["kubeops-async", "kubeops-async-dict"]),
    ],
    "S7": [_against("kubectl", 1.2, lower=True)],
    "S7-startup": [_absolute(150.0)],
    "S8": [_faster_than("popeye"), _absolute(10_000.0)],
    "S9": [_absolute(1_000.0)],
}


def _lighter_than_every_peer(s: Scenario, name: str) -> tuple[bool | None, str]:
    value = s.target_value(name)
    peer, nearest = s.best_peer()  # the lightest peer is the one to beat
    if value is None or nearest is None:
        return None, "no peer figure"
    return nearest / value >= 2.0, f"{nearest / value:.2f}× lighter than {s.label(peer)}"


# Targets since replaced, so that older results files still render as they were.
RETIRED: dict[str, Check] = {
    "≤ 1.25× client-go's time": _against("client-go", 1.25, lower=True),
    "≤ 1.5× client-go's RSS": _against("client-go", 1.5, lower=True),
    "≥ 2× lighter than any Python peer": _lighter_than_every_peer,
    "≤ 1.5× kubectl": _against("kubectl", 1.5, lower=True),
}


def evaluate(results: Results) -> list[dict[str, Any]]:
    """Every (scenario, target, kubeops row): PASS, MISS or n/a, and the figure behind it."""
    rows = []
    for key, entry in results["scenarios"].items():
        scenario = Scenario(key, entry, results["contenders"])
        default = KUBEOPS_ROWS.get(key, ASYNC_SYNC)
        for text, target in zip(entry["targets"], TARGETS.get(key, []), strict=False):
            check, names = target if isinstance(target, tuple) else (target, default)
            if text in RETIRED:
                check, names = RETIRED[text], default
            for name in names:
                if name not in scenario.summary and name not in entry.get("skipped", {}):
                    continue
                ok, figure = check(scenario, name)
                if name in entry.get("skipped", {}):
                    ok, figure = None, entry["skipped"][name]
                verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
                rows.append(
                    {
                        "scenario": key,
                        "target": text,
                        "client": scenario.label(name),
                        "verdict": verdict,
                        "figure": figure,
                    }
                )
    return rows


# -- growth (S6-scale) --------------------------------------------------------------------------

# An interval adding this much more per Pod than the one before it is a step.  RSS
# repeats within 1 %; a sync time within ~10 %, which a slope between two sizes doubles.
STEP = {"RSS": 1.25, "sync": 1.5}


def growth(sizes: dict[str, Any]) -> list[dict[str, Any]]:
    """Per size: RSS and sync time per Pod, and what each Pod added since the size before
    (the slope, which a fixed start-up cost does not blur)."""
    rows: list[dict[str, Any]] = []
    for size_text in sorted(sizes, key=int):
        stats = sizes[size_text]
        if not stats.get("n"):
            continue
        n = int(size_text)
        rss = float(stats["median"])
        sync = float(stats["sync_seconds"]["median"])
        row: dict[str, Any] = {
            "size": n,
            "rss_mib": rss,
            "sync_s": sync,
            "rss_per_pod_kib": rss * 1024 / n,
            "sync_per_pod_us": sync * 1e6 / n,
            "rss_added_kib": None,
            "sync_added_us": None,
        }
        if rows:
            before = rows[-1]
            added = n - before["size"]
            row["rss_added_kib"] = (rss - before["rss_mib"]) * 1024 / added
            row["sync_added_us"] = (sync - before["sync_s"]) * 1e6 / added
        rows.append(row)
    return rows


def _step(rows: list[dict[str, Any]], what: str) -> str:
    """Where the cost per added Pod jumps by more than ``STEP[what]`` from one interval to the next."""
    field = "rss_added_kib" if what == "RSS" else "sync_added_us"
    for before, after in itertools.pairwise(rows[1:]):
        a, b = before[field], after[field]
        if a is not None and b is not None and a > 0 and b > STEP[what] * a:
            return (
                f"step at {before['size']:,}→{after['size']:,}: "
                f"+{(b / a - 1) * 100:.0f} % per added Pod"
            )
    return ""


# -- markdown -----------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _scenario_section(key: str, entry: dict[str, Any], results: Results) -> list[str]:
    s = Scenario(key, entry, results["contenders"])
    unit = s.unit
    direction = "lower is better" if s.lower_better else "higher is better"
    lines = [f"### {key} — {entry['title']}", ""]
    lines.append(
        f"{entry['metric']} in {unit} ({direction}); targets: {'; '.join(entry['targets'])}."
    )
    lines.append("")
    go_ref = (
        "kubectl" if key in {"S7", "S7-startup"} else ("popeye" if key == "S8" else "client-go")
    )
    _, best = s.best_peer()
    floor = s.median("floor-python")
    server = s.median("floor-server")
    ratios = key != "S9"  # S9 has no client-go or floor row: only the watch loop to compare
    header = [
        "client",
        f"median (min–max) {unit}",
        f"× {s.label(go_ref)}" if go_ref in s.summary else "× client-go",
        "× best Python peer",
        "× Python floor",
    ]
    if not ratios:
        header = ["client", f"p99 per run, median (min–max) {unit}", "× the watch loop"]
    if server is not None:
        header.append("× server floor")
    if key == "S3":
        header += ["pooled p50 / p99 / max ms", "events (missed)"]
    if key == "S9":
        header += [
            "pooled p50 / p99 / max ms",
            "probes (missed)",
            "storm events/min",
            "CPU % of a core",
            "RSS MiB",
        ]
    header += ["process wall s", "peak RSS MiB"]
    rows = []
    for name, stats in s.summary.items():
        if not stats.get("n"):
            rows.append(
                [s.label(name), f"failed ({stats.get('failed')} of {stats.get('runs')})"]
                + ["–"] * (len(header) - 2)
            )
            continue
        value = stats["median"]
        cell = f"**{_fmt(value, unit)}** ({_fmt(stats['min'], unit)}–{_fmt(stats['max'], unit)})"
        if stats.get("failed"):
            cell += f", {stats['failed']} failed"
        row = [
            s.label(name),
            cell,
            _ratio(value, s.median(go_ref)),
            _ratio(value, best),
            _ratio(value, floor),
        ]
        if not ratios:
            row = [s.label(name), cell, _ratio(value, best)]
        if server is not None:
            row.append(_ratio(value, server))
        if key == "S3":
            pooled = stats.get("pooled") or {}
            row.append(
                f"{_fmt(pooled.get('p50'), 'ms')} / {_fmt(pooled.get('p99'), 'ms')} / {_fmt(pooled.get('max'), 'ms')}"
            )
            row.append(f"{pooled.get('events', 0):,} ({pooled.get('missed', 0):,})")
        if key == "S9":
            pooled = stats.get("pooled") or {}
            process = stats.get("process") or {}
            row.append(
                f"{_fmt(pooled.get('p50'), 'ms')} / {_fmt(pooled.get('p99'), 'ms')} / {_fmt(pooled.get('max'), 'ms')}"
            )
            row.append(f"{pooled.get('writes', 0):,} ({pooled.get('missed', 0):,})")
            row.append(_fmt(process.get("storm_per_minute", {}).get("median"), "objects/s"))
            row.append(_fmt(process.get("cpu_percent", {}).get("median"), "%"))
            row.append(_fmt(process.get("rss_mib", {}).get("median"), "MiB"))
        row.append(_fmt(stats.get("wall_seconds_median"), "s"))
        row.append(_fmt(stats.get("peak_rss_mib_median"), "MiB"))
        rows.append(row)
    lines += _table(header, rows)
    for name, reason in entry.get("skipped", {}).items():
        lines.append("")
        lines.append(f"- {s.label(name)}: {reason}")
    lines.append("")
    return lines


def chart_name(report: Path) -> str:
    """The S6-scale chart's file name, written next to the report."""
    return f"{report.stem}-s6-scale.svg"


def growth_chart(entry: dict[str, Any], contenders: dict[str, Any]) -> str:
    """S6-scale's medians as an SVG: RSS and sync time against the number of Pods."""
    from harness.chart import Panel, svg

    rss: dict[str, list[tuple[float, float]]] = {}
    sync: dict[str, list[tuple[float, float]]] = {}
    for name, sizes in entry.get("by_size", {}).items():
        label = str(contenders.get(name, {}).get("label", name))
        for row in growth(sizes):
            rss.setdefault(label, []).append((row["size"], row["rss_mib"]))
            sync.setdefault(label, []).append((row["size"], row["sync_s"]))
    return svg(
        [
            Panel("RSS after sync", "Pods in the cache", "MiB", rss),
            Panel("sync time", "Pods in the cache", "seconds", sync),
        ],
        caption="medians; generated by bench/report.py",
    )


def _scale_section(entry: dict[str, Any], results: Results, chart: str | None) -> list[str]:
    s = Scenario("S6-scale", entry, results["contenders"])
    by_size: dict[str, Any] = entry.get("by_size", {})
    sizes = sorted({int(n) for per in by_size.values() for n in per})
    reps = entry["params"].get("reps", [])
    lines = [f"### S6-scale — {entry['title']}", ""]
    lines.append(
        f"RSS after sync in MiB and sync time (lower is better), the S6 runner of each client "
        f"at {', '.join(f'{n:,}' for n in sizes)} Pods"
        + (f" ({', '.join(str(r) for r in reps)} repetitions)" if reps else "")
        + f"; targets: {'; '.join(entry['targets'])}."
    )
    if "stopped_at" in entry["params"]:
        lines.append(
            f"**Stopped before {entry['params']['stopped_at']:,} Pods**: "
            f"{entry['params'].get('stopped_because', '')}."
        )
    peer = entry["params"].get("best_peer")
    if peer:
        lines.append(
            f"Python peer: {s.label(peer)} ({entry['params'].get('best_peer_reason', '')})."
        )
    lines.append("")
    if chart:
        lines += [f"![S6-scale: RSS and sync time against the number of Pods]({chart})", ""]
    header = ["client"]
    header += [f"RSS MiB at {n:,}" for n in sizes]
    header += [f"× client-go at {n:,}" for n in sizes[-1:]]
    header += [f"sync s at {n:,}" for n in sizes]
    rows = []
    for name, per in by_size.items():
        row = [s.label(name)]
        for n in sizes:
            stats = per.get(str(n), {})
            row.append(
                f"**{_fmt(stats['median'], 'MiB')}** ({_fmt(stats['min'], 'MiB')}–{_fmt(stats['max'], 'MiB')})"
                if stats.get("n")
                else ("failed" if stats else "–")
            )
        row.append(_ratio(s.median(name), s.median("client-go")))
        for n in sizes:
            seconds = per.get(str(n), {}).get("sync_seconds", {})
            row.append(_fmt(seconds.get("median"), "s") if seconds.get("n") else "–")
        rows.append(row)
    lines += _table(header, rows)
    lines += [
        "",
        "Growth: the cost per Pod at each size (fixed costs, such as the interpreter, spread",
        "over the Pods) and what each added Pod cost since the size before (the slope). Cost",
        "grows linearly when the slope holds; a slope more than "
        f"{(STEP['RSS'] - 1) * 100:.0f} % (RSS) or {(STEP['sync'] - 1) * 100:.0f} % (sync time,",
        "noisier) above the one before it is flagged as a step.",
        "",
    ]
    header = ["client"]
    header += [f"KiB per Pod at {n:,}" for n in sizes]
    header += [f"KiB per added Pod {a:,}→{b:,}" for a, b in itertools.pairwise(sizes)]
    header += [f"µs sync per added Pod {a:,}→{b:,}" for a, b in itertools.pairwise(sizes)]
    header += ["growth"]
    rows = []
    for name, per in by_size.items():
        found = {r["size"]: r for r in growth(per)}
        row = [s.label(name)]
        row += [_fmt(found[n]["rss_per_pod_kib"], "KiB") if n in found else "–" for n in sizes]
        for what, unit in (("rss_added_kib", "KiB"), ("sync_added_us", "µs")):
            for n in sizes[1:]:
                value = found.get(n, {}).get(what)
                row.append(_fmt(value, unit) if value is not None else "–")
        steps = [f"{w} {step}" for w in ("RSS", "sync") if (step := _step(list(found.values()), w))]
        if len(found) < 3:
            verdict = "– (needs three sizes)"
        else:
            verdict = "**step**: " + "; ".join(steps) if steps else "linear"
        row.append(verdict)
        rows.append(row)
    lines += _table(header, rows)
    for name, reason in entry.get("skipped", {}).items():
        lines.append("")
        lines.append(f"- {s.label(name)}: {reason}")
    lines.append("")
    return lines


def render(results: Results, source: str, chart: str | None = None) -> str:
    m = results["machine"]
    versions = results["versions"]
    load = m.get("load_start", {})
    load_end = m.get("load_end", {})
    lines = [
        "# Benchmarks",
        "",
        "kubeops against client-go, the Python peers and two floors, on a testenv cluster the",
        "run starts itself. Regenerate with `make bench` (everything, ~106 min) or",
        f"`.venv/bin/python bench/report.py {source}` (tables only). Generated from `{source}`;",
        "the tables are not edited by hand.",
        "",
        "## How it is measured",
        "",
        "- Each measurement is one process (`bench/runners/*.py`, the Go program in `bench/clientgo`),",
        "  started by a small spawner that takes its peak RSS from the kernel (`wait4`). The figure is",
        "  timed inside the process around the scenario only; *process wall* (interpreter start,",
        "  imports, client set-up included) is reported apart. CLI scenarios (S7, S8) time the whole process.",
        "- The Python peers run in their own virtualenvs with every package pinned",
        "  (`bench/requirements/`); client-go is pinned by `bench/clientgo/go.mod` to the release",
        "  testenv runs. Client-side rate limits are off for every client; all speak JSON.",
        "- kubeops runs from its checkout compiled to bytecode first, as pip leaves an install",
        "  (every peer's virtualenv is compiled by pip).",
        "- Clients run in alternating order (reversed every other round); medians are quoted with",
        f"  min–max. {results['plan']['reps']} repetitions, except S8 ({results['plan'].get('s8_reps', results['plan']['reps'])}: Popeye takes"
        " ~35 s a run)"
        f" and S3: {results['plan']['s3_reps']} × "
        f"{results['plan']['s3_seconds']:.0f} s per client ({results['plan']['s3_reps'] * results['plan']['s3_seconds']:.0f} s of writes each),",
        "  targets judged on the p99 of all its samples pooled.",
        "- Floors: *Python floor* = aiohttp + orjson doing the same requests with nothing else;",
        "  *server floor* = curl fetching the same GETs (gzip accepted, as most clients do) to",
        "  /dev/null, the sum of curl's own `time_total`.",
        "- S1–S5 run on an API-only cluster (nothing else on the two cores); S6–S8 on a full",
        f"  cluster with {results['plan']['nodes']} kwok nodes, Pods created with `spec.nodeName` set and",
        "  waited for until Running.",
    ]
    if "S9" in results["scenarios"]:
        lines += [
            "- S9 runs on an API-only cluster of its own: each contender (`kubeops respond run` with",
            "  one rule, or a `kubernetes` watch loop posting the same webhook) is started as a",
            "  process; the harness writes the probe ConfigMap, receives the webhook and writes",
            "  the storm, so the lag is taken on one clock from just before the write is sent.",
            "  CPU is the contender's over the measured window (`/proc`), RSS at its end.",
        ]
    if "kubeops-async-dict" in results["contenders"]:
        lines += [
            "- kubeops' informers keep their objects in the compact store unless the row says",
            "  *dict* (plain dicts, as before the compact store). S6-scale runs S6's runner again",
            "  for both stores, client-go and the lightest Python peer of S6, at each size in turn,",
            "  Pods added between sizes (kwok writes their statuses 16 at a time).",
        ]
    lines += [
        "",
        "## This run",
        "",
        f"- {results['mode']} run started {results['started']}, {results['duration_seconds'] / 60:.1f} min in all"
        f" ({results.get('prepare_seconds', 0):.0f} s of it preparing venvs and Go programs).",
        f"- {m['cpu_model']}, {m['cores']} cores, {m['memory_bytes'] / 2**30:.0f} GiB, Linux {m['kernel']}, Python {m['python']}.",
        f"- Load average {load.get('loadavg_1m', 0):.2f} at the start, {load_end.get('loadavg_1m', 0):.2f} at the end"
        " (the machine is shared; above ~1 other work was competing).",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        "",
    ]
    setup = results.get("setup", {})
    if setup:
        parts = []
        for key, value in setup.items():
            if isinstance(value, dict):
                details = ", ".join(
                    f"{k.replace('_', ' ')} {v:.1f}" if isinstance(v, float) else f"{k} {v:,}"
                    for k, v in value.items()
                )
                parts.append(f"{key.replace('_', ' ')}: {details}")
            else:
                parts.append(f"{key.replace('_', ' ')}: {value:.1f} s")
        lines += ["- Set-up (seconds): " + "; ".join(parts) + ".", ""]
    lines += ["## kubeops' targets", ""]
    verdicts = evaluate(results)
    lines += _table(
        ["scenario", "target", "client", "result", "figure"],
        [
            [v["scenario"], v["target"], v["client"], f"**{v['verdict']}**", v["figure"]]
            for v in verdicts
        ],
    )
    lines += ["", "## Results", ""]
    for key, entry in results["scenarios"].items():
        if key in ("S10", "S11", "S12"):
            continue  # their own parts, between markers (harness.s1x_report), added by write()
        if key == "S6-scale":
            lines += _scale_section(entry, results, chart)
        else:
            lines += _scenario_section(key, entry, results)
    return "\n".join(lines) + "\n"


def _source(results_path: Path) -> str:
    try:
        return str(results_path.resolve().relative_to(REPO))
    except ValueError:
        return str(results_path)


def _s10_part(results: Results, results_path: Path, out: Path) -> str:
    """S10's part of the report, its growth chart written next to ``out``."""
    from harness import s10_report

    chart = s10_report.chart_name(out)
    entry = results["scenarios"]["S10"]
    (out.parent / chart).write_text(
        s10_report.growth_chart(entry, "kubeops sync run", "floor (no engine)")
    )
    return "\n".join(s10_report.section(results, _source(results_path), chart))


def write(results: Results, results_path: Path, out: Path) -> None:
    """Regenerate ``out`` from ``results``, keeping the hand-written analysis below the marker
    (and S10's part of the report when ``results`` has no S10)."""
    from harness import s10_report

    source = _source(results_path)
    chart = None
    scale = results["scenarios"].get("S6-scale")
    if scale and scale.get("by_size"):
        chart = chart_name(out)
        (out.parent / chart).write_text(growth_chart(scale, results["contenders"]))
    text = render(results, source, chart)
    previous = out.read_text() if out.exists() else ""
    if "S10" in results["scenarios"]:
        part = _s10_part(results, results_path, out)
    else:
        part = s10_report.kept(previous)
    if part:
        text += "\n" + part + "\n"
    part = (
        _s11_part(results, results_path) if "S11" in results["scenarios"] else _s11_kept(previous)
    )
    if part:
        text += "\n" + part + "\n"
    part = (
        _s12_part(results, results_path) if "S12" in results["scenarios"] else _s12_kept(previous)
    )
    if part:
        text += "\n" + part + "\n"
    analysis = (
        previous.split(MARKER, 1)[1] if MARKER in previous else "\n\n## Analysis\n\n(none yet)\n"
    )
    out.write_text(text + "\n" + MARKER + analysis)


def write_s10(results: Results, results_path: Path, out: Path) -> None:
    """Rewrite only S10's part of ``out`` (a targeted run: the rest is another run's)."""
    from harness import s10_report

    previous = out.read_text() if out.exists() else ""
    part = _s10_part(results, results_path, out)
    out.write_text(s10_report.splice(previous, part, MARKER))


def _s11_part(results: Results, results_path: Path) -> str:
    """S11's part of the report."""
    from harness import s11_report

    return "\n".join(s11_report.section(results, _source(results_path)))


def _s11_kept(previous: str) -> str:
    from harness import s10_report, s11_report

    return s10_report.kept(previous, s11_report.BEGIN, s11_report.END)


def write_s11(results: Results, results_path: Path, out: Path) -> None:
    """Rewrite only S11's part of ``out`` (a targeted run: the rest is another run's)."""
    from harness import s10_report, s11_report

    previous = out.read_text() if out.exists() else ""
    part = _s11_part(results, results_path)
    out.write_text(s10_report.splice(previous, part, MARKER, s11_report.BEGIN, s11_report.END))


def _s12_part(results: Results, results_path: Path) -> str:
    """S12's part of the report."""
    from harness import s12_report

    return "\n".join(s12_report.section(results, _source(results_path)))


def _s12_kept(previous: str) -> str:
    from harness import s10_report, s12_report

    return s10_report.kept(previous, s12_report.BEGIN, s12_report.END)


def write_s12(results: Results, results_path: Path, out: Path) -> None:
    """Rewrite only S12's part of ``out`` (a targeted run: the rest is another run's)."""
    from harness import s10_report, s12_report

    previous = out.read_text() if out.exists() else ""
    part = _s12_part(results, results_path)
    out.write_text(s10_report.splice(previous, part, MARKER, s12_report.BEGIN, s12_report.END))


def newest_full_run() -> Path:
    runs = sorted(
        p
        for p in (BENCH / "results").glob("*.json")
        if not p.name.startswith(("smoke-", "targeted-"))
    )
    if not runs:
        raise SystemExit("no results in bench/results/; run `make bench` first")
    return runs[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results", nargs="?", type=Path, help="a results JSON (default: the newest)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    path = args.results or newest_full_run()
    write(json.loads(path.read_text()), path, args.out)
    print(f"wrote {args.out} from {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
