"""S11's part of docs/benchmarks.md: the CI gate beside conftest and admission latency
beside the API server's own policies, between two markers so that
``bench/run.py --scenarios S11`` rewrites that part alone."""

# ruff: noqa: RUF001 -- the report prints multiplication signs and en dashes on purpose
from __future__ import annotations

import math
from typing import Any

from harness.s11 import ARMS, CI

BEGIN = "<!-- S11: begin; `bench/run.py --scenarios S11` rewrites this part alone -->"
END = "<!-- S11: end -->"
P99_TARGET_MS = 20.0
ISSUE_SIZES = {"manifests": 5_000, "rate": 200.0}


def _f(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _range(stats: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
    if not stats.get("n"):
        return "–"
    median = _f(stats["median"] * scale, digits)
    if stats["n"] == 1:
        return f"**{median}**"
    low, high = _f(stats["min"] * scale, digits), _f(stats["max"] * scale, digits)
    return f"**{median}** ({low}–{high})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _label(results: dict[str, Any], name: str) -> str:
    contender = results["contenders"].get(name, {})
    label = str(contender.get("label", name))
    return f"{label} {contender['version']}" if contender.get("version") else label


def _reduced(mode: str, settings: dict[str, Any]) -> str:
    if mode == "smoke":
        return " **Smoke sizes: not the issue's figures.**"
    small = [k for k, v in ISSUE_SIZES.items() if settings.get(k, v) < v]
    return f" **Reduced sizes ({', '.join(small)}): not the issue's figures.**" if small else ""


def _loads(entry: dict[str, Any]) -> str:
    loads = [r["loadavg_1m"] for r in entry["runs"] if "loadavg_1m" in r]
    return f"{min(loads):.2f}–{max(loads):.2f}" if loads else "–"


def _end_to_end(webhook: dict[str, Any]) -> str:
    return (
        f"end-to-end create p99 {_f(webhook['p99_ms'])} ms over {webhook['requests']:,} requests"
        f" ({_signed(webhook.get('added_p99_ms'))} ms over no policy)"
    )


def verdicts(entry: dict[str, Any]) -> list[list[str]]:
    """The two targets: the webhook's p99 -- the webhook call as the API server times it,
    every run's calls pooled -- and the CI gate agreeing with conftest."""
    comparison = entry.get("comparison", {})
    webhook = comparison.get("admission", {}).get("kubeops-webhook")
    rows = []
    if webhook is None:
        why = entry.get("skipped", {}).get("kubeops-webhook", "no run completed")
        rows.append([entry["targets"][0], "n/a", why])
    elif not webhook.get("webhook_call", {}).get("calls"):
        rows.append(
            [entry["targets"][0], "n/a", f"no webhook-call spans arrived; {_end_to_end(webhook)}"]
        )
    else:
        call = webhook["webhook_call"]
        ok = call["p99_ms"] <= P99_TARGET_MS
        short = f" for {call['requests']:,} requests" if call["calls"] != call["requests"] else ""
        rows.append(
            [
                entry["targets"][0],
                "**PASS**" if ok else "**MISS**",
                f"webhook call p99 {_f(call['p99_ms'])} ms as the API server times it, over"
                f" {call['calls']:,} calls{short}; {_end_to_end(webhook)}",
            ]
        )
    expected = entry["params"].get("expected_failures")
    ci = comparison.get("ci", {})
    failed = [r["client"] for r in entry["runs"] if r.get("part") == "ci" and not r["ok"]]
    found = ", ".join(f"{n}: {ci[n]['failures']:,}" for n in CI if n in ci)
    if not ci or "conftest" not in ci:
        rows.append([entry["targets"][1], "n/a", "conftest did not run"])
    else:
        ok = not failed and all(n in ci for n in CI)
        figure = f"answer key {expected:,}; {found}"
        if failed:
            figure += f"; failed or disagreed: {', '.join(sorted(set(failed)))}"
        rows.append([entry["targets"][1], "**PASS**" if ok else "**MISS**", figure])
    return rows


def _inside(row: dict[str, Any]) -> str:
    """The admission step as the API server times it: the webhook's exact calls (with
    their max and count), the VAP plugin's histogram bucket bounds, nothing without policy."""
    call = row.get("webhook_call")
    if call is not None:
        if not call["calls"]:
            return "no spans"
        return (
            f"{_f(call['p50_ms'])} / **{_f(call['p99_ms'])}** (max {_f(call['max_ms'])},"
            f" {call['calls']:,} calls)"
        )
    if "plugin_p99_le_ms" in row:
        return f"≤ {row['plugin_p50_le_ms']:g} / ≤ {row['plugin_p99_le_ms']:g}"
    return "–"


def _receiver_note(admission: dict[str, Any]) -> str:
    cpu = [
        row["span_receiver_cpu_percent"]
        for row in admission.values()
        if "span_receiver_cpu_percent" in row
    ]
    if not cpu:
        return ""
    low, high = _f(min(cpu)), _f(max(cpu))
    shown = low if low == high else f"{low}–{high}"
    return f" (the span receiver, on the same machine, used {shown} % of a core)"


def _check_note(vap: dict[str, Any] | None) -> str:
    if not vap or "check_p99_le_ms" not in vap:
        return ""
    return (
        " and of `apiserver_validating_admission_policy_check_duration_seconds` (one policy's"
        f" validation, buckets 0.0005, 1, 10 ms…: p50 ≤ {vap['check_p50_le_ms']:g} ms,"
        f" p99 ≤ {vap['check_p99_le_ms']:g} ms over {vap['check_count']:,} checks)"
    )


def section(results: dict[str, Any], source: str) -> list[str]:
    """S11's part of the report, markers included."""
    entry = results["scenarios"]["S11"]
    settings = entry["params"]["settings"]
    summary = entry.get("summary", {})
    comparison = entry.get("comparison", {"ci": {}, "admission": {}})
    lines = [
        BEGIN,
        "",
        f"### S11 — {entry['title']}",
        "",
        f"From `{source}` ({results['mode']} run started {results['started']}, load average"
        f" {results['machine'].get('load_start', {}).get('loadavg_1m', 0):.2f} at the start,"
        f" {results['machine'].get('load_end', {}).get('loadavg_1m', 0):.2f} at the end;"
        f" {_loads(entry)} as each run began)." + _reduced(results["mode"], settings),
        "",
    ]
    lines += _table(["target", "result", "figure"], verdicts(entry))
    expected = entry["params"].get("expected_failures", 0)
    lines += [
        "",
        f"**The CI gate** — {settings['manifests']:,} manifests in"
        f" {entry['params'].get('files', 0):,} files (Deployments, Services, ConfigMaps;"
        f" {entry['params'].get('failing_objects', 0):,} of them fail some policy,"
        f" {expected:,} failures in all) × {settings['policies']} policies, whole process,"
        " median (min–max) of the runs:",
        "",
    ]
    rows = []
    for name in CI:
        stats = summary.get(name, {})
        row = comparison["ci"].get(name, {})
        if name in entry.get("skipped", {}):
            rows.append([_label(results, name), entry["skipped"][name], "", "", "", "", ""])
            continue
        if not stats:
            continue
        rows.append(
            [
                _label(results, name),
                _range(stats, 1e-3, 2),
                _x(row.get("wall_vs_conftest")),
                _f(stats.get("peak_rss_mib_median"), 0),
                _x(row.get("rss_vs_conftest")),
                _f(row.get("cpu_seconds")),
                f"{row['failures']:,}" if "failures" in row else f"{stats.get('failed', 0)} failed",
            ]
        )
    lines += _table(
        [
            "contender",
            "wall s",
            "× conftest (same Rego layout)",
            "peak RSS MiB",
            "× conftest",
            "CPU s",
            "failures",
        ],
        rows,
    )
    lines += [
        "",
        f"**Admission** — creates of the same objects at {settings['rate']:g}/s, open loop,"
        f" {settings['seconds']:.0f} s measured after {settings['warmup']:.0f} s at the rate"
        " (warm-up: a fresh webhook's first seconds, reported apart),"
        f" {settings['admission_reps']} runs per arm; latency from each request's scheduled"
        f" time, every request pooled; {entry['params'].get('expected_denied', 0):,} of"
        f" {entry['params'].get('requests', 0):,} requests a run are denied by the policies:",
        "",
    ]
    rows = []
    for arm in ARMS:
        row = comparison["admission"].get(arm)
        if arm in entry.get("skipped", {}):
            rows.append([_label(results, arm), entry["skipped"][arm], *[""] * 9])
            continue
        if row is None:
            failed = [r for r in entry["runs"] if r["client"] == arm and not r["ok"]]
            why = failed[0]["error"][:120] if failed else "did not run"
            seen = failed[0].get("extra") if failed else None
            if seen:
                why += f" (p50 {_f(seen['p50_ms'])} ms, p99 {_f(seen['p99_ms'])} ms)"
            rows.append([_label(results, arm), f"failed: {why}", *[""] * 9])
            continue
        added = (
            f"{_signed(row['added_p50_ms'])} / {_signed(row['added_p99_ms'])}"
            if arm != "no-policy" and "added_p99_ms" in row
            else "–"
        )
        own = (
            f"{_f(row['webhook_cpu_percent'], 0)} % / {_f(row['webhook_rss_mib'], 0)} MiB"
            if "webhook_cpu_percent" in row
            else "–"
        )
        rows.append(
            [
                _label(results, arm),
                _f(row["p50_ms"]),
                f"**{_f(row['p99_ms'])}**",
                _f(row["allowed_p99_ms"]),
                added,
                _inside(row),
                _f(row.get("warmup_p99_ms")),
                f"{row['denied']:,} / {row['requests']:,}",
                _f(row["rate_achieved"]),
                _f(row["apiserver_cpu_percent"], 0),
                own,
            ]
        )
    lines += _table(
        [
            "arm",
            "end-to-end p50 ms",
            "end-to-end p99 ms",
            "p99 allowed only",
            "added p50 / p99 ms",
            "webhook call p50 / p99 ms, as the API server times it",
            "warm-up p99 ms",
            "denied / requests",
            "rate /s",
            "API server CPU %",
            "webhook CPU % / RSS",
        ],
        rows,
    )
    lines += [
        "",
        "How: the corpus and the policies are generated from a seed (`bench/harness/s11_corpus.py`);",
        "each policy is written as conftest Rego, as a ValidatingAdmissionPolicy and as a Python",
        "predicate (`bench/harness/s11_rules.py`), the last being the answer key every contender",
        "must match (a run that finds another number of failures, or an admission run that denies",
        "other requests than the key, counts as failed). The Rego is laid out two ways: every",
        "policy a file of `package main` (conftest's default, one query a document) and a",
        "package per policy (kubeops names each policy after its package; conftest needs",
        "`--all-namespaces`, one query per package a document). Admission runs on an API-only testenv",
        "cluster; the Go load generator (`bench/clientgo`, `load`) sends each create at its",
        "scheduled time whatever the earlier ones are doing; Services are made headless there",
        "(the baseline creates every one, and cluster IPs and node ports would run out). The",
        "VAPs and the webhook match only their arm's namespaces; the webhook serves the same",
        "VAP files over TLS on loopback, registered by `kubeops policy webhook --register`.",
        "",
        "The webhook call is the API server's own trace span around it (\"Call validating",
        'webhook": from building the request to the decoded answer, what each create waits for),',
        "exported over OTLP/gRPC to a receiver in `bench/clientgo` (`spans`); each create names a",
        "trace of its own (`traceparent`), so the calls of the measured requests (not warm-up's)",
        "are told apart exactly, every run's in one pool. The API server's",
        "ValidatingAdmissionPolicies have no span: their row gives the bucket bounds (marked ≤)",
        "of its histogram `apiserver_admission_controller_admission_duration_seconds` for the",
        "ValidatingAdmissionPolicy plugin (all 30 policies of one request; buckets 5, 25, 100 ms…)"
        + _check_note(comparison["admission"].get("apiserver-vap"))
        + ",",
        "over each run's every request, warm-up included (median run). The API server traces",
        "every request in every arm, so tracing's cost is in each arm's figures alike"
        + _receiver_note(comparison["admission"])
        + ".",
        "",
        END,
    ]
    return lines
