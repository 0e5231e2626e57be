"""Prometheus metrics of the scheduled inspections, in a registry of their own.

The score and findings gauges are computed from the latest document at scrape
time by a custom collector, so each run replaces them wholesale: a namespace
that disappears, or a finding that is fixed, leaves no stale series behind.
Findings are counted only where they exist (no zero series per label set).
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubeops.inspect.document import Document

RUN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
RESULTS = ("success", "partial", "failed", "error")
HISTORY_OPERATIONS = ("record", "prune", "read")


def result_of(document: Document | None) -> str:
    """``success`` (every cluster inspected), ``partial``, ``failed`` (none reachable),
    or ``error`` when the run produced no document."""
    if document is None:
        return "error"
    clusters = document.get("clusters") or []
    unreachable = sum(not c.get("reachable", True) for c in clusters)
    if clusters and unreachable == len(clusters):
        return "failed"
    return "partial" if unreachable else "success"


def timestamp(generated: str) -> float | None:
    """Epoch seconds of a document's ``generated`` time (UTC when it names no zone); None when
    unparsable."""
    try:
        moment = datetime.datetime.fromisoformat(generated)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


class DocumentCollector(Collector):
    """Gauges derived from one document, recomputed on every scrape."""

    def __init__(self) -> None:
        self.document: Document | None = None

    def collect(self) -> Iterator[Metric]:
        """The gauges of the current document (none before the first run)."""
        document = self.document
        score = GaugeMetricFamily(
            "kubeops_inspect_score",
            "Score (0-100) of each cluster's latest inspection.",
            labels=["cluster"],
        )
        category = GaugeMetricFamily(
            "kubeops_inspect_category_score",
            "Score (0-100) per cluster and check category.",
            labels=["cluster", "category"],
        )
        namespace = GaugeMetricFamily(
            "kubeops_inspect_namespace_score",
            "Score (0-100) per cluster and namespace.",
            labels=["cluster", "namespace"],
        )
        findings = GaugeMetricFamily(
            "kubeops_inspect_findings",
            "Findings of the latest inspection (namespace empty for cluster-scoped objects).",
            labels=["cluster", "namespace", "category", "severity"],
        )
        reachable = GaugeMetricFamily(
            "kubeops_inspect_cluster_reachable",
            "1 when the cluster could be inspected in the latest run, else 0.",
            labels=["cluster"],
        )
        last = GaugeMetricFamily(
            "kubeops_inspect_last_run_timestamp_seconds",
            "When the latest inspection's report was generated (Unix time).",
        )
        overall = GaugeMetricFamily(
            "kubeops_inspect_overall_score", "Score (0-100) over every cluster of the latest run."
        )
        if document is not None:
            for cluster in document.get("clusters") or []:
                name = str(cluster.get("name", ""))
                reachable.add_metric([name], 1.0 if cluster.get("reachable", True) else 0.0)
                if cluster.get("score") is not None:
                    score.add_metric([name], float(cluster["score"]))
                for cat, value in (cluster.get("categories") or {}).items():
                    if value.get("score") is not None:
                        category.add_metric([name, cat], float(value["score"]))
                for ns, value in (cluster.get("namespaces") or {}).items():
                    if value.get("score") is not None:
                        namespace.add_metric([name, ns], float(value["score"]))
            counts = Counter(
                (
                    str(f.get("cluster", "")),
                    str((f.get("object") or {}).get("namespace") or ""),
                    str(f.get("category", "")),
                    str(f.get("severity", "")),
                )
                for f in document.get("findings") or []
            )
            for labels, count in sorted(counts.items()):
                findings.add_metric(list(labels), float(count))
            if document.get("score") is not None and result_of(document) != "failed":
                overall.add_metric([], float(document["score"]))
            when = timestamp(str(document.get("generated", "")))
            if when is not None:
                last.add_metric([], when)
        yield from (score, category, namespace, findings, reachable, overall, last)


class InspectMetrics:
    """The registry ``/metrics`` serves: document gauges plus run counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.collector = DocumentCollector()
        self.registry.register(self.collector)
        self.runs = PromCounter(
            "kubeops_inspect_runs",
            "Scheduled inspection runs by result (success, partial, failed, error).",
            ["result"],
            registry=self.registry,
        )
        for result in RESULTS:
            self.runs.labels(result)
        self.duration = Histogram(
            "kubeops_inspect_run_duration_seconds",
            "Seconds a scheduled inspection run took.",
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.leader = Gauge(
            "kubeops_inspect_leader",
            "1 while this replica runs the inspections (it leads, or leader election is off).",
            registry=self.registry,
        )
        self.history = Gauge(
            "kubeops_inspect_history_info",
            "The history database this replica reads and writes (its URL, password masked).",
            ["url"],
            registry=self.registry,
        )
        self.history_errors = PromCounter(
            "kubeops_inspect_history_errors",
            "History operations that failed after their retries (record, prune, read).",
            ["operation"],
            registry=self.registry,
        )
        for operation in HISTORY_OPERATIONS:
            self.history_errors.labels(operation)
        self.shown_run: int | None = None

    def describe_history(self, url: str) -> None:
        """Name the history database (``url`` as printed: its password masked)."""
        self.history.clear()
        self.history.labels(url).set(1)

    def show(self, document: Document | None, run_id: int | None = None) -> None:
        """Make ``document`` the one the gauges describe."""
        self.collector.document = document
        self.shown_run = run_id

    def observe_run(self, document: Document | None, seconds: float) -> None:
        """Count a run by its result and record how long it took."""
        self.runs.labels(result_of(document)).inc()
        self.duration.observe(seconds)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
