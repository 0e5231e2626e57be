"""S12's part of docs/benchmarks.md: event to action through Kafka with 1 and 3
replicas beside the in-process path, between two markers so that
``bench/run.py --scenarios S12`` rewrites that part alone."""

# ruff: noqa: RUF001 -- the report prints multiplication signs and en dashes on purpose
from __future__ import annotations

import textwrap
from typing import Any

from harness.s11_report import _f, _label, _signed, _table
from harness.s12 import ARMS, BURST_INFLIGHT, PROBES

BEGIN = "<!-- S12: begin; `bench/run.py --scenarios S12` rewrites this part alone -->"
END = "<!-- S12: end -->"
P99_TARGET_MS = 1_000.0
ISSUE_SIZES = {"seconds": 30.0, "storm_per_minute": 10_000, "burst": 1_000}


def _reduced(mode: str, settings: dict[str, Any]) -> str:
    if mode == "smoke":
        return " **Smoke sizes: not the issue's figures.**"
    small = [k for k, v in ISSUE_SIZES.items() if settings.get(k, v) < v]
    return f" **Reduced sizes ({', '.join(small)}): not the issue's figures.**" if small else ""


def verdict(entry: dict[str, Any]) -> list[str]:
    """S9's target, judged on the bus arms' pooled p99."""
    rows = entry.get("comparison", {})
    arms = entry["params"].get("arms", ARMS)
    bus = [(arm, rows[arm]) for arm in arms if arms[arm] and arm in rows]
    if not bus:
        return [entry["targets"][0], "n/a", "no bus run completed"]
    ok = all(row["p99_ms"] is not None and row["p99_ms"] <= P99_TARGET_MS for _, row in bus)
    figure = "; ".join(f"{arm}: p99 {_f(row['p99_ms'])} ms" for arm, row in bus)
    return [entry["targets"][0], "**PASS**" if ok else "**MISS**", figure]


def section(results: dict[str, Any], source: str) -> list[str]:
    """S12's part of the report, markers included."""
    entry = results["scenarios"]["S12"]
    settings = entry["params"]["settings"]
    comparison = entry.get("comparison", {})
    lines = [
        BEGIN,
        "",
        f"### S12 — {entry['title']}",
        "",
        f"From `{source}` ({results['mode']} run started {results['started']}, load average"
        f" {results['machine'].get('load_start', {}).get('loadavg_1m', 0):.2f} at the start,"
        f" {results['machine'].get('load_end', {}).get('loadavg_1m', 0):.2f} at the end;"
        f" Kafka {results['versions'].get('kafka', '–')})." + _reduced(results["mode"], settings),
        "",
    ]
    lines += _table(["target", "result", "figure"], [verdict(entry)])
    lines += [
        "",
        "Latency pooled over the runs (and each run's p99, whose median one loaded run cannot"
        " move); throughput is the burst's median run:",
        "",
    ]
    rows = []
    for arm in entry["params"].get("arms", ARMS):
        if arm in entry.get("skipped", {}):
            rows.append([_label(results, arm), entry["skipped"][arm], *[""] * 11])
            continue
        row = comparison.get(arm)
        if row is None:
            failed = [r for r in entry["runs"] if r["client"] == arm and not r["ok"]]
            why = failed[0]["error"][:160] if failed else "did not run"
            rows.append([_label(results, arm), f"failed: {why}", *[""] * 11])
            continue
        added = (
            f"{_signed(row.get('added_p50_ms'))} / {_signed(row.get('added_p99_ms'))}"
            f" / {_signed(row.get('added_run_p99_ms'))}"
            if "added_p99_ms" in row
            else "–"
        )
        low, high = row.get("run_p99_range_ms") or (None, None)
        ratio = row.get("throughput_vs_in_process")
        rows.append(
            [
                _label(results, arm),
                _f(row["p50_ms"]),
                f"**{_f(row['p99_ms'])}**",
                f"{_f(row.get('run_p99_ms'))} ({_f(low)}–{_f(high)})",
                added,
                (
                    f"{_f(row['topic_p50_ms'])} / {_f(row['topic_p99_ms'])}"
                    if row.get("topic_p99_ms") is not None
                    else "–"
                ),
                f"{row['events']:,} ({row['missed']} missed)",
                f"**{_f(row['actions_per_second'], 0)}**"
                + (f" ({ratio:.2f}×)" if ratio is not None else ""),
                f"{row['burst_actions']:,} in {row['runs']} run(s);"
                f" written in {_f(row['burst_write_seconds'], 2)} s"
                + (
                    f", on the topic by {_f(row['burst_topic_seconds'], 2)} s"
                    if row.get("burst_topic_seconds")
                    else ""
                ),
                str(row["duplicates"]),
                _f(row["cpu_percent"], 0),
                _f(row["rss_mib"], 0),
            ]
        )
    lines += _table(
        [
            "arm",
            "p50 ms",
            "p99 ms",
            "p99 ms, median of runs (min–max)",
            "added by the bus: p50 / p99 / median run's p99, ms",
            "write to on the topic p50 / p99 ms",
            "probes",
            "burst actions/s (× in-process)",
            "burst",
            "duplicate actions",
            "CPU % (all replicas)",
            "RSS MiB (all replicas)",
        ],
        rows,
    )
    how = (
        "How: one API-only testenv cluster (S9's) and one testenv Kafka (KRaft, one node) on"
        " loopback serve every arm. Each arm runs `kubeops respond run` with S9's rule"
        " (`bench/runners/kubeops_respond.py`): *in-process* without a bus (S9's path);"
        " *bus-N*: N replicas with `--leader-elect` and a `bus:` whose consume topics hold its"
        f" publish topic (distributed mode; a fresh topic of {entry['params'].get('partitions', 3)}"
        " partitions, group and Lease per run): the leader publishes the cluster's events"
        " through its spool, every replica consumes in one group, claims the action in the"
        " ledger and acts. The harness writes the probes (round-robin over"
        f" {PROBES} ConfigMaps, so every partition and replica gets some) and the storm as in"
        " S9 and receives the webhooks (one clock, from just before the write to the"
        " request's arrival; a reader of its own, outside the group, notes when each probe's"
        " event reaches the topic, which splits a bus arm's latency into publishing and the"
        " rest), then writes the burst"
        f" ({settings['burst']:,} probe changes, {BURST_INFLIGHT} in flight) and counts actions"
        " a second from its first write to its last action. Every arm's API client may send"
        f" {entry['params'].get('qps', 1000)} requests/s, so no client-side limiter bounds the"
        " burst; the burst's write time is the API server's own bound. A bus arm is measured"
        " once its group is Stable with every replica; CPU and RSS are summed over its"
        " processes. Arms alternate order between runs."
    )
    lines += ["", *textwrap.wrap(how, 92), "", END]
    return lines
