"""The benchmark harness must never rot: its smoke mode (tiny sizes, one repetition) runs
every client through every scenario (S6-scale: its growth clients at each of two sizes).  Checked: that each one completed and that the
results file is well-formed.  Never timings: CI machines are shared and noisy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LIBRARY = ("S1", "S2", "S3", "S4", "S5", "S6")
SCALE = ("kubeops-async", "kubeops-async-dict", "client-go")  # and the best peer by S6
CLIENTS = {
    "kubeops-async": LIBRARY,
    "kubeops-async-dict": ("S6",),
    "kubeops-sync": LIBRARY,
    "client-go": LIBRARY,
    "kubernetes": LIBRARY,
    "kubernetes_asyncio": LIBRARY,
    "lightkube": LIBRARY,
    "kr8s": LIBRARY,
    "floor-python": LIBRARY,
    "floor-server": ("S1", "S5"),
}
CLI = {
    "S7": ("kubeops", "kubectl"),
    "S7-startup": ("kubeops", "kubectl"),
    "S8": ("kubeops-inspect", "popeye"),
}
RESPOND = ("kubeops-respond", "kubernetes")  # S9: the daemon and the watch loop

# A fresh CI machine first creates the peers' venvs and builds client-go and Popeye.
pytestmark = [pytest.mark.full, pytest.mark.timeout(3000)]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    out = tmp_path_factory.mktemp("bench-smoke")
    report = out / "benchmarks.md"
    done = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--smoke",
            "--results-dir",
            str(out),
            "--report",
            str(report),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=2900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    [path] = out.glob("smoke-*.json")
    return json.loads(path.read_text()), report, done.stderr


def _ok_runs(results: dict[str, Any], scenario: str, client: str) -> list[dict[str, Any]]:
    return [r for r in results["scenarios"][scenario]["runs"] if r["client"] == client and r["ok"]]


def test_every_client_completes_every_scenario(smoke: tuple[dict[str, Any], Path, str]) -> None:
    results, _, stderr = smoke
    for client, scenarios in CLIENTS.items():
        for scenario in scenarios:
            assert _ok_runs(results, scenario, client), f"{scenario} {client} did not complete"
    for scenario, names in CLI.items():
        for name in names:
            assert _ok_runs(results, scenario, name), f"{scenario} {name} did not complete"
    for name in RESPOND:
        assert _ok_runs(results, "S9", name), f"S9 {name} did not complete"
    assert "S3 kubeops-async rep 1" in stderr  # progress is shown


def test_event_to_action_is_measured_for_both_contenders(
    smoke: tuple[dict[str, Any], Path, str],
) -> None:
    results, report, _ = smoke
    entry = results["scenarios"]["S9"]
    for name in RESPOND:
        [run] = _ok_runs(results, "S9", name)
        extra = run["extra"]
        assert extra["writes"] > 0
        assert len(extra["lags_ms"]) + extra["missed"] == extra["writes"]
        assert extra["storm_writes"] > 0
        assert extra["cpu_seconds"] >= 0
        assert run["rss_bytes"] > 0
        assert entry["summary"][name]["pooled"]["events"] == len(extra["lags_ms"])
    assert "### S9" in report.read_text()


def test_growth_is_measured_at_every_size(smoke: tuple[dict[str, Any], Path, str]) -> None:
    results, report, stderr = smoke
    entry = results["scenarios"]["S6-scale"]
    sizes = results["plan"]["scale_sizes"]
    peer = entry["params"]["best_peer"]
    assert peer in {n for n, c in results["contenders"].items() if c["group"] == "peer"}
    for client in (*SCALE, peer):
        for size in sizes:
            runs = [r for r in _ok_runs(results, "S6-scale", client) if r["size"] == size]
            assert runs, f"S6-scale {client} at {size} Pods did not complete"
            assert runs[0]["count"] == size
            assert runs[0]["rss_bytes"] > 0
            assert entry["by_size"][client][str(size)]["sync_seconds"]["n"] == 1
    stores = {
        r["client"]: r["extra"]["store"]
        for r in entry["runs"]
        if r["ok"] and r["client"].startswith("kubeops")
    }
    assert stores == {"kubeops-async": "compact", "kubeops-async-dict": "dict"}
    assert f"S6-scale kubeops-async-dict rep 1 at {sizes[-1]:,} Pods" in stderr
    chart = report.with_name("benchmarks-s6-scale.svg").read_text()
    assert chart.startswith("<svg")
    assert "kubeops (async, dict)" in chart
    assert "](benchmarks-s6-scale.svg)" in report.read_text()


def test_results_are_well_formed(smoke: tuple[dict[str, Any], Path, str]) -> None:
    results, _, _ = smoke
    assert results["schema"] == 1
    assert results["mode"] == "smoke"
    assert isinstance(results["duration_seconds"], float)
    for key in ("cpu_model", "cores", "memory_bytes", "kernel", "load_start", "load_end"):
        assert key in results["machine"]
    for key in (
        "kubeops",
        "kubernetes_server",
        "go",
        "client-go",
        "kubernetes",
        "kr8s",
        "kubectl",
        "popeye",
    ):
        assert isinstance(results["versions"][key], str)
        assert results["versions"][key]
    assert list(results["scenarios"]) == [
        "S1",
        "S2",
        "S3",
        "S4",
        "S5",
        "S6",
        "S6-scale",
        "S7",
        "S7-startup",
        "S8",
        "S9",
    ]
    for key, entry in results["scenarios"].items():
        for field in (
            "title",
            "metric",
            "unit",
            "better",
            "targets",
            "params",
            "runs",
            "summary",
            "skipped",
        ):
            assert field in entry, f"{key} lacks {field}"
        for run in entry["runs"]:
            assert isinstance(run["client"], str)
            assert isinstance(run["rep"], int)
            assert isinstance(run["wall_seconds"], float)
            assert isinstance(run["peak_rss_bytes"], int)
            assert run["peak_rss_bytes"] > 0
            if run["ok"]:
                assert isinstance(run["value"], float)
            else:
                assert isinstance(run["error"], str)
        for name, stats in entry["summary"].items():
            assert stats["runs"] >= 1, (key, name)
            if stats["n"]:
                assert stats["min"] <= stats["median"] <= stats["max"]
    s3 = [run for run in results["scenarios"]["S3"]["runs"] if run["ok"]]
    assert s3, "no S3 run completed"
    for run in s3:
        assert isinstance(run["extra"]["lags_ms"], list)
        assert run["count"] == len(run["extra"]["lags_ms"])
        assert run["extra"]["writes"] > 0
    s6 = [run for run in results["scenarios"]["S6"]["runs"] if run["ok"]]
    assert s6, "no S6 run completed"
    for run in s6:
        assert run["count"] == results["plan"]["s6_pods"]
        assert run["rss_bytes"] > 0


def test_report_renders(smoke: tuple[dict[str, Any], Path, str]) -> None:
    _, report, _ = smoke
    text = report.read_text()
    assert "## kubeops' targets" in text
    for key in ("S1", "S2", "S3", "S4", "S5", "S6", "S6-scale", "S7", "S8"):
        assert f"### {key} " in text
