"""Usage from the metrics API (metrics.k8s.io) over a window: ``UsageHigh`` when every
sample of the last ``for`` is above ``above`` percent.

A Pod's percentage is of its containers' requests (containers without a request
for the resource are left out; a Pod with none has no percentage); a Node's of
its allocatable; a Deployment's is the mean of its Pods'.  The source polls
``pods``/``nodes`` of ``metrics.k8s.io/v1beta1`` through the client every
``interval`` seconds (default 15, metrics-server's resolution is 10 to 60) and
reads the Pods, Nodes and Deployments from informers.  Each sample carries the
metrics API's own timestamp, so polling faster than metrics-server scrapes counts
a sample once; the window logic is :mod:`~kubeops.respond.sources.window`.

The identity is identity_of(kind, namespace, name, resource, above, for, window
start rounded to the window).  A cluster without the metrics API is logged and
polled again (metrics-server may be installed later), never reported as low usage.
"""

from __future__ import annotations

import asyncio
import datetime
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kubeops.api import Client
from kubeops.errors import KubeopsError, NotFound, UnknownKind
from kubeops.models import Quantity, QuantityError
from kubeops.respond.event import USAGE, Event, Object, identity_of
from kubeops.respond.model import Trigger
from kubeops.respond.sources._params import (
    Scope,
    check_names,
    check_scope,
    collect,
    duration_param,
    number_param,
    timestamp,
    watched_namespaces,
)
from kubeops.respond.sources._watch import Watch, WatchingSource, log
from kubeops.respond.sources.window import Window, window_start

__all__ = [
    "DEFAULT_INTERVAL",
    "KINDS",
    "RESOURCES",
    "USAGE_HIGH",
    "Meter",
    "UsageSource",
    "matches",
    "meters",
    "node_percent",
    "pod_percent",
    "validate",
]

USAGE_HIGH = "UsageHigh"
KINDS = ("Pod", "Node", "Deployment")
RESOURCES = ("cpu", "memory")
PARAMS = ("resource", "above", "for")
DEFAULT_INTERVAL = 15.0
_REDISCOVER = 60.0  # seconds between discovery refreshes while the metrics API is missing


def validate(trigger: Trigger) -> list[str]:
    """Problems with a usage trigger, each a phrase naming the field."""
    params = trigger.params
    problems = check_names(trigger, (USAGE_HIGH,)) + check_scope(trigger)
    if trigger.kind not in KINDS:
        problems.append(f"kind: must be Pod, Node or Deployment, not {trigger.kind or 'empty'!r}")
    problems += [
        f"params.{key}: unknown for a usage trigger (one of {', '.join(PARAMS)})"
        for key in sorted(set(params) - set(PARAMS))
    ]
    if params.get("resource") not in RESOURCES:
        problems.append(f"params.resource: must be cpu or memory, not {params.get('resource')!r}")
    problems += collect(
        lambda: number_param(params, "above"), lambda: duration_param(params, "for")
    )
    return problems


@dataclass(frozen=True, slots=True)
class Meter:
    """What one trigger measures: a kind's resource above a percentage for some seconds."""

    kind: str
    resource: str
    above: float
    seconds: float

    def params(self) -> dict[str, Any]:
        """The meter as the event's payload carries it (and the matcher compares)."""
        return {
            "kind": self.kind,
            "resource": self.resource,
            "above": self.above,
            "window": self.seconds,
        }


