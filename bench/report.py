"""Turns a results file into docs/benchmarks.md: medians with min-max, ratios to client-go,
to the best Python peer and to the floors, and kubeops' targets as PASS/MISS.

    .venv/bin/python bench/report.py [RESULTS_JSON] [--out docs/benchmarks.md]

Without RESULTS_JSON the newest full run in bench/results/ is used.  Everything below
the analysis marker in the existing file is hand-written and kept as it is.
"""

# ruff: noqa: RUF001 -- the report prints multiplication signs and en dashes on purpose
from __future__ import annotations

import argparse
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
}

Results = dict[str, Any]


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit in ("objects/s", "µs"):
        return f"{value:,.0f}"
    if unit == "MiB":
        return f"{value:,.1f}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
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
        if self.key == "S3":
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


def _vs_every_peer(factor: float) -> Check:
    def check(s: Scenario, name: str) -> tuple[bool | None, str]:
        value = s.target_value(name)
        peer, nearest = s.best_peer()  # the lightest peer is the one to beat
        if value is None or nearest is None:
            return None, "no peer figure"
        advantage = nearest / value
        return advantage >= factor, f"{advantage:.2f}× lighter than {s.label(peer)}"

    return check


def _faster_than(reference: str) -> Check:
    def check(s: Scenario, name: str) -> tuple[bool | None, str]:
        value, ref = s.target_value(name), s.target_value(reference)
        if value is None or not ref:
            return None, f"no {s.label(reference)} figure"
        return value < ref, f"{value / ref:.2f}× {s.label(reference)}"

    return check


TARGETS: dict[str, list[Check]] = {
    "S1": [_against("floor-python", 1.1, lower=True), _vs_best_peer(2.0)],
    "S2": [_against("client-go", 1.25, lower=True)],
    "S3": [_absolute(100.0), _against("client-go", 1.5, lower=True)],
    "S4": [_against("client-go", 0.9, lower=False), _vs_best_peer(2.0)],
    "S5": [_against("client-go", 1.3, lower=True)],
    "S6": [_against("client-go", 1.5, lower=True), _vs_every_peer(2.0)],
    "S7": [_against("kubectl", 1.5, lower=True)],
    "S7-startup": [_absolute(150.0)],
    "S8": [_faster_than("popeye"), _absolute(10_000.0)],
}


def evaluate(results: Results) -> list[dict[str, Any]]:
    """Every (scenario, target, kubeops row): PASS, MISS or n/a, and the figure behind it."""
    rows = []
    for key, entry in results["scenarios"].items():
        scenario = Scenario(key, entry, results["contenders"])
        names = KUBEOPS_ROWS.get(key, ["kubeops-async", "kubeops-sync"])
        for text, check in zip(entry["targets"], TARGETS.get(key, []), strict=False):
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
    header = [
        "client",
        f"median (min–max) {unit}",
        f"× {s.label(go_ref)}" if go_ref in s.summary else "× client-go",
        "× best Python peer",
        "× Python floor",
    ]
    if server is not None:
        header.append("× server floor")
    if key == "S3":
        header += ["pooled p50 / p99 / max ms", "events (missed)"]
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
        if server is not None:
            row.append(_ratio(value, server))
        if key == "S3":
            pooled = stats.get("pooled") or {}
            row.append(
                f"{_fmt(pooled.get('p50'), 'ms')} / {_fmt(pooled.get('p99'), 'ms')} / {_fmt(pooled.get('max'), 'ms')}"
            )
            row.append(f"{pooled.get('events', 0):,} ({pooled.get('missed', 0):,})")
        row.append(_fmt(stats.get("wall_seconds_median"), "s"))
        row.append(_fmt(stats.get("peak_rss_mib_median"), "MiB"))
        rows.append(row)
    lines += _table(header, rows)
    for name, reason in entry.get("skipped", {}).items():
        lines.append("")
        lines.append(f"- {s.label(name)}: {reason}")
    lines.append("")
    return lines


def render(results: Results, source: str) -> str:
    m = results["machine"]
    versions = results["versions"]
    load = m.get("load_start", {})
    load_end = m.get("load_end", {})
    lines = [
        "# Benchmarks",
        "",
        "kubeops against client-go, the Python peers and two floors, on a testenv cluster the",
        "run starts itself. Regenerate with `make bench` (everything, ~30 min) or",
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
        lines += _scenario_section(key, entry, results)
    return "\n".join(lines) + "\n"


def write(results: Results, results_path: Path, out: Path) -> None:
    """Regenerate ``out`` from ``results``, keeping the hand-written analysis below the marker."""
    try:
        source = str(results_path.resolve().relative_to(REPO))
    except ValueError:
        source = str(results_path)
    text = render(results, source)
    previous = out.read_text() if out.exists() else ""
    analysis = (
        previous.split(MARKER, 1)[1] if MARKER in previous else "\n\n## Analysis\n\n(none yet)\n"
    )
    out.write_text(text + "\n" + MARKER + analysis)


def newest_full_run() -> Path:
    runs = sorted(p for p in (BENCH / "results").glob("*.json") if not p.name.startswith("smoke-"))
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
