"""Container logs of a Pod, or of every Pod of a workload, as ``kubectl logs`` shows them.

Logs come from the API server's ``pods/{name}/log`` subresource, which proxies
the kubelet of the Pod's node.  A Deployment, ReplicaSet, StatefulSet,
DaemonSet, ReplicationController or Job is resolved to the scheduled Pods its
``spec.selector`` matches (all of them, where ``kubectl logs deploy/web`` picks
one); each line says which Pod and container it came from
(:attr:`LogLine.prefix`).  Without ``container`` a Pod's default container is
read: the one its ``kubectl.kubernetes.io/default-container`` annotation names,
else the first.

Without ``follow`` the Pods are read one after another, sorted by name; with
``follow`` they are read at once and their lines interleave as they arrive,
until every stream ends or the caller stops iterating.  Empty log lines are not
reported (:meth:`~kubeops.api.Client.stream_text` skips them).

:func:`logs` takes an async :class:`~kubeops.api.Client` (and returns an async
iterator) or a :class:`~kubeops.api.SyncClient` (and returns a blocking iterator);
:func:`pods_for` likewise returns a coroutine or, with a SyncClient, the Pods.
"""

from __future__ import annotations

import asyncio
import datetime
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeops.api import Client, Object, ResourceType, either_client, either_client_stream
from kubeops.errors import KubeopsError

__all__ = ["DEFAULT_CONTAINER_ANNOTATION", "LogLine", "label_selector", "logs", "pods_for"]

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
_PODS = ResourceType("", "v1", "Pod", "pods", True, ("po",), singular="pod")


@dataclass(frozen=True)
class LogLine:
    """One line of a container's log, without its line break."""

    namespace: str
    pod: str
    container: str
    text: str
    timestamp: str | None = None
    """The RFC 3339 time the runtime recorded, when asked for with ``timestamps``."""

    @property
    def prefix(self) -> str:
        """``[pod/NAME/CONTAINER]``, as ``kubectl logs --prefix`` writes it."""
        return f"[pod/{self.pod}/{self.container}]"

    def format(self, *, prefix: bool = False) -> str:
        """The line as ``kubectl logs`` prints it (with ``--prefix`` when ``prefix``)."""
        text = f"{self.timestamp} {self.text}" if self.timestamp is not None else self.text
        return f"{self.prefix} {text}" if prefix else text


@either_client_stream
def logs(
    client: Client,
    kind: str | ResourceType,
    name: str,
    namespace: str | None = None,
    *,
    container: str | None = None,
    follow: bool = False,
    since: float | datetime.timedelta | None = None,
    since_time: datetime.datetime | None = None,
    tail: int | None = None,
    timestamps: bool = False,
) -> AsyncIterator[LogLine]:
    """The log lines of a Pod's container, or of each Pod of a workload.

    ``since`` (seconds, or a timedelta) and ``since_time`` keep the lines written
    after that; ``tail`` keeps the last lines of each container (``None`` or a
    negative number: all); ``timestamps`` fills :attr:`LogLine.timestamp`;
    ``follow`` keeps streaming new lines.  An unknown object raises
    :class:`~kubeops.errors.NotFound`; a container that is not in the
    Pod, or that has not started, the API server's
    :class:`~kubeops.errors.BadRequest`.
    """
    # Checked here, not on the first line read: bad arguments fail at the call.
    params = _params(follow, since, since_time, tail, timestamps)
    return _logs(client, kind, name, namespace, container, params, timestamps)


@either_client
async def pods_for(
    client: Client, kind: str | ResourceType, name: str, namespace: str | None = None
) -> list[Object]:
    """The Pod itself, or the scheduled Pods a workload's selector matches, by name.

    A workload whose Pods are not scheduled yet has none (logs exist only on a node).
    """
    resource = await client.resource(kind)
    obj = await client.get(resource, name, namespace)
    if resource.group == "" and resource.kind == "Pod":
        return [obj]
    selector = (obj.get("spec") or {}).get("selector")
    if not isinstance(selector, Mapping):
        raise KubeopsError(
            f"logs: a {resource.kind} has no Pod selector; name a Pod or a workload "
            "(Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController)"
        )
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}  # a ReplicationController's plain map
    query = label_selector(selector)
    if not query:
        raise KubeopsError(f"logs: {resource.kind.lower()}/{name} selects every Pod")
    ns = str(obj.get("metadata", {}).get("namespace") or namespace or client.namespace)
    items: list[Object] = (await client.list(_PODS, ns, label_selector=query))["items"]
    scheduled = [p for p in items if (p.get("spec") or {}).get("nodeName")]
    return sorted(scheduled, key=lambda p: str(p.get("metadata", {}).get("name", "")))


