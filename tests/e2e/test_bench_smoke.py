"""The benchmark harness must never rot: its smoke mode (tiny sizes, one repetition) runs
every client through every scenario (S6-scale: its growth clients at each of two sizes;
S10: its three contenders at two targets, the engine and the floor at three too; S11: the
CI gate's three contenders on a corpus of 60 manifests and the three admission arms for 2 s,
the webhook's calls as the API server's trace spans time them;
S12: the respond daemon in-process and as 3 replicas on a testenv Kafka, 1 s and 10 actions each).  Checked: that
each one completed and that the results file is well-formed.  Never timings: CI machines
are shared and noisy."""

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
SYNC = ("kubeops-sync-run", "floor-sync", "kubernetes")  # S10: engine, floor, hand-written loop
POLICY_CI = (  # S11's CI gate: both Rego layouts, and CEL
    "kubeops-policy-rego",
    "kubeops-policy-cel",
    "conftest",
    "kubeops-policy-rego-packages",
    "conftest-packages",
)
POLICY_ARMS = ("no-policy", "apiserver-vap", "kubeops-webhook")  # S11's admission arms
BUS_ARMS = ("in-process", "bus-3")  # S12 at smoke size: no bus, and 3 replicas on Kafka

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
    for name in SYNC:
        assert _ok_runs(results, "S10", name), f"S10 {name} did not complete"
    for name in (*POLICY_CI, *POLICY_ARMS):
        assert _ok_runs(results, "S11", name), f"S11 {name} did not complete"
    for name in BUS_ARMS:
        assert _ok_runs(results, "S12", name), f"S12 {name} did not complete"
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


def test_multi_cluster_sync_is_measured_for_every_contender(
    smoke: tuple[dict[str, Any], Path, str],
) -> None:
    results, report, _ = smoke
    entry = results["scenarios"]["S10"]
    first, *more = results["plan"]["s10_targets"]
    deployments = results["plan"]["s10_deployments"]
    for name in SYNC:
        [run] = [r for r in _ok_runs(results, "S10", name) if r["targets"] == first]
        extra = run["extra"]
        assert run["value"] > 0
        assert sorted(extra["per_target_convergence_s"]) == [
            f"t{i:02d}" for i in range(1, first + 1)
        ]
        assert extra["changes"] == results["plan"]["s10_changes"]
        assert len(extra["lags_ms"]) + extra["missed"] == extra["changes"]
        assert run["rss_bytes"] > 0
        outage = extra["outage"]
        assert outage["target"] == "t01"
        assert outage["stale_at_restart"] > 0  # the changes went on while it was down
        assert outage["server_start_s"] > 0
        assert len(outage["others_lags_ms"]) + outage["others_missed"] == outage["changes"]
        assert entry["summary"][name]["pooled"]["events"] == len(extra["lags_ms"])
    for name in ("kubeops-sync-run", "floor-sync"):  # both catch up from what they queued
        [run] = [r for r in _ok_runs(results, "S10", name) if r["targets"] == first]
        assert run["extra"]["outage"]["catch_up_s"] is not None
    for size in more:  # growth: the engine and the floor, no outage
        for name in ("kubeops-sync-run", "floor-sync"):
            [run] = [r for r in _ok_runs(results, "S10", name) if r["targets"] == size]
            assert len(run["extra"]["per_target_convergence_s"]) == size
            assert "outage" not in run["extra"]
            assert entry["by_targets"][name][str(size)]["n"] == 1
    assert not [r for r in entry["runs"] if r["client"] == "kubernetes" and r["targets"] != first]
    assert entry["params"]["settings"]["deployments"] == deployments
    text = report.read_text()
    assert "### S10 " in text
    assert text.count("<!-- S10: begin") == 1
    assert "](benchmarks-s10-growth.svg)" in text
    assert report.with_name("benchmarks-s10-growth.svg").read_text().startswith("<svg")


