"""The Grafana dashboards of ``deploy/grafana``: valid dashboard JSON on a chosen data
source, every query valid PromQL (promtool parses them), and every metric a dashboard or
an alert names defined in kubeops' code -- the in-cluster tests then check the running
daemons export them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .chart import render
from .metric_names import (
    DAEMONS,
    OWNERS,
    SYNTHETIC,
    alert_rules,
    dashboard_queries,
    dashboards,
    defined_metrics,
    exported_metrics,
    family,
    names_in,
    owners,
    panels,
    promql,
    referenced_metrics,
)
from .test_alerts import run_promtool

SCHEMA_VERSION = 42
"""Grafana 12's dashboard schema (older Grafanas load it as it is)."""
DASHBOARD_DAEMONS = {
    "kubeops-inspect.json": {"inspect"},
    "kubeops-respond.json": {"respond", "bus"},
    "kubeops-sync.json": {"sync", "sync-agent"},
    "kubeops-policy-webhook.json": {"policy-webhook"},
}
"""Whose metrics each daemon's dashboard shows (the overview shows everyone's)."""


def test_the_dashboards_are_one_per_daemon_plus_an_overview() -> None:
    found = dashboards()
    assert set(found) == {*DASHBOARD_DAEMONS, "kubeops-overview.json"}
    assert len({d["uid"] for d in found.values()}) == len(found)
    for name, dashboard in found.items():
        assert dashboard["schemaVersion"] == SCHEMA_VERSION, name
        assert dashboard["uid"] == name.removesuffix(".json")
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for label in ("namespace", "job"):
            assert variables[label]["type"] == "query", (name, label)
            assert variables[label]["datasource"]["uid"] == "${datasource}"
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), name
        for panel in panels(dashboard):
            box = panel["gridPos"]
            assert box["x"] + box["w"] <= 24, (name, panel["title"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == "${datasource}", (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                if name != "kubeops-overview.json":
                    # Every daemon panel follows the namespace and job chosen.
                    assert "$namespace" in target["expr"], (name, panel["title"])
                    assert "$job" in target["expr"], (name, panel["title"])


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query of every dashboard, as a recording rule."""
    queries = [q for d in dashboards().values() for q in dashboard_queries(d)]
    assert all("$" not in q for q in queries), [q for q in queries if "$" in q]
    rules = [{"record": f"dashboard:query:{i}", "expr": q} for i, q in enumerate(queries)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    checked = run_promtool("check", "rules", path)
    assert f"SUCCESS: {len(rules)} rules found" in checked, checked


def test_every_referenced_metric_is_defined_in_kubeops() -> None:
    defined = defined_metrics()
    referenced = referenced_metrics()
    assert set(referenced) == {d for ds in OWNERS.values() for d in ds}
    for daemon, names in referenced.items():
        assert names, f"{daemon}: no dashboard or alert uses its metrics"
        missing = names - defined
        assert not missing, f"{daemon}: referenced but defined nowhere in kubeops: {missing}"
    # Each daemon's dashboard and alert group shows that daemon's metrics only.
    for name, dashboard in dashboards().items():
        if name in DASHBOARD_DAEMONS:
            for query in dashboard_queries(dashboard):
                for metric in names_in(query) - SYNTHETIC:
                    assert set(owners(family(metric))) & DASHBOARD_DAEMONS[name], (name, metric)
    for rule in alert_rules():
        group = rule["group"].removeprefix("kubeops-")
        for metric in names_in(str(rule["expr"])) - SYNTHETIC:
            exporters = owners(family(metric))
            assert group in exporters or exporters == DAEMONS, (rule["alert"], metric)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le, job) (rate(a_bucket{job=~"x|y", le!="1"}[5m]))', {"a_bucket"}),
        ("b offset 1d unless on (job) group_left (x) c and d @ start()", {"b", "c", "d"}),
        ("histogram_quantile(0.99, x) > 1e3 or vector(0)", {"x"}),
        ('count(max by (t) (u{n="and"}) == 0) - time() < 4 * 3600', {"u"}),
        ("sum without (instance) (max_over_time(v:rate5m[1d:5m]))", {"v:rate5m"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert names_in(expr) == names


def test_grafana_variables_become_promql() -> None:
    assert promql('label_values(up{namespace=~"$namespace"}, job)') == 'up{namespace=~".*"}'
    assert promql('rate(x{job=~"${job}"}[$__rate_interval])') == 'rate(x{job=~".*"}[5m])'


def test_exported_and_referenced_names_are_normalised_alike() -> None:
    body = (
        "# HELP a_total x\n# TYPE a_total counter\na_total 1.0\na_created 2.0\n"
        '# HELP h x\n# TYPE h histogram\nh_bucket{le="+Inf"} 1.0\nh_count 1.0\nh_sum 0.1\n'
        "# HELP g x\n# TYPE g gauge\ng 1.0\n"
    )
    assert exported_metrics(body) == {"a", "h", "g"}
    assert {family(n) for n in ("a_total", "h_bucket", "h_sum", "g")} == {"a", "h", "g"}


def grafana_config_maps(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]


def test_the_chart_renders_each_dashboard_for_grafanas_sidecar() -> None:
    assert grafana_config_maps(render()) == []
    maps = grafana_config_maps(render({"grafanaDashboards": {"enabled": True}}))
    rendered = {name: json.loads(text) for m in maps for name, text in m["data"].items()}
    assert rendered == dashboards()
    assert {m["metadata"]["name"] for m in maps} >= {"kubeops-kubeops-dashboard-overview"}
