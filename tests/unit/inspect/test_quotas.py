"""The quota check: exact quantity ratios and their edge cases."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from kubeops.inspect.checks.quotas import usage_ratio
from kubeops.inspect.config import InspectConfig, parse_inspect_config
from kubeops.inspect.model import Severity
from kubeops.inspect.runner import run_checks
from kubeops.inspect.snapshot import Snapshot


@pytest.mark.parametrize(
    ("used", "hard", "ratio"),
    [
        ("1900m", "2", Fraction(95, 100)),
        ("1Gi", "1024Mi", Fraction(1)),
        ("512Mi", "1Gi", Fraction(1, 2)),
        ("12", "10", Fraction(6, 5)),
        ("0", "0", None),
        ("1", "0", None),
        ("lots", "10", None),
        ("1", None, None),
    ],
)
def test_usage_ratio(used: Any, hard: Any, ratio: Fraction | None) -> None:
    assert usage_ratio(used, hard) == ratio


def quota(name: str, hard: dict[str, str] | None, used: dict[str, str] | None) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if hard is not None:
        status["hard"] = hard
    if used is not None:
        status["used"] = used
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"hard": hard or {}},
        "status": status,
    }


def hits(
    config: InspectConfig | None = None, *quotas: dict[str, Any]
) -> list[tuple[str, Severity, str]]:
    snapshot = Snapshot.from_objects(quotas)
    snapshot.static = False
    result = run_checks(snapshot, config or InspectConfig())
    assert "quota-near-limit" in result.checks_run
    return [
        (f.object.name, f.severity, f.message)
        for f in result.findings
        if f.check == "quota-near-limit"
    ]


def test_quota_near_limit_per_resource() -> None:
    found = hits(
        None,
        quota(
            "q",
            {"pods": "10", "requests.cpu": "2", "count/jobs.batch": "5"},
            {"pods": "11", "requests.cpu": "1800m", "count/jobs.batch": "1"},
        ),
        quota("fresh", {"pods": "10"}, None),
        quota("empty", None, None),
    )
    assert found == [
        ("q", Severity.ERROR, "pods used 11 of 10 (110%, limit reached)"),
        ("q", Severity.WARNING, "requests.cpu used 1800m of 2 (90%, threshold 90%)"),
    ]


def test_quota_threshold_is_configurable() -> None:
    config = parse_inspect_config({"checks": {"quota-near-limit": {"thresholds": {"percent": 50}}}})
    found = hits(config, quota("q", {"requests.memory": "1Gi"}, {"requests.memory": "600Mi"}))
    assert [h[1] for h in found] == [Severity.WARNING]
    assert hits(None, quota("q", {"requests.memory": "1Gi"}, {"requests.memory": "600Mi"})) == []


def test_quota_check_needs_status_so_it_is_not_static() -> None:
    result = run_checks(
        Snapshot.from_objects([quota("q", {"pods": "1"}, {"pods": "1"})]), InspectConfig()
    )
    assert "quota-near-limit" not in result.checks_run
    assert "deprecated-api-version" in result.checks_run  # the static ones did run
