"""Run the catalogue: over a live cluster, several kubeconfig contexts, or manifests.

Each cluster is read once (:mod:`kubeops.inspect.snapshot`), then every enabled
check runs over that snapshot in memory.  A check whose resources could not be
read, or that fails itself, is recorded as not run with the reason; a cluster
that cannot be reached is reported and the others are still inspected.

When tracing, a run is an ``inspect.run`` span, each cluster an ``inspect.cluster``
span holding its API requests, and each category of checks an ``inspect.category``
span (the catalogue keeps a category's checks together).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubeops import telemetry
from kubeops.config.redact import redact_url
from kubeops.inspect.catalog import POD_SPEC_KINDS, Check, CheckContext, catalog
from kubeops.inspect.config import InspectConfig
from kubeops.inspect.model import ClusterResult, Finding, NotRun, ObjectRef, Report, Severity
from kubeops.inspect.snapshot import ALL, Snapshot, collect_snapshot

if TYPE_CHECKING:
    from kubeops.config import ClusterConfig

Progress = Callable[[str], None]


def selected_checks(config: InspectConfig, *, static: bool = False) -> list[Check]:
    """The checks ``config`` enables, in catalogue order (only those that work on
    manifests alone when ``static``)."""
    return [c for c in catalog().values() if config.enabled(c.id) and (c.static or not static)]


def run_checks(
    snapshot: Snapshot,
    config: InspectConfig,
    now: datetime.datetime | None = None,
    result: ClusterResult | None = None,
) -> ClusterResult:
    """Judge a snapshot with every enabled check; pure and in memory."""
    now = now or datetime.datetime.now(datetime.UTC)
    result = result or ClusterResult(name=snapshot.cluster)
    scope = set(snapshot.namespaces or ())
    for key, items in snapshot.data.items():
        if key != ALL:  # "all" repeats the other resources' objects
            result.objects[key] = len(items)
    names = {(o.get("metadata") or {}).get("name", "") for o in snapshot.objects("namespaces")}
    result.namespaces = sorted(scope or names)
    category = _CategorySpans(snapshot.cluster, result)
    for chk in selected_checks(config, static=snapshot.static):
        category.enter(chk.category)
        # A Pod spec check still runs when only the workloads could not be read.
        optional = set(POD_SPEC_KINDS) - {"pods"} if chk.subject == "podspecs" else set()
        missing = [n for n in chk.needs if not snapshot.has(n) and n not in optional]
        if missing:
            reason = "; ".join(
                dict.fromkeys(snapshot.missing.get(n, f"{n} were not read") for n in missing)
            )
            result.not_run.append(NotRun(chk.id, snapshot.cluster, reason))
            continue
        ctx = CheckContext(
            cluster=snapshot.cluster,
            snapshot=snapshot,
            check=chk,
            thresholds=config.thresholds(chk.id, chk.thresholds),
            settings=config.settings,
            now=now,
        )
        override = config.checks[chk.id].severity if chk.id in config.checks else None

        def in_scope(obj: dict[str, Any], chk: Check = chk) -> bool:
            namespace = (obj.get("metadata") or {}).get("namespace")
            if scope and namespace and namespace not in scope:
                return False
            return not config.excluded(chk.id, obj)

        try:
            findings = [
                Finding(
                    check=chk.id,
                    severity=_first(override, hit.severity, chk.severity),
                    category=chk.category,
                    cluster=snapshot.cluster,
                    object=ObjectRef.of(hit.obj),
                    message=hit.message,
                    title=chk.title,
                    remediation=chk.remediation,
                    location=snapshot.locations.get(id(hit.obj)),
                )
                for hit in chk.func(ctx)
                if in_scope(hit.obj)
            ]
        except Exception as err:  # a broken check must not hide the others' findings
            result.not_run.append(
                NotRun(chk.id, snapshot.cluster, f"the check failed: {type(err).__name__}: {err}")
            )
            continue
        result.findings.extend(findings)
        result.checks_run.append(chk.id)
        subjects: Iterable[dict[str, Any]] = (
            (owner.obj for owner in snapshot.pod_specs())
            if chk.subject == "podspecs"
            else snapshot.objects(chk.subject)
        )
        counts = Counter(
            (obj.get("metadata") or {}).get("namespace") or "" for obj in subjects if in_scope(obj)
        )
        result.examined[chk.id] = dict(counts)
    category.enter(None)
    result.findings.sort(
        key=lambda f: (
            -f.severity,
            f.check,
            f.object.kind,
            f.object.namespace or "",
            f.object.name,
        )
    )
    return result


class _CategorySpans:
    """One ``inspect.category`` span per run of checks of one category (nothing when
    not tracing), with how many checks ran, were not run and found something."""

    def __init__(self, cluster: str, result: ClusterResult) -> None:
        self.cluster = cluster
        self.result = result
        self.span: telemetry.Span | None = None
        self.category: str | None = None
        self.counts = (0, 0, 0)

    def _counts(self) -> tuple[int, int, int]:
        result = self.result
        return len(result.checks_run), len(result.not_run), len(result.findings)

    def enter(self, category: str | None) -> None:
        if not telemetry.tracing_enabled() or category == self.category:
            return
        if self.span is not None:
            now = self._counts()
            self.span.set_attribute("kubeops.inspect.checks_run", now[0] - self.counts[0])
            self.span.set_attribute("kubeops.inspect.checks_not_run", now[1] - self.counts[1])
            self.span.set_attribute("kubeops.inspect.findings", now[2] - self.counts[2])
            self.span.end()
            self.span = None
        self.category = category
        if category is not None:
            self.counts = self._counts()
            self.span = telemetry.start_span(
                "inspect.category",
                {"kubeops.cluster": self.cluster, "kubeops.inspect.category": category},
            )


async def inspect_cluster(
    config: ClusterConfig,
    name: str,
    settings: InspectConfig,
    namespaces: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> ClusterResult:
    """Read one cluster and judge it; an unreachable cluster gives a result that says so."""
    with telemetry.span("inspect.cluster", {"kubeops.cluster": name}) as span:
        result = await _inspect_cluster(config, name, settings, namespaces, progress)
        if not result.reachable:
            telemetry.fail(span, f"{name}: unreachable", "Unreachable")
        span.set_attribute("kubeops.inspect.findings", len(result.findings))
        span.set_attribute("kubeops.inspect.checks_run", len(result.checks_run))
        return result


async def _inspect_cluster(
    config: ClusterConfig,
    name: str,
    settings: InspectConfig,
    namespaces: Sequence[str] | None,
    progress: Progress | None,
) -> ClusterResult:
    from kubeops.api import Client
    from kubeops.errors import KubeopsError

    started = time.monotonic()
    result = ClusterResult(name=name, server=redact_url(config.server))
    needed = list(dict.fromkeys(n for c in selected_checks(settings) for n in c.needs))
    async with Client(config, qps=-1) as client:
        try:
            version = await client.with_options(timeout=15).request("GET", "/version")
            result.version = str(version.json().get("gitVersion", ""))
        except KubeopsError as err:
            result.reachable = False
            result.error = str(err)
            result.seconds = time.monotonic() - started
            if progress is not None:
                progress(f"{name}: unreachable: {err}")
            return result
        if progress is not None:
            progress(f"{name}: reading {len(needed)} resources from {result.server}")
        snapshot = await collect_snapshot(client, name, needed, namespaces)
        snapshot.server_version = result.version
    if progress is not None:
        total = sum(len(v) for v in snapshot.data.values())
        progress(f"{name}: {total} objects read; running checks")
    run_checks(snapshot, settings, result=result)
    result.seconds = time.monotonic() - started
    return result


@dataclass(frozen=True)
class Target:
    """A cluster to inspect: its name in the report and how to connect (or why not)."""

    name: str
    config: ClusterConfig | None
    error: str = ""


def resolve_targets(kubeconfig: str | None, contexts: Sequence[str]) -> list[Target]:
    """One target per context (the current one when none is named); a context that
    cannot be loaded becomes a target that reports the reason."""
    from kubeops.config import load_config
    from kubeops.errors import KubeopsError

    found: list[Target] = []
    wanted: list[str | None] = list(contexts) or [None]
    for context in wanted:
        try:
            config = load_config(kubeconfig, context=context)
        except KubeopsError as err:
            found.append(Target(context or "current-context", None, str(err)))
            continue
        found.append(Target(context or config.context or "current-context", config))
    return found


async def inspect_clusters(
    clusters: Sequence[Target],
    settings: InspectConfig,
    namespaces: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Inspect every target concurrently and assemble the report."""

    async def one(target: Target) -> ClusterResult:
        if target.config is None:
            return ClusterResult(name=target.name, reachable=False, error=target.error)
        return await inspect_cluster(target.config, target.name, settings, namespaces, progress)

    with telemetry.span(
        "inspect.run", {"kubeops.inspect.mode": "live", "kubeops.inspect.clusters": len(clusters)}
    ):
        results = list(await asyncio.gather(*(one(t) for t in clusters)))
    return assemble_report(results, settings, mode="live")


def inspect_manifests(
    objects: Iterable[dict[str, Any]],
    settings: InspectConfig,
    locations: dict[int, tuple[str, int]] | None = None,
) -> Report:
    """Static mode: every check that applies to manifests alone; findings carry the
    file and line of their object when ``locations`` (by ``id(object)``) has them."""
    with telemetry.span("inspect.run", {"kubeops.inspect.mode": "static"}):
        result = run_checks(Snapshot.from_objects(objects, locations=locations), settings)
    return assemble_report([result], settings, mode="static")


def assemble_report(results: list[ClusterResult], settings: InspectConfig, mode: str) -> Report:
    """The report of these clusters' results, with the catalogue entries of the checks
    ``settings`` enabled; ``mode`` is ``live`` or ``static``."""
    checks = selected_checks(settings, static=mode == "static")
    return Report(
        clusters=results,
        generated=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        mode=mode,
        checks={c.id: c.to_json() for c in checks},
        check_info={c.id: (c.category, settings.severity(c.id, c.severity)) for c in checks},
    )


def _first(*severities: Severity | None) -> Severity:
    """The first severity given (``Severity.INFO`` is 0, so ``or`` would skip it)."""
    return next(s for s in severities if s is not None)
