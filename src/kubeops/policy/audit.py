"""``kubeops policy audit``: which live objects violate which policy, as Gatekeeper's
audit reports it -- once as a report, or on an interval as Prometheus metrics.

What is read: every listable resource the cluster serves (Gatekeeper's default),
or only the kinds the policies say they match when every policy says so
(an engine's optional ``audit_kinds()``, or the ``admission_rules()`` the webhook
registers), or the kinds ``--kinds`` names.
Events are never audited.  Namespaces, ResourceQuotas and LimitRanges are always
read, so policies that look at a namespace or its quota have their answers.  With
namespaces named (``-n``) only their objects are judged, no cluster-scoped one.

How each object is reviewed: as an ``UPDATE`` of itself (``oldObject`` is the
object), as Gatekeeper's audit presents a live object -- a rule comparing the new
object with the old sees no change, and a policy that matches only ``CREATE`` is
not judged (``--operation CREATE`` reviews each object as if it were created).
Nobody sends these requests, so ``request.userInfo`` is empty and no authorizer
answers (a policy that asks one cannot decide, and its failure policy applies).

The metrics: ``kubeops_policy_audit_violations{policy,engine,action}`` per policy
and action (every loaded policy has its three series, 0 when clean), with the run's
objects, duration, last run time and outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kubeops.errors import KubeopsError
from kubeops.policy.context import StaticContext
from kubeops.policy.findings import Results, document_of, results_for
from kubeops.policy.loader import PolicySet
from kubeops.policy.model import Action, Object, Operation, Policy, Review
from kubeops.policy.verdict import evaluate

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from kubeops.api import Client
    from kubeops.api.resource import ResourceType
    from kubeops.controller.serving import SecurePort, ServingOptions

LOG = logging.getLogger(__name__)

NEVER_AUDITED = frozenset({("", "events"), ("events.k8s.io", "events")})
"""Resources an audit never reads: events are records, not configuration."""
CONTEXT_KINDS = (("", "namespaces"), ("", "resourcequotas"), ("", "limitranges"))
"""Read in every audit: what policies ask about a namespace."""
ALL_KINDS = "*"

Progress = Callable[[str], None]


class AuditError(KubeopsError, ValueError):
    """An audit that cannot run as asked (an unknown kind, a bad interval)."""


# -- what to read ---------------------------------------------------------------------------


def policy_kinds(policies: Iterable[Policy]) -> set[tuple[str, str]] | None:
    """The (API group, kind or resource) pairs the policies match, from each engine's
    optional ``audit_kinds()`` or else the ``admission_rules()`` the webhook registers;
    None when any policy may match any kind (or does not say)."""
    wanted: set[tuple[str, str]] = set()
    for policy in policies:
        kinds = _kinds_of(policy)
        if kinds is None:
            return None
        wanted.update(kinds)
    return wanted


def _kinds_of(policy: Policy) -> set[tuple[str, str]] | None:
    ask = getattr(policy, "audit_kinds", None)
    if callable(ask):
        kinds = ask()
        return None if kinds is None else {(str(g), str(k)) for g, k in kinds}
    rules = getattr(policy, "admission_rules", None)
    if not callable(rules):
        return None
    found: set[tuple[str, str]] = set()
    for rule in rules() or []:
        for group in rule.get("apiGroups") or [ALL_KINDS]:
            for resource in rule.get("resources") or [ALL_KINDS]:
                name = str(resource).partition("/")[0] or ALL_KINDS
                if name == ALL_KINDS and group == ALL_KINDS:
                    return None
                found.add((str(group), name))
    return found or None


def parse_kinds(text: str) -> list[tuple[str, str]]:
    """``--kinds pods,deployments.apps,Ingress.networking.k8s.io`` as (group, name) pairs
    (a name is a kind, a plural or a short name; no group part means any group)."""
    found: list[tuple[str, str]] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        name, _, group = part.partition(".")
        found.append((group if group else ALL_KINDS, name))
    if not found:
        raise AuditError(f"--kinds {text!r}: name at least one kind, e.g. pods,deployments.apps")
    return found


def _matches(resource: ResourceType, group: str, name: str) -> bool:
    if group != ALL_KINDS and not fnmatch.fnmatchcase(resource.group, group):
        return False
    if name == ALL_KINDS:
        return True
    lowered = name.lower()
    return lowered in (
        resource.kind.lower(),
        resource.plural,
        resource.singular,
        *resource.short_names,
    )


def resources_to_audit(
    served: Sequence[ResourceType],
    kinds: Collection[tuple[str, str]] | None,
    *,
    named: bool = False,
) -> list[ResourceType]:
    """The resources to list: of ``served`` (discovery's answer), those matching
    ``kinds`` (every listable one when None), one version per resource, never events,
    plus the context kinds.  ``named`` (the user's ``--kinds``) refuses a name the
    cluster does not serve."""
    chosen: dict[tuple[str, str], ResourceType] = {}
    listable = [r for r in served if "list" in r.verbs and "/" not in r.plural]
    if kinds is not None and named:
        for group, name in kinds:
            if not any(_matches(r, group, name) for r in listable):
                shown = name if group == ALL_KINDS else f"{name}.{group}"
                raise AuditError(f"--kinds: the cluster serves no resource {shown!r}")
    for resource in listable:
        key = (resource.group, resource.plural)
        if key in chosen or key in NEVER_AUDITED:
            continue
        if kinds is None or key in CONTEXT_KINDS or any(_matches(resource, g, n) for g, n in kinds):
            chosen[key] = resource
    return list(chosen.values())


# -- reading and judging ----------------------------------------------------------------------


@dataclass
class Listed:
    """What one audit read: objects by resource, and the resources that could not be read."""

    objects: dict[str, list[Object]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def all(self) -> list[Object]:
        """Every object read."""
        return [o for items in self.objects.values() for o in items]


async def list_objects(
    client: Client, resources: Sequence[ResourceType], namespaces: Sequence[str] | None
) -> Listed:
    """Every object of ``resources`` (in ``namespaces``, or all when None; cluster-scoped
    ones always), items given their apiVersion and kind; a resource the identity may
    not list is recorded in ``errors``, not fatal."""
    listed = Listed()
    semaphore = asyncio.Semaphore(8)

    async def one(resource: ResourceType, namespace: str | None) -> None:
        async with semaphore:
            try:
                page = await client.list(
                    resource, namespace, all_namespaces=namespace is None, page_size=500
                )
            except KubeopsError as err:
                listed.errors[resource.qualified_name] = str(err)
                return
        items = listed.objects.setdefault(resource.qualified_name, [])
        for item in page.get("items") or []:
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
            items.append(item)

    jobs = []
    for resource in resources:
        if not resource.namespaced or namespaces is None:
            jobs.append(one(resource, None))
        else:
            jobs.extend(one(resource, ns) for ns in namespaces)
    await asyncio.gather(*jobs)
    return listed


def review_of_live(obj: Object, operation: Operation, resource: ResourceType | None) -> Review:
    """A live object's review: an ``UPDATE`` of itself (or ``CREATE``), with the resource
    discovery named."""
    from kubeops.policy.model import GroupVersionResource

    gvr = (
        GroupVersionResource(resource.group, resource.version, resource.plural)
        if resource is not None
        else None
    )
    return Review.of_object(
        obj,
        operation=operation,
        old_object=obj if operation == Operation.UPDATE else None,
        resource=gvr,
        namespaced=resource.namespaced if resource is not None else None,
    )


def judge(
    policies: PolicySet,
    listed: Listed,
    resources: Mapping[str, ResourceType],
    *,
    cluster: str,
    audited: Callable[[ResourceType], bool] = lambda r: True,
    operation: Operation = Operation.UPDATE,
    progress: Progress | None = None,
) -> Results:
    """Review every listed object of an ``audited`` resource against ``policies`` (pure:
    no cluster); the policies' lookups are answered from everything listed and the
    policy directory's own objects."""
    context = StaticContext([*listed.all(), *policies.objects])
    results = results_for(policies, cluster, mode="live")
    started = time.monotonic()
    for name, items in sorted(listed.objects.items()):
        resource = resources.get(name)
        if resource is not None and not audited(resource):
            continue
        for obj in items:
            results.add(evaluate(policies, review_of_live(obj, operation, resource), context))
        if progress is not None and items:
            progress(f"{name}: {len(items)} reviewed")
    if progress is not None:
        took = time.monotonic() - started
        progress(f"{len(results.verdicts)} objects reviewed in {took:.1f}s")
    return results


@dataclass(frozen=True)
class AuditOptions:
    """One audit: the policies, where to look and how to review."""

    policies: PolicySet
    cluster: str = "cluster"
    namespaces: tuple[str, ...] | None = None
    """Namespaces to read namespaced objects in; None for every namespace."""
    kinds: tuple[tuple[str, str], ...] | None = None
    """The user's ``--kinds``; None: the policies' kinds, or everything."""
    operation: Operation = Operation.UPDATE


async def audit(client: Client, options: AuditOptions, progress: Progress | None = None) -> Audit:
    """Read the cluster and judge what runs there."""
    started = time.monotonic()
    served = await client.refresh_discovery()
    named = options.kinds is not None
    kinds = options.kinds if named else policy_kinds(options.policies.policies)
    resources = resources_to_audit(served, kinds, named=named)
    if options.namespaces is not None:  # -n: that namespace's objects, not the cluster's
        resources = [r for r in resources if r.namespaced or (r.group, r.plural) in CONTEXT_KINDS]
    if progress is not None:
        scope = "every namespace" if options.namespaces is None else ", ".join(options.namespaces)
        progress(f"reading {len(resources)} resources in {scope}")
    listed = await list_objects(client, resources, options.namespaces)
    by_name = {r.qualified_name: r for r in resources}

    def audited(resource: ResourceType) -> bool:  # context kinds are read, not judged
        if options.namespaces is not None and not resource.namespaced:
            return False
        return kinds is None or any(_matches(resource, g, n) for g, n in kinds)

    results = judge(
        options.policies,
        listed,
        by_name,
        cluster=options.cluster,
        audited=audited,
        operation=options.operation,
        progress=progress,
    )
    return Audit(results, listed.errors, time.monotonic() - started, time.time())


@dataclass(frozen=True)
class Audit:
    """One audit's outcome."""

    results: Results
    unreadable: Mapping[str, str]
    """Resources that could not be listed, with why."""
    seconds: float
    finished: float
    """Unix time the audit ended."""

    def document(self) -> dict[str, Any]:
        """The report document, with what could not be read as checks not run."""
        document = document_of(self.results)
        document["not_run"] = [
            {"check": f"list {name}", "cluster": self.results.cluster, "reason": why}
            for name, why in sorted(self.unreadable.items())
        ]
        document["policy"]["seconds"] = round(self.seconds, 3)
        document["policy"]["unreadable"] = dict(self.unreadable)
        return document


# -- metrics ----------------------------------------------------------------------------------


def strongest(actions: Collection[Action]) -> Action:
    """The action a violation is counted under: Deny over Warn over Audit."""
    for action in (Action.DENY, Action.WARN):
        if action in actions:
            return action
    return Action.AUDIT


class AuditMetrics:
    """The audit's Prometheus metrics, replaced as a whole after each run."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = registry or CollectorRegistry()
        self.violations = Gauge(
            "kubeops_policy_audit_violations",
            "Live objects' violations in the last audit, per policy and action "
            "(a violation counted once, under its strongest action: Deny, Warn, Audit)",
            ["policy", "engine", "action"],
            registry=self.registry,
        )
        self.objects = Gauge(
            "kubeops_policy_audit_objects",
            "Objects reviewed in the last audit",
            registry=self.registry,
        )
        self.denied_objects = Gauge(
            "kubeops_policy_audit_denied_objects",
            "Objects at least one policy would deny, in the last audit",
            registry=self.registry,
        )
        self.last_run = Gauge(
            "kubeops_policy_audit_last_run_timestamp_seconds",
            "When the last audit that completed ended (Unix time)",
            registry=self.registry,
        )
        self.duration = Gauge(
            "kubeops_policy_audit_duration_seconds",
            "How long the last audit that completed took",
            registry=self.registry,
        )
        self.unreadable = Gauge(
            "kubeops_policy_audit_unreadable_resources",
            "Resources the last audit could not list",
            registry=self.registry,
        )
        self.runs = Counter(
            "kubeops_policy_audit_runs",
            "Audits run, by result (success, error)",
            ["result"],
            registry=self.registry,
        )

    def record(self, done: Audit) -> None:
        """Replace the gauges with this audit's numbers."""
        counts = violation_counts(done.results)
        self.violations.clear()
        for (policy, engine, action), value in sorted(counts.items()):
            self.violations.labels(policy=policy, engine=engine, action=action).set(value)
        self.objects.set(len(done.results.verdicts))
        self.denied_objects.set(done.results.denied_objects)
        self.last_run.set(done.finished)
        self.duration.set(done.seconds)
        self.unreadable.set(len(done.unreadable))
        self.runs.labels(result="success").inc()

    def failed(self) -> None:
        """Count an audit that could not run (the gauges keep the last good one)."""
        self.runs.labels(result="error").inc()


def violation_counts(results: Results) -> dict[tuple[str, str, str], int]:
    """Violations per (policy, engine, action): every loaded policy with each action
    (0 when clean), each violation counted once under its strongest action."""
    engines = {p.name: p.engine for p in results.policies}
    counts: dict[tuple[str, str, str], int] = {
        (p.name, p.engine, str(a)): 0 for p in results.policies for a in Action
    }
    for violation, _ in results.violations:
        engine = engines.get(violation.policy, "")
        key = (violation.policy, engine, str(strongest(violation.actions)))
        counts[key] = counts.get(key, 0) + 1
    return counts


# -- the daemon -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServeOptions:
    """``policy audit --serve``: audit every ``interval`` seconds, serve the metrics."""

    audit: AuditOptions
    interval: float
    kubeconfig: str | None = None
    context: str | None = None
    serving: ServingOptions | None = None
    auth_kubeconfig: str | None = None
    auth_context: str | None = None
    runs: int | None = None
    """Stop after this many audits (tests, one-off jobs); None: until stopped."""


class AuditDaemon:
    """Audits on an interval; ``/metrics``, ``/healthz``, ``/readyz`` and ``/report``
    (the last audit's document as JSON) on one port."""

    def __init__(self, options: ServeOptions, client: Client, port: SecurePort) -> None:
        self.options = options
        self.client = client
        self.port = port
        self.metrics = AuditMetrics()
        self.last: Audit | None = None
        self.last_error = ""
        self.runs = 0

    def status(self) -> dict[str, Any]:
        """What ``/healthz`` reports: the last audit's summary."""
        status: dict[str, Any] = {"status": "ok", "runs": self.runs}
        if self.last is not None:
            status["last"] = {
                **self.last.results.summary(),
                "finished": self.last.finished,
                "seconds": round(self.last.seconds, 3),
            }
        if self.last_error:
            status["lastError"] = self.last_error
        return status

    def ready(self) -> tuple[bool, str]:
        """Ready once an audit has completed."""
        if self.last is None:
            return False, "no audit has completed yet"
        return True, "audited"

    def app(self) -> Any:
        """The port's routes."""
        from aiohttp import web

        from kubeops.controller.serving import add_probe_routes

        app = self.port.application()
        add_probe_routes(app, self.status, self.ready, self.metrics.registry)

        async def report(request: web.Request) -> web.StreamResponse:
            if self.last is None:
                return web.json_response({"error": "no audit has completed yet"}, status=503)
            return web.json_response(self.last.document())

        app.router.add_get("/report", report)
        return app

    async def run_once(self) -> None:
        """One audit, recorded; a failure is logged and counted, never fatal."""
        from kubeops.config.redact import error_line
        from kubeops.controller.serving import log_event

        try:
            done = await audit(self.client, self.options.audit)
        except KubeopsError as err:
            self.last_error = error_line(err)
            self.metrics.failed()
            log_event(LOG, logging.WARNING, "audit failed", error=self.last_error)
            return
        finally:
            self.runs += 1
        self.last, self.last_error = done, ""
        self.metrics.record(done)
        summary = done.results.summary()
        log_event(
            LOG,
            logging.INFO,
            "audit done",
            objects=summary["objects"],
            violations=summary["violations"],
            denied=summary["denied"],
            unreadable=len(done.unreadable),
            seconds=round(done.seconds, 3),
        )

    async def loop(self, stop: asyncio.Event) -> None:
        """Audit until ``stop`` (or ``runs`` audits), an interval apart."""
        while not stop.is_set():
            await self.run_once()
            if self.options.runs is not None and self.runs >= self.options.runs:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.options.interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve and audit until stopped."""
        from kubeops.controller.serving import log_event, run_until_stopped

        await self.port.start(self.app())
        try:
            for warning in self.port.warnings:
                LOG.warning("%s", warning)
            log_event(
                LOG,
                logging.INFO,
                "policy audit serving",
                url=replace(self.port.options, port=self.port.port).url,
                auth=self.port.options.auth,
                policies=len(self.options.audit.policies),
                interval=self.options.interval,
            )
            await run_until_stopped(self.loop(stop), stop)
        finally:
            await self.port.stop()


async def serve(options: ServeOptions, stop: asyncio.Event) -> int:
    """Run the audit daemon until ``stop``; configuration problems raise first."""
    from kubeops.api import Client
    from kubeops.config import load_config
    from kubeops.controller.serving import SecurePort, ServingOptions

    serving = options.serving or ServingOptions()
    serving.check()
    config = load_config(options.kubeconfig, context=options.context)
    async with Client(config) as client:
        reviewer = None
        if serving.auth == "kubernetes":
            reviewer = Client(
                load_config(
                    options.auth_kubeconfig or options.kubeconfig,
                    context=options.auth_context or options.context,
                )
            )
        port = SecurePort(serving, reviewer, own_client=True)
        try:
            await AuditDaemon(options, client, port).run(stop)
        finally:
            await port.close()
    return 0