def label_selector(selector: Mapping[str, Any]) -> str:
    """A ``metav1.LabelSelector`` (matchLabels, matchExpressions) as a query string."""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = ",".join(expression.get("values") or [])
        if operator == "In":
            terms.append(f"{key} in ({values})")
        elif operator == "NotIn":
            terms.append(f"{key} notin ({values})")
        elif operator == "Exists":
            terms.append(key)
        elif operator == "DoesNotExist":
            terms.append(f"!{key}")
        else:
            raise KubeopsError(f"logs: unknown label selector operator {operator!r}")
    return ",".join(terms)


def _params(
    follow: bool,
    since: float | datetime.timedelta | None,
    since_time: datetime.datetime | None,
    tail: int | None,
    timestamps: bool,
) -> dict[str, str]:
    params: dict[str, str] = {}
    if follow:
        params["follow"] = "true"
    if since is not None and since_time is not None:
        raise ValueError("logs: give since or since_time, not both")
    if since is not None:
        seconds = since.total_seconds() if isinstance(since, datetime.timedelta) else since
        if seconds <= 0:
            raise ValueError(f"logs: since must be positive, not {since!r}")
        params["sinceSeconds"] = str(max(1, math.ceil(seconds)))
    if since_time is not None:
        moment = since_time if since_time.tzinfo else since_time.replace(tzinfo=datetime.UTC)
        params["sinceTime"] = moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if tail is not None and tail >= 0:
        params["tailLines"] = str(tail)
    if timestamps:
        params["timestamps"] = "true"
    return params


def _default_container(pod: Object) -> str:
    meta = pod.get("metadata", {})
    annotated = (meta.get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    if annotated:
        return str(annotated)
    containers: Sequence[Mapping[str, Any]] = (pod.get("spec") or {}).get("containers") or []
    if not containers:
        raise KubeopsError(f"logs: pod {meta.get('name')!r} has no containers")
    return str(containers[0]["name"])


async def _logs(
    client: Client,
    kind: str | ResourceType,
    name: str,
    namespace: str | None,
    container: str | None,
    params: Mapping[str, str],
    timestamps: bool,
) -> AsyncIterator[LogLine]:
    pods = await pods_for(client, kind, name, namespace)
    streams = [
        _pod_log(
            client,
            str(pod["metadata"].get("namespace") or namespace or client.namespace),
            str(pod["metadata"]["name"]),
            container or _default_container(pod),
            params,
            timestamps,
        )
        for pod in pods
    ]
    if "follow" in params and len(streams) > 1:
        async for line in _merge(streams):
            yield line
        return
    for stream in streams:
        async for line in stream:
            yield line


async def _pod_log(
    client: Client,
    namespace: str,
    pod: str,
    container: str,
    params: Mapping[str, str],
    timestamps: bool,
) -> AsyncIterator[LogLine]:
    query = {**params, "container": container}
    async for line in client.stream_text(_PODS, pod, namespace, subresource="log", params=query):
        stamp: str | None = None
        text = line
        if timestamps:
            stamp, _, text = line.partition(" ")
        yield LogLine(namespace, pod, container, text, stamp)


class _End:
    """A stream finished (with ``error`` when it failed)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def _merge(streams: Sequence[AsyncIterator[LogLine]]) -> AsyncIterator[LogLine]:
    """The lines of several streams read at once, in the order they arrive."""
    queue: asyncio.Queue[LogLine | _End] = asyncio.Queue(maxsize=1024)

    async def pump(stream: AsyncIterator[LogLine]) -> None:
        try:
            async for line in stream:
                await queue.put(line)
        except Exception as err:  # handed to the reader, who raises it
            await queue.put(_End(err))
        else:
            await queue.put(_End())

    tasks = [asyncio.create_task(pump(s)) for s in streams]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                running -= 1
                continue
            yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