def test_a_targeted_sync_run_rewrites_only_its_part(
    smoke: tuple[dict[str, Any], Path, str], tmp_path: Path
) -> None:
    """What `bench/run.py --scenarios S10` does to docs/benchmarks.md: S10's part replaced,
    every other line kept; and a full report from a run without S10 keeps S10's part."""
    results, report_path, _ = smoke
    sys.path.insert(0, str(REPO / "bench"))
    import report
    from harness import s11_report, s12_report

    begin, end = "<!-- S10: begin", "<!-- S10: end -->"
    full = report_path.read_text().replace("### S1 ", "### S1 (edited by hand) ")
    head, tail = full.split(begin)[0], full.split(end)[1]
    # A report from before S10 has none of the later parts either.
    tail = _cut(tail, s11_report.BEGIN, s11_report.END)
    tail = _cut(tail, s12_report.BEGIN, s12_report.END)
    out = tmp_path / "benchmarks.md"
    out.write_text(head + tail)  # a report from before S10: its part goes above the analysis
    source = next(report_path.parent.glob("smoke-*.json"))
    report.write_s10(results, source, out)
    report.write_s10(results, source, out)
    after = out.read_text()
    assert after.count(begin) == 1
    assert after.split(begin)[0].rstrip() == head.rstrip()
    assert after.split(end)[1].strip() == tail.strip()
    assert after.index(end) < after.index("<!-- analysis:")
    without = {
        **results,
        "scenarios": {k: v for k, v in results["scenarios"].items() if k != "S10"},
    }
    report.write(without, source, out)
    assert "### S10 " in out.read_text()


def test_policy_as_code_is_measured_and_checked(
    smoke: tuple[dict[str, Any], Path, str],
) -> None:
    """S11: every CI contender found the answer key's failures (an ok run means it did),
    and the admission arms denied what the key denies -- nothing without a policy; the API
    server's own span of each measured webhook call reached the receiver, and the VAP
    plugin's histogram counted every request."""
    results, report, _ = smoke
    entry = results["scenarios"]["S11"]
    params = entry["params"]
    assert params["settings"]["policies"] == 30
    assert params["settings"]["manifests"] == results["plan"]["s11_manifests"]
    assert 0 < params["failing_objects"] < params["settings"]["manifests"]  # a mix
    for name in POLICY_CI:
        [run] = _ok_runs(results, "S11", name)
        assert run["part"] == "ci"
        assert run["extra"]["failures"] == params["expected_failures"] > 0
        assert run["cpu_seconds"] > 0
        assert run["loadavg_1m"] >= 0
        assert entry["comparison"]["ci"][name]["failures"] == params["expected_failures"]
    for name in ("conftest", "conftest-packages"):
        assert entry["comparison"]["ci"][name]["wall_vs_conftest"] == 1.0
    expected = params["expected_denied"]
    assert 0 < expected < params["requests"]
    for arm in POLICY_ARMS:
        [run] = _ok_runs(results, "S11", arm)
        extra = run["extra"]
        assert run["part"] == "admission"
        assert len(extra["lags_ms"]) == extra["requests"] == params["requests"]
        assert extra["errors"] == 0
        assert extra["denied"] == (0 if arm == "no-policy" else expected)
        assert entry["summary"][arm]["pooled"]["events"] == params["requests"]
    webhook = entry["comparison"]["admission"]["kubeops-webhook"]
    assert webhook["webhook_rss_mib"] > 0
    assert "added_p99_ms" in webhook
    [run] = _ok_runs(results, "S11", "kubeops-webhook")
    call = run["extra"]["webhook_call"]
    # Each measured request's call, told by the trace the request named.
    assert call["calls"] == params["requests"]
    assert call["matched_by"] == "trace"
    assert call["failed_calls"] == 0
    assert 0 < call["p50_ms"] <= call["p99_ms"] <= call["max_ms"]
    assert sum(call["by_webhook_resource"].values()) == call["calls"]
    assert {key.rsplit("=", 1)[1] for key in call["by_webhook_resource"]} == {
        "configmaps", "deployments", "services"
    }  # fmt: skip
    assert webhook["webhook_call"]["calls"] == call["calls"]
    assert webhook["webhook_call"]["p99_ms"] == call["p99_ms"]
    assert entry["params"]["trace_receiver"]["ok"]
    vap = entry["comparison"]["admission"]["apiserver-vap"]
    # The scrapes bracket warm-up too: every request passed the plugin.
    assert vap["plugin_count"] >= params["requests"]
    assert vap["plugin_p99_le_ms"] >= vap["plugin_p50_le_ms"] > 0
    assert "webhook_call" not in entry["comparison"]["admission"]["no-policy"]
    assert isinstance(results["versions"]["conftest"], str)
    text = report.read_text()
    assert text.count("<!-- S11: begin") == 1
    assert "### S11 " in text
    assert "webhook call p50 / p99 ms, as the API server times it" in text
    assert f"webhook call p99 {call['p99_ms']:.1f} ms as the API server times it" in text


