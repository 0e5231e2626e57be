"""Inspections and health reports: a catalogue of checks run over live clusters or
manifests, scored per category, namespace and cluster, rendered as terminal,
HTML, JSON, Markdown, JUnit and SARIF reports, on demand or on a schedule."""

from kubeops.inspect.catalog import CATALOG, Check, Context, Hit, catalog, check
from kubeops.inspect.config import ConfigError, InspectConfig
from kubeops.inspect.config import load as load_config
from kubeops.inspect.document import SCHEMA, build
from kubeops.inspect.model import ClusterResult, Finding, NotRun, ObjectRef, Report, Severity
from kubeops.inspect.runner import Target, inspect, inspect_manifests, run_checks, targets
from kubeops.inspect.snapshot import Snapshot

__all__ = [
    "CATALOG",
    "SCHEMA",
    "Check",
    "ClusterResult",
    "ConfigError",
    "Context",
    "Finding",
    "Hit",
    "InspectConfig",
    "NotRun",
    "ObjectRef",
    "Report",
    "Severity",
    "Snapshot",
    "Target",
    "build",
    "catalog",
    "check",
    "inspect",
    "inspect_manifests",
    "load_config",
    "run_checks",
    "targets",
]
