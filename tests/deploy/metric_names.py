"""The metric names kubeops' Grafana dashboards and Prometheus alerts use, by daemon, and
the names a daemon's ``/metrics`` exports, normalised the same way so the two compare.

Not a test module: the dashboard and alert tests check every referenced name is defined
in kubeops' code; the in-cluster tests check it is exported by the running daemon.

Names are compared as metric *families*: a histogram's ``_bucket``/``_sum``/``_count``
series, a counter's ``_total`` and prometheus_client's ``_created`` series all stand for
the family they belong to (``kubeops_sync_operations_total`` -> ``kubeops_sync_operations``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .chart import DAEMONS

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
"""One dashboard JSON per daemon, and an overview."""
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
"""The alert rules: the one source the chart's PrometheusRule renders."""
SOURCE = REPO / "src" / "kubeops"

OWNERS: dict[str, tuple[str, ...]] = {
    "kubeops_inspect_": ("inspect",),
    "kubeops_respond_": ("respond",),
    "kubeops_bus_": ("bus",),
    "kubeops_sync_": ("sync", "sync-agent"),
    "kubeops_policy_webhook_": ("policy-webhook",),
    "rest_client_": DAEMONS,
    "process_": DAEMONS,
}
"""Which daemons export the names with each prefix.  ``bus``: ``respond run`` exports
these while its rules configure a bus (and ``events export`` does, without a chart entry);
the sync controller and agent export the same ``kubeops_sync_*`` families; every daemon
exports its API requests (``rest_client_*``) and its process (``process_*``)."""

SYNTHETIC = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds"})
"""Series Prometheus makes itself: no daemon exports them."""

_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")

# Grafana's variables and interval macros, replaced by values PromQL accepts.
_MACROS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
_VARIABLE = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", re.S)

# PromQL, enough to find the metric names in an expression.
_STRING = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`")
_BRACES = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_TOKEN = re.compile(r"(?P<number>\d[\w.]*)|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "start", "end"}
)
_COLLECTORS = frozenset({"ProcessCollector", "PlatformCollector"})
_CONSTRUCTORS = frozenset(
    {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum", "PromCounter"}
    | {"CounterMetricFamily", "GaugeMetricFamily", "HistogramMetricFamily"}
    | {"SummaryMetricFamily", "InfoMetricFamily"}
)


def family(name: str) -> str:
    """The family a series name belongs to (see the module doc)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def promql(text: str) -> str:
    """A dashboard query as plain PromQL: Grafana's ``label_values(selector, label)``
    reduced to its selector, ``$__rate_interval`` and the like to durations, and every
    other variable (used inside label matchers) to ``.*``."""
    found = _LABEL_VALUES.match(text)
    if found:
        text = found.group(1)
    return _VARIABLE.sub(lambda m: _MACROS.get(m.group(1), ".*"), text)


def names_in(expr: str) -> set[str]:
    """The metric names an expression selects (functions, keywords and labels left out)."""
    text = _BRACES.sub(" ", _STRING.sub('""', expr))
    text = _GROUPING.sub(" ", text)
    found: set[str] = set()
    for match in _TOKEN.finditer(text):
        name = match.group("name")
        if name is None or name in _KEYWORDS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        found.add(name)
    return found


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, those inside collapsed rows too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every query of a dashboard as PromQL: its panels' targets and its query variables."""
    queries = [
        promql(target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            text = query.get("query", "") if isinstance(query, dict) else str(query or "")
            if text:
                queries.append(promql(text))
    return queries


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard under ``deploy/grafana``, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(GRAFANA.glob("*.json"))}


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of ``alerts.yaml``, each with the name of its ``group`` added."""
    document = yaml.safe_load(ALERTS.read_text())
    return [
        {**rule, "group": group["name"]} for group in document["groups"] for rule in group["rules"]
    ]


def all_queries() -> list[str]:
    """Every PromQL expression the dashboards and the alerts hold."""
    queries = [q for d in dashboards().values() for q in dashboard_queries(d)]
    return queries + [str(rule["expr"]) for rule in alert_rules()]


def owners(name: str) -> tuple[str, ...]:
    """The daemons exporting family ``name``; ValueError for a name no daemon owns."""
    for prefix, daemons in OWNERS.items():
        if name.startswith(prefix):
            return daemons
    raise ValueError(f"metric {name}: no kubeops daemon exports it (prefixes: {list(OWNERS)})")


def referenced_metrics() -> dict[str, set[str]]:
    """Daemon -> the metric families its dashboard and alerts use (Prometheus' own series,
    such as ``up``, left out)."""
    out: dict[str, set[str]] = {d: set() for ds in OWNERS.values() for d in ds}
    for expr in all_queries():
        for name in names_in(expr) - SYNTHETIC:
            for daemon in owners(family(name)):
                out[daemon].add(family(name))
    return out


def exported_metrics(text: str) -> set[str]:
    """The families a ``/metrics`` body (Prometheus text format) holds, normalised as
    :func:`referenced_metrics` normalises, so ``referenced <= exported`` compares them."""
    from prometheus_client.parser import text_string_to_metric_families

    found: set[str] = set()
    for metric in text_string_to_metric_families(text):
        found.add(family(metric.name))
        found.update(family(sample.name) for sample in metric.samples)
    return found


def defined_metrics(root: Path = SOURCE) -> set[str]:
    """The families kubeops' code defines: the first argument of every prometheus_client
    metric or metric-family constructor under ``root`` (read from the source, not run),
    and those of the prometheus_client collectors it registers."""
    found: set[str] = set()
    collectors: set[str] = set()
    for path in root.rglob("*.py"):
        text = path.read_text()
        if "prometheus_client" not in text:
            continue  # defines no metric: not worth parsing
        for node in ast.walk(ast.parse(text, str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0] if node.args else None
            if (
                called in _CONSTRUCTORS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                found.add(family(first.value))
            elif called in _COLLECTORS:
                collectors.add(called)
    return found | _collected(collectors)


def _collected(collectors: set[str]) -> set[str]:
    """The families of prometheus_client's own collectors kubeops registers (``process_*``
    and ``python_info``), read from the collectors themselves."""
    import prometheus_client

    found: set[str] = set()
    for name in collectors:
        collector = getattr(prometheus_client, name)(registry=None)
        found.update(family(metric.name) for metric in collector.collect())
    return found
