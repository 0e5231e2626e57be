"""The alert rules of ``deploy/prometheus/alerts.yaml``: valid for Prometheus, each one
unit-tested by promtool (firing on what it is about, quiet otherwise), documented in
docs/runbooks.md, and rendered by the chart as the very same rules."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .chart import render
from .metric_names import ALERTS, REPO, alert_rules

TESTS = ALERTS.parent / "alerts_test.yaml"
RUNBOOKS = REPO / "docs" / "runbooks.md"
SEVERITIES = {"critical", "warning", "info"}


@functools.cache
def promtool() -> str:
    """promtool, built from Prometheus' Go module and cached by kubeops' testenv."""
    from kubeops.testenv.assets import ensure_assets

    return str(ensure_assets(("promtool",)).path("promtool"))


def run_promtool(*args: str | Path) -> str:
    """promtool's output; the test fails with it unless promtool exits 0."""
    done = subprocess.run(
        [promtool(), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    checked = run_promtool("check", "rules", ALERTS)
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked, checked
    tested = run_promtool("test", "rules", TESTS)
    assert "SUCCESS" in tested, tested


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases: dict[str, list[list[Any]]] = {}
    for group in yaml.safe_load(TESTS.read_text())["tests"]:
        for case in group["alert_rule_test"]:
            cases.setdefault(case["alertname"], []).append(case["exp_alerts"])
    for rule in alert_rules():
        expected = cases.get(rule["alert"], [])
        assert any(expected), f"{rule['alert']}: no test where it fires"
        assert any(not alerts for alerts in expected), f"{rule['alert']}: no test where it is quiet"
        for alerts in expected:
            for alert in alerts:
                # Annotations are compared by promtool, so each test renders them.
                assert set(alert.get("exp_annotations", {})) == set(rule["annotations"])


def test_every_alert_has_a_severity_a_summary_and_a_runbook() -> None:
    anchors = {
        "#" + re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("#")
    }
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["group"] == "kubeops-" + rule["group"].removeprefix("kubeops-")
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert annotations["summary"], name
        assert annotations["description"], name
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "docs/runbooks.md", name
        assert anchor == name.lower(), name
        assert f"#{anchor}" in anchors, f"{name}: no runbook entry"


def prometheus_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == "PrometheusRule"]


def test_the_chart_renders_the_same_rules() -> None:
    source = yaml.safe_load(ALERTS.read_text())
    (rule,) = prometheus_rules(render(api_versions=("monitoring.coreos.com/v1",)))
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["name"] == "kubeops-kubeops-alerts"
    assert rule["metadata"]["namespace"] == "kubeops-system"
    assert rule["spec"] == source
    # Off without the API, on when asked; extra labels and the runbooks' home from values.
    assert prometheus_rules(render()) == []
    assert (
        prometheus_rules(
            render(
                api_versions=("monitoring.coreos.com/v1",),
                values={"prometheusRule": {"enabled": False}},
            )
        )
        == []
    )
    base = "https://docs.example.com/kubeops/v1/"
    (moved,) = prometheus_rules(
        render(
            {
                "prometheusRule": {
                    "enabled": True,
                    "labels": {"release": "prom"},
                    "runbookBaseURL": base,
                }
            }
        )
    )
    assert moved["metadata"]["labels"]["release"] == "prom"
    urls = [r["annotations"]["runbook_url"] for g in moved["spec"]["groups"] for r in g["rules"]]
    assert urls
    assert all(u.startswith(base + "runbooks.md#") for u in urls), urls[:3]


@pytest.mark.parametrize("bad", ["up ==", "sum by (job (up)"])
def test_promtool_refuses_a_broken_rule(tmp_path: Path, bad: str) -> None:
    """The check is real: a rule file with a broken expression fails it."""
    path = tmp_path / "broken.yaml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": bad}]}]})
    )
    done = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