def meters(trigger: Trigger) -> Meter:
    """The meter of a validated usage trigger."""
    params = trigger.params
    return Meter(
        trigger.kind,
        str(params["resource"]),
        number_param(params, "above"),
        duration_param(params, "for"),
    )


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether a usage event answers ``trigger``: kind, resource, threshold, window, scope."""
    if event.source != USAGE or (trigger.names and event.name not in trigger.names):
        return False
    wanted = meters(trigger).params()
    if any(event.payload.get(key) != value for key, value in wanted.items()):
        return False
    return Scope.of(trigger).matches(event.object)


# -- percentages (pure) ---------------------------------------------------------------------


def _quantity(value: object) -> Fraction | None:
    if value is None:
        return None
    try:
        return Quantity(str(value)).as_fraction()
    except QuantityError:
        return None


def pod_percent(pod: Object, metrics: Object, resource: str) -> float | None:
    """The Pod's usage of ``resource`` as a percentage of its containers' requests."""
    requests: dict[str, Fraction] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        wanted = _quantity(((container.get("resources") or {}).get("requests") or {}).get(resource))
        if wanted is not None and wanted > 0:
            requests[str(container.get("name"))] = wanted
    used = Fraction(0)
    counted = Fraction(0)
    for container in metrics.get("containers") or []:
        name = str(container.get("name"))
        amount = _quantity((container.get("usage") or {}).get(resource))
        if name in requests and amount is not None:
            used += amount
            counted += requests[name]
    if counted <= 0:
        return None
    return float(used * 100 / counted)


def node_percent(node: Object, metrics: Object, resource: str) -> float | None:
    """The Node's usage of ``resource`` as a percentage of its allocatable (else capacity)."""
    status = node.get("status") or {}
    total = _quantity((status.get("allocatable") or {}).get(resource)) or _quantity(
        (status.get("capacity") or {}).get(resource)
    )
    used = _quantity((metrics.get("usage") or {}).get(resource))
    if total is None or used is None or total <= 0:
        return None
    return float(used * 100 / total)


def deployment_of(pod: Object) -> str | None:
    """The Deployment a Pod belongs to: its ReplicaSet owner's name less the template hash."""
    meta = pod.get("metadata") or {}
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    for owner in meta.get("ownerReferences") or []:
        if owner.get("kind") == "ReplicaSet" and owner.get("controller") and template_hash:
            name = str(owner.get("name") or "")
            suffix = f"-{template_hash}"
            if name.endswith(suffix):
                return name[: -len(suffix)]
    return None


def _sample_time(metrics: Object) -> float:
    moment = timestamp(metrics.get("timestamp"))
    return moment.timestamp() if moment is not None else time.time()


# -- the source -----------------------------------------------------------------------------


