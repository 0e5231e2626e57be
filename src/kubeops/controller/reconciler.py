"""The reconcile loop: informers turn events into keys, a rate-limited work queue
deduplicates them, and N workers call ``reconcile`` for each.

This is controller-runtime's shape: a reconciler sees only *which* object
changed (namespace and name) and reads the current state from the informer's
lister, so bursts of events for one object collapse into one reconcile, an
object is never reconciled by two workers at once, and failures back off per
object (5 ms doubling to 1000 s, with an overall 10 qps bucket) instead of
hammering the API server.

When tracing, each informer event is a ``controller.event`` span and each
reconcile a ``reconcile`` span continuing the trace of the event that queued its
key (the first one, when several collapsed), retries included.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubeops import telemetry
from kubeops.api import Object
from kubeops.cache.informer import SharedInformer
from kubeops.cache.keys import DeletedFinalStateUnknown
from kubeops.workqueue import QueueShutDown, RateLimitingQueue, default_controller_rate_limiter
from kubeops.workqueue.metrics import MetricsProvider
from kubeops.workqueue.rate_limiters import RateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """Which object to reconcile: namespace ("" for cluster-scoped) and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Result:
    """What a reconcile asks for next: nothing, or to run again after ``requeue_after``."""

    requeue_after: float | None = None


Reconcile = Callable[[Request], Awaitable[Result | None]]
Mapper = Callable[[Object], list[Request]]


def request_for(obj: Object | DeletedFinalStateUnknown) -> list[Request]:
    """The object's own key (tombstones included)."""
    if isinstance(obj, DeletedFinalStateUnknown):
        namespace, _, name = obj.key.rpartition("/")
        return [Request(namespace, name)]
    meta = obj.get("metadata", {})
    return [Request(meta.get("namespace", ""), meta["name"])]


@dataclass
class ControllerStats:
    """Counters a metrics exporter reads (see :mod:`kubeops.controller.metrics`)."""

    reconciles: int = 0
    errors: int = 0
    requeues: int = 0
    active_workers: int = 0
    total_seconds: float = 0.0


class Controller:
    """Reconciles objects of the watched informers with ``workers`` concurrent workers."""

    def __init__(
        self,
        name: str,
        reconcile: Reconcile,
        *,
        workers: int = 2,
        rate_limiter: RateLimiter[Request] | None = None,
        metrics_provider: MetricsProvider | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"controller {name!r} needs at least one worker, not {workers}")
        self.name = name
        self.reconcile = reconcile
        self.workers = workers
        self.queue: RateLimitingQueue[Request] = RateLimitingQueue(
            rate_limiter or default_controller_rate_limiter(),
            name=name,
            metrics_provider=metrics_provider,
        )
        self.stats = ControllerStats()
        self._informers: list[SharedInformer] = []
        self.on_reconciled: Callable[[Request, float, BaseException | None], None] | None = None

    def watch(
        self,
        informer: SharedInformer,
        map_to: Callable[[Any], list[Request]] = request_for,
        predicate: Callable[[Object], bool] | None = None,
    ) -> None:
        """Enqueue what ``map_to`` returns for each add, update and delete of ``informer``.

        ``predicate`` filters objects (e.g. only those with an annotation); updates
        whose object did not change (resyncs) are still delivered, as in client-go.
        """
        self._informers.append(informer)

        def enqueue(obj: Any, event: str) -> None:
            target = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
            if predicate is not None and target is not None and not predicate(target):
                return
            if not telemetry.tracing_enabled():
                for request in map_to(obj):
                    self.queue.add(request)
                return
            with telemetry.span("controller.event", self._event_attributes(event, target)):
                for request in map_to(obj):
                    self.queue.add(request)

        informer.add_handler(
            on_add=lambda obj, _initial: enqueue(obj, "add"),
            on_update=lambda _old, new: enqueue(new, "update"),
            on_delete=lambda obj: enqueue(obj, "delete"),
        )

    def _event_attributes(self, event: str, obj: Any) -> telemetry.Attributes:
        found = obj if isinstance(obj, dict) else {}
        meta = found.get("metadata") or {}
        attributes: telemetry.Attributes = {
            "kubeops.controller": self.name,
            "kubeops.event.type": event,
            "kubeops.kind": str(found.get("kind") or ""),
            "kubeops.name": str(meta.get("name") or ""),
        }
        if meta.get("namespace"):
            attributes["k8s.namespace.name"] = str(meta["namespace"])
        return attributes

    async def run(self, *, sync_timeout: float | None = None) -> None:
        """Start the informers, wait for their caches, run the workers until cancelled.

        On cancel the queue is drained: reconciles in progress finish, nothing new starts.
        """
        for informer in self._informers:
            informer.start()
        for informer in self._informers:
            if not await informer.wait_for_sync(sync_timeout):
                raise TimeoutError(
                    f"controller {self.name}: cache of {informer.reflector.description} "
                    f"did not sync within {sync_timeout}s"
                )
        log.info("controller %s: caches synced, starting %d workers", self.name, self.workers)
        workers = [
            asyncio.create_task(self._worker(), name=f"{self.name} worker {i}")
            for i in range(self.workers)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            self.queue.shutdown()
            await asyncio.shield(self.queue.shutdown_with_drain())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            try:
                request = await self.queue.get()
            except QueueShutDown:
                return
            try:
                await self._process(request)
            finally:
                self.queue.done(request)

    async def _process(self, request: Request) -> None:
        started = time.monotonic()
        self.stats.active_workers += 1
        error: BaseException | None = None
        result: Result | None = None
        try:
            with telemetry.span(
                "reconcile",
                self._reconcile_attributes(request),
                parent=self.queue.trace_context(request),
            ) as span:
                try:
                    result = await self.reconcile(request)
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    error = err
                    self.stats.errors += 1
                    attempt = self.queue.num_requeues(request) + 1
                    log.warning(
                        "controller %s: reconcile %s failed (attempt %d), retrying: %s",
                        self.name,
                        request,
                        attempt,
                        err,
                    )
                    telemetry.fail(span, f"attempt {attempt}: {err}", type(err).__name__)
                    # Inside the span: the retry continues this trace.
                    self.queue.add_rate_limited(request)
            if error is None:
                self.queue.forget(request)
                if result is not None and result.requeue_after is not None:
                    # Outside the span: a periodic requeue starts a trace of its own.
                    self.stats.requeues += 1
                    self.queue.add_after(request, result.requeue_after)
        finally:
            elapsed = time.monotonic() - started
            self.stats.active_workers -= 1
            self.stats.reconciles += 1
            self.stats.total_seconds += elapsed
            if self.on_reconciled is not None:
                self.on_reconciled(request, elapsed, error)

    def _reconcile_attributes(self, request: Request) -> telemetry.Attributes | None:
        if not telemetry.tracing_enabled():
            return None
        attributes: telemetry.Attributes = {
            "kubeops.controller": self.name,
            "kubeops.name": request.name,
            "kubeops.reconcile.attempt": self.queue.num_requeues(request) + 1,
        }
        if request.namespace:
            attributes["k8s.namespace.name"] = request.namespace
        return attributes
