"""Inspections and health reports: a catalogue of checks run over live clusters or
manifests, scored per category, namespace and cluster, rendered as terminal,
HTML, JSON, Markdown, JUnit and SARIF reports, on demand or on a schedule.

Live: ``report = await inspect_clusters(resolve_targets(kubeconfig, contexts),
InspectConfig())``; manifests: ``inspect_manifests(objects, InspectConfig())``.
:func:`build_document` turns a :class:`Report` into the JSON document every
renderer in :mod:`kubeops.inspect.report` reads.  A check of your own is a
generator over a :class:`CheckContext` registered with :func:`register_check`.
"""

from kubeops.inspect.catalog import (
    Check,
    CheckContext,
    Hit,
    PodSpecOwner,
    catalog,
    register_check,
)
from kubeops.inspect.config import (
    InspectConfig,
    InspectConfigError,
    load_inspect_config,
    parse_inspect_config,
)
from kubeops.inspect.document import SCHEMA, Document, build_document
from kubeops.inspect.model import (
    CATEGORIES,
    ClusterResult,
    Finding,
    NotRun,
    ObjectRef,
    Report,
    Severity,
)
from kubeops.inspect.runner import (
    Target,
    inspect_cluster,
    inspect_clusters,
    inspect_manifests,
    resolve_targets,
    run_checks,
)
from kubeops.inspect.snapshot import Snapshot, collect_snapshot

__all__ = [
    "CATEGORIES",
    "SCHEMA",
    "Check",
    "CheckContext",
    "ClusterResult",
    "Document",
    "Finding",
    "Hit",
    "InspectConfig",
    "InspectConfigError",
    "NotRun",
    "ObjectRef",
    "PodSpecOwner",
    "Report",
    "Severity",
    "Snapshot",
    "Target",
    "build_document",
    "catalog",
    "collect_snapshot",
    "inspect_cluster",
    "inspect_clusters",
    "inspect_manifests",
    "load_inspect_config",
    "parse_inspect_config",
    "register_check",
    "resolve_targets",
    "run_checks",
]