class UsageSource(WatchingSource):
    """Polls the metrics API and fires ``UsageHigh`` for the usage triggers."""

    name = USAGE

    def __init__(
        self,
        client: Client,
        triggers: Sequence[Trigger],
        *,
        interval: float = DEFAULT_INTERVAL,
        **settings: Any,
    ) -> None:
        super().__init__(client, triggers, **settings)
        self.interval = max(1.0, float(interval))
        self.meters: dict[Meter, list[Scope]] = {}
        for trigger in self.triggers:
            self.meters.setdefault(meters(trigger), []).append(Scope.of(trigger))
        self._windows: dict[tuple[Meter, str], Window] = {}
        self._stores: dict[str, list[Watch]] = {}
        self._missing_since: float | None = None
        self._rediscovered = 0.0
        self._refresh: asyncio.Task[Any] | None = None

    def _namespaces(self, kinds: Iterable[str]) -> tuple[str, ...] | None:
        return watched_namespaces(t for t in self.triggers if t.kind in kinds)

    async def watch(self) -> None:
        """Watch the objects measured (their metrics are polled, not watched)."""
        kinds = {m.kind for m in self.meters}
        if kinds & {"Pod", "Deployment"}:
            self._stores["Pod"] = await self.feed.watch(
                "v1/Pod", self._namespaces(kinds - {"Node"})
            )
        if "Deployment" in kinds:
            self._stores["Deployment"] = await self.feed.watch(
                "apps/v1/Deployment", self._namespaces({"Deployment"})
            )
        if "Node" in kinds:
            self._stores["Node"] = await self.feed.watch("v1/Node", None)

    async def follow(self) -> None:
        """Poll every ``interval``; ready once the first poll is done."""
        while True:
            await self.poll()
            self.ready.set()
            await asyncio.sleep(self.interval)

    async def poll(self) -> None:
        """Read the metrics once and feed every meter's windows."""
        try:
            pods = (
                await self._metrics("pods.metrics.k8s.io", "Pod") if "Pod" in self._stores else []
            )
            nodes = (
                await self._metrics("nodes.metrics.k8s.io", "Node")
                if "Node" in self._stores
                else []
            )
        except (UnknownKind, NotFound) as err:
            self._missing(err)
            return
        except KubeopsError as err:
            log.warning("usage: reading the metrics API failed (%s); trying again", err)
            return
        self._missing_since = None
        objects = {kind: _by_key(watches) for kind, watches in self._stores.items()}
        sampled: set[tuple[Meter, str]] = set()
        for meter, scopes in self.meters.items():
            for key, obj, percent, at in self._percentages(meter, objects, pods, nodes):
                if any(s.matches(obj) for s in scopes):
                    sampled.add((meter, key))
                    self._sample(meter, key, obj, percent, at)
        # Pods come and go: a subject without a sample this round forgets its window.
        for gone in set(self._windows) - sampled:
            del self._windows[gone]

    async def _metrics(self, resource: str, kind: str) -> list[Object]:
        namespaces = self._namespaces({"Pod", "Deployment"}) if kind == "Pod" else None
        if namespaces is None:
            listed = await self.client.list(resource, all_namespaces=kind == "Pod")
            items: list[Object] = listed.get("items") or []
            return items
        found: list[Object] = []
        for namespace in namespaces:
            found += (await self.client.list(resource, namespace)).get("items") or []
        return found

    def _missing(self, err: BaseException) -> None:
        moment = time.monotonic()
        if self._missing_since is None:
            self._missing_since = moment
            log.warning(
                "usage: the metrics API (metrics.k8s.io) is not served (%s); polling on", err
            )
        if moment - self._rediscovered > _REDISCOVER:
            self._rediscovered = moment
            self._refresh = asyncio.get_running_loop().create_task(self.client.refresh_discovery())

    def _percentages(
        self,
        meter: Meter,
        objects: Mapping[str, Mapping[str, Object]],
        pods: list[Object],
        nodes: list[Object],
    ) -> Iterable[tuple[str, Object, float, float]]:
        if meter.kind == "Node":
            for metrics in nodes:
                key = _key(metrics)
                node = objects["Node"].get(key)
                percent = node_percent(node, metrics, meter.resource) if node else None
                if node is not None and percent is not None:
                    yield key, node, percent, _sample_time(metrics)
            return
        per_pod = []
        for metrics in pods:
            key = _key(metrics)
            pod = objects["Pod"].get(key)
            percent = pod_percent(pod, metrics, meter.resource) if pod else None
            if pod is not None and percent is not None:
                per_pod.append((key, pod, percent, _sample_time(metrics)))
        if meter.kind == "Pod":
            yield from per_pod
            return
        grouped: dict[str, list[tuple[float, float]]] = {}
        for _, pod, percent, at in per_pod:
            owner = deployment_of(pod)
            if owner is not None:
                namespace = (pod.get("metadata") or {}).get("namespace") or ""
                grouped.setdefault(f"{namespace}/{owner}", []).append((percent, at))
        for key, figures in grouped.items():
            deployment = objects["Deployment"].get(key)
            if deployment is not None:
                mean = sum(p for p, _ in figures) / len(figures)
                yield key, deployment, mean, max(at for _, at in figures)

    def _sample(self, meter: Meter, key: str, obj: Object, percent: float, at: float) -> None:
        window = self._windows.get((meter, key))
        if window is None:
            window = Window(meter.above, meter.seconds, max_gap=max(3 * self.interval, 60.0))
            self._windows[(meter, key)] = window
        breach = window.add(at, percent)
        if breach is None:
            return
        namespace, _, name = key.rpartition("/")
        start = window_start(breach.start, meter.seconds)
        self.feed.put(
            Event(
                USAGE_HIGH,
                USAGE,
                datetime.datetime.fromtimestamp(breach.end, datetime.UTC),
                payload={
                    **meter.params(),
                    "percent": round(breach.mean, 1),
                    "lowest": round(breach.lowest, 1),
                    "samples": breach.samples,
                    "from": datetime.datetime.fromtimestamp(breach.start, datetime.UTC).isoformat(),
                },
                object=obj,
                identity=identity_of(
                    USAGE_HIGH,
                    meter.kind,
                    namespace,
                    name,
                    meter.resource,
                    meter.above,
                    meter.seconds,
                    start if math.isfinite(start) else breach.start,
                ),
            )
        )


def _key(obj: Object) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = str(meta.get("name") or "")
    return f"{namespace}/{name}" if namespace else name


def _by_key(watches: list[Watch]) -> dict[str, Object]:
    found: dict[str, Object] = {}
    for watch in watches:
        for obj in watch.informer.store.list():
            found[_key(obj)] = obj
    return found