def test_a_targeted_policy_run_rewrites_only_its_part(
    smoke: tuple[dict[str, Any], Path, str], tmp_path: Path
) -> None:
    """What `bench/run.py --scenarios S11` does to docs/benchmarks.md: S11's part replaced,
    every other line kept; and a full report from a run without S11 keeps S11's part."""
    results, report_path, _ = smoke
    sys.path.insert(0, str(REPO / "bench"))
    import report
    from harness import s12_report

    begin, end = "<!-- S11: begin", "<!-- S11: end -->"
    full = report_path.read_text().replace("### S1 ", "### S1 (edited by hand) ")
    head, tail = full.split(begin)[0], full.split(end)[1]
    tail = _cut(tail, s12_report.BEGIN, s12_report.END)  # before S11: no S12 either
    out = tmp_path / "benchmarks.md"
    out.write_text(head + tail)
    source = next(report_path.parent.glob("smoke-*.json"))
    report.write_s11(results, source, out)
    report.write_s11(results, source, out)
    after = out.read_text()
    assert after.count(begin) == 1
    assert after.split(begin)[0].rstrip() == head.rstrip()
    assert after.split(end)[1].strip() == tail.strip()
    assert after.index(end) < after.index("<!-- analysis:")
    without = {
        **results,
        "scenarios": {k: v for k, v in results["scenarios"].items() if k != "S11"},
    }
    report.write(without, source, out)
    assert after.split(begin)[1].split(end)[0] in out.read_text()


def test_event_to_action_through_the_bus_is_measured(
    smoke: tuple[dict[str, Any], Path, str],
) -> None:
    """S12: every probe and every burst change acted on once, by the arm's replicas
    (CPU and RSS of all of them); the bus arm's added latency is reported."""
    results, report, _ = smoke
    entry = results["scenarios"]["S12"]
    burst = entry["params"]["settings"]["burst"]
    for name in BUS_ARMS:
        [run] = _ok_runs(results, "S12", name)
        extra = run["extra"]
        assert extra["replicas"] == (3 if name == "bus-3" else 1)
        assert extra["writes"] > 0
        assert len(extra["lags_ms"]) + extra["missed"] == extra["writes"]
        assert extra["storm_writes"] > 0
        assert extra["burst"]["actions"] == burst
        assert extra["duplicates"] == 0
        assert run["rss_bytes"] > 0
        assert entry["summary"][name]["pooled"]["events"] == len(extra["lags_ms"])
    assert not _ok_runs(results, "S12", "in-process")[0]["extra"]["topic_lags_ms"]
    assert _ok_runs(results, "S12", "bus-3")[0]["extra"]["topic_lags_ms"]  # the bus's share
    assert "added_p99_ms" in entry["comparison"]["bus-3"]
    assert isinstance(results["versions"]["kafka"], str)
    text = report.read_text()
    assert text.count("<!-- S12: begin") == 1
    assert "### S12 " in text


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
        "conftest",
        "kafka",
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
        "S10",
        "S11",
        "S12",
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


def _cut(text: str, begin: str, end: str) -> str:
    """``text`` without the part between ``begin`` and ``end`` (as it is when absent)."""
    if begin not in text:
        return text
    return text.split(begin, maxsplit=1)[0] + text.split(end)[1]
