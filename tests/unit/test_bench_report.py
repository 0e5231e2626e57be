"""bench/report.py's growth verdicts and its SVG chart: the figures S6-scale is judged by."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import report  # noqa: E402
from harness.chart import nice_ticks  # noqa: E402

SIZES = (10_000, 30_000, 100_000)


def _sizes(rss_mib: list[float], sync_s: list[float]) -> dict[str, Any]:
    return {
        str(n): {"n": 1, "median": r, "min": r, "max": r, "sync_seconds": {"n": 1, "median": s}}
        for n, r, s in zip(SIZES, rss_mib, sync_s, strict=True)
    }


def _linear(fixed_mib: float, kib_per_pod: float) -> list[float]:
    return [fixed_mib + n * kib_per_pod / 1024 for n in SIZES]


def test_linear_growth_has_one_slope_and_no_step() -> None:
    rows = report.growth(_sizes(_linear(30, 10), [n * 30e-6 for n in SIZES]))
    assert [round(r["rss_added_kib"], 6) for r in rows[1:]] == [10.0, 10.0]
    assert rows[0]["rss_per_pod_kib"] > rows[-1]["rss_per_pod_kib"]  # the fixed cost spreads
    assert report._step(rows, "RSS") == ""
    assert report._step(rows, "sync") == ""


def test_a_dearer_last_interval_is_a_step() -> None:
    rss = _linear(30, 10)
    rss[2] += 70_000 * 10 / 1024  # 30,000 -> 100,000 costs 20 KiB per added Pod, not 10
    rows = report.growth(_sizes(rss, [1.0, 3.0, 10.0]))
    assert report._step(rows, "RSS") == "step at 30,000→100,000: +100 % per added Pod"
    assert report._step(rows, "sync") == ""


def _results(by_size: dict[str, Any]) -> dict[str, Any]:
    contenders = {
        "kubeops-async": {"label": "kubeops (async, compact)", "group": "kubeops"},
        "kubeops-async-dict": {"label": "kubeops (async, dict)", "group": "kubeops"},
        "client-go": {"label": "client-go", "group": "go"},
    }
    summary = {name: sizes[str(SIZES[-1])] for name, sizes in by_size.items()}
    entry = {
        "title": "growth",
        "metric": "RSS after sync",
        "unit": "MiB",
        "better": "lower",
        "targets": ["≤ 1.0× compact", "≤ 2.0× dict", "linear"],  # noqa: RUF001
        "params": {"reps": [1, 1, 1]},
        "runs": [],
        "skipped": {},
        "by_size": by_size,
        "summary": summary,
    }
    return {"scenarios": {"S6-scale": entry}, "contenders": contenders}


def test_targets_judge_the_largest_size_and_the_slope() -> None:
    stepped = _linear(30, 20)
    stepped[2] += 70_000 * 20 / 1024
    results = _results(
        {
            "kubeops-async": _sizes(_linear(30, 9), [1.0, 3.0, 10.0]),
            "kubeops-async-dict": _sizes(stepped, [1.0, 3.0, 10.0]),
            "client-go": _sizes(_linear(20, 10), [1.0, 3.0, 10.0]),
        }
    )
    verdicts = {(v["target"], v["client"]): v["verdict"] for v in report.evaluate(results)}
    assert verdicts == {
        ("≤ 1.0× compact", "kubeops (async, compact)"): "PASS",  # noqa: RUF001
        ("≤ 2.0× dict", "kubeops (async, dict)"): "MISS",  # noqa: RUF001
        ("linear", "kubeops (async, compact)"): "PASS",
        ("linear", "kubeops (async, dict)"): "MISS",
    }


def test_the_chart_is_an_svg_with_a_line_per_client_and_panel() -> None:
    results = _results(
        {
            "kubeops-async": _sizes(_linear(30, 9), [1.0, 3.0, 10.0]),
            "client-go": _sizes(_linear(20, 10), [1.0, 3.0, 10.0]),
        }
    )
    svg = report.growth_chart(results["scenarios"]["S6-scale"], results["contenders"])
    root = ET.fromstring(svg)
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 4  # two clients in two panels
    assert "kubeops (async, compact)" in svg


def test_ticks_are_round_and_cover_the_top() -> None:
    assert nice_ticks(100_000) == [0, 20_000, 40_000, 60_000, 80_000, 100_000]
    assert nice_ticks(1_234)[-1] >= 1_234


def test_a_run_stopped_short_says_where_and_why() -> None:
    results = _results({"client-go": _sizes(_linear(20, 10), [1.0, 3.0, 10.0])})
    entry = results["scenarios"]["S6-scale"]
    entry["params"].update(stopped_at=300_000, stopped_because="TimeoutError: 5 Pods not Running")
    text = "\n".join(report._scale_section(entry, results, None))
    assert "**Stopped before 300,000 Pods**: TimeoutError: 5 Pods not Running." in text
    assert "| client-go | **" in text
