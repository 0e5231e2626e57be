"""S11's view from inside the API server: the webhook-call spans of the measured window,
the bucket bounds its histograms allow, and the verdict judged on the webhook call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from harness import s11_report, s11_trace  # noqa: E402

HISTOGRAM = "apiserver_admission_controller_admission_duration_seconds"


PREFIX = "0123456789abcdef"
LOAD = {"trace_prefix": PREFIX, "warmup": 2, "from_unix_ns": 1000, "to_unix_ns": 2000}


def _span(
    start_ns: int, ms: float, name: str = s11_trace.WEBHOOK_SPAN, trace: str = "f" * 32
) -> dict[str, Any]:
    attrs = {"webhook": "validate.policy.kubeops.io", "resource": "/v1, Resource=configmaps"}
    return {
        "name": name,
        "trace_id": trace,
        "start_unix_ns": start_ns,
        "ms": ms,
        "attributes": attrs,
    }


def _request(number: int) -> str:
    return f"{PREFIX}{number:016x}"


def test_the_measured_requests_calls_are_told_by_the_trace_each_request_named() -> None:
    spans = [
        _span(1500, 50.0, trace=_request(1)),  # warm-up, though it began inside the window
        _span(900, 2.0, trace=_request(2)),  # measured, though it began before the window
        _span(1600, 3.0, name="HTTP POST", trace=_request(3)),
        _span(1700, 4.0, trace=_request(17)),
        _span(1800, 60.0),  # another client's request
    ]
    kept, how = s11_trace.measured(spans, LOAD)
    assert how == "trace"
    assert [s["ms"] for s in kept] == [2.0, 4.0]


def test_without_the_requests_traces_the_calls_begun_inside_the_window_count() -> None:
    spans = [
        _span(999, 50.0),  # warm-up
        _span(1000, 2.0),
        _span(1500, 3.0, name="HTTP POST"),
        _span(2000, 4.0),
        _span(2001, 60.0),  # after the last answer
    ]
    kept, how = s11_trace.measured(spans, LOAD)
    assert how == "time"
    assert [s["ms"] for s in kept] == [2.0, 4.0]


def test_call_stats_give_percentiles_count_and_groups() -> None:
    stats = s11_trace.call_stats([_span(i, float(i)) for i in range(1, 101)])
    assert stats["calls"] == 100
    assert stats["max_ms"] == 100.0
    assert 49.0 <= stats["p50_ms"] <= 51.0
    assert 98.0 <= stats["p99_ms"] <= 100.0
    assert stats["by_webhook_resource"] == {
        "validate.policy.kubeops.io /v1, Resource=configmaps": 100
    }
    assert s11_trace.call_stats([]) == {"calls": 0}


def _scrape(counts: dict[str, tuple[int, int, int]]) -> str:
    """A /metrics text: per plugin, cumulative counts at le=0.005, 0.025 and +Inf."""
    lines = [f"# TYPE {HISTOGRAM} histogram"]
    for plugin, (a, b, total) in counts.items():
        labels = f'name="{plugin}",operation="CREATE",rejected="false",type="validate"'
        for le, n in (("0.005", a), ("0.025", b), ("+Inf", total)):
            lines.append(f'{HISTOGRAM}_bucket{{{labels},le="{le}"}} {n}')
        lines.append(f"{HISTOGRAM}_sum{{{labels}}} 0.1")
        lines.append(f"{HISTOGRAM}_count{{{labels}}} {total}")
    return "\n".join(lines) + "\n"


def test_histogram_growth_gives_bucket_bounds_of_one_plugin() -> None:
    before = _scrape({"ValidatingAdmissionPolicy": (10, 10, 10), "ResourceQuota": (5, 5, 5)})
    # 100 more: 98 within 5 ms, 2 within 25 ms; another plugin's growth is not counted.
    after = _scrape({"ValidatingAdmissionPolicy": (108, 110, 110), "ResourceQuota": (9, 9, 900)})
    figures = s11_trace.plugin_figures("apiserver-vap", before, after)
    plugin = figures["plugin"]
    assert plugin["count"] == 100
    assert plugin["p50_le_ms"] == 5.0
    assert plugin["p99_le_ms"] == 25.0
    assert figures["check"] is None  # no such histogram in this text
    assert s11_trace.plugin_figures("no-policy", before, after) == {}


def _entry(call: dict[str, Any] | None) -> dict[str, Any]:
    webhook: dict[str, Any] = {"p99_ms": 45.0, "requests": 6000, "added_p99_ms": 13.0}
    if call is not None:
        webhook["webhook_call"] = call
    return {
        "targets": ["webhook p99 ≤ 20 ms at 200 requests/s", "CI gate"],
        "comparison": {"admission": {"kubeops-webhook": webhook}, "ci": {}},
        "params": {},
        "runs": [],
    }


def test_the_target_is_judged_on_the_webhook_call_and_shows_end_to_end() -> None:
    call = {"calls": 6003, "requests": 6000, "p50_ms": 4.0, "p99_ms": 12.5, "max_ms": 30.0}
    [row, _] = s11_report.verdicts(_entry(call))
    assert row[1] == "**PASS**"  # the end-to-end p99 (45 ms) is over 20 ms, the call is not
    assert "webhook call p99 12.5 ms as the API server times it" in row[2]
    assert "6,003 calls for 6,000 requests" in row[2]
    assert "end-to-end create p99 45.0 ms" in row[2]
    assert "+13.0 ms over no policy" in row[2]
    [row, _] = s11_report.verdicts(_entry({**call, "p99_ms": 20.5}))
    assert row[1] == "**MISS**"


def test_no_spans_is_no_verdict() -> None:
    [row, _] = s11_report.verdicts(_entry({"calls": 0, "requests": 6000}))
    assert row[1] == "n/a"
    assert "no webhook-call spans" in row[2]
    [row, _] = s11_report.verdicts(_entry(None))
    assert row[1] == "n/a"
