"""The cluster's answers to a policy's lookups, from caches: what the admission
webhook (and an audit of what runs) gives a policy as its
:class:`~kubeops.policy.model.Context`.

Namespaces, ResourceQuotas and LimitRanges are watched from the start (shared
informers, so a lookup is a read of a local store, never a request on the
admission path); any other kind a policy asks for (a ValidatingAdmissionPolicy's
``paramKind``, a Gatekeeper inventory kind) gets an informer on first use, and
the first lookup waits for its list.  ``authorize`` asks the API server a
SubjectAccessReview and keeps the answer a few seconds.

Policies are evaluated in worker threads while the informers and the client
live on the event loop: the stores are locked for reading from any thread, and
anything that needs the loop (a new informer, a review) is sent to it and waited
for with a bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from kubeops.api import Client, ResourceType, RetryPolicy
from kubeops.cache import SharedInformer, SharedInformerFactory
from kubeops.errors import KubeopsError, NotFound
from kubeops.policy.context import StaticContext
from kubeops.policy.model import Object, PolicyEvaluationError

T = TypeVar("T")

WATCHED = (("v1", "Namespace"), ("v1", "ResourceQuota"), ("v1", "LimitRange"))
"""Kinds every policy set may look up, watched from the start."""
SUBJECT_ACCESS_REVIEWS = ResourceType(
    "authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False
)


class ClusterContext:
    """A :class:`~kubeops.policy.model.Context` over the cluster's caches.

    ``static`` objects (a policy directory's params) answer a kind the cluster
    has none of.  Call :meth:`start` on the loop before evaluating anything."""

    def __init__(
        self,
        client: Client,
        *,
        static: Iterable[Object] = (),
        lookup_timeout: float = 2.0,
        review_ttl: float = 10.0,
        review_timeout: float = 2.0,
    ) -> None:
        self.client = client
        self.factory = SharedInformerFactory(client)
        self.static = StaticContext(static)
        self.lookup_timeout = lookup_timeout
        self.review_ttl = review_ttl
        self._reviews = client.with_options(
            timeout=review_timeout, retry=RetryPolicy(max_retries=0)
        )
        self._informers: dict[tuple[str, str], SharedInformer] = {}
        self._answers: dict[str, tuple[float, tuple[str, str]]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, kinds: Iterable[tuple[str, str]] = (), timeout: float = 30.0) -> bool:
        """Watch the usual kinds and ``kinds`` (``(apiVersion, kind)`` pairs); True when
        their caches have their first lists within ``timeout`` seconds."""
        self._loop = asyncio.get_running_loop()
        for api_version, kind in (*WATCHED, *kinds):
            await self._informer(api_version, kind, start=False)
        self.factory.start()
        synced = await self.factory.wait_for_cache_sync(timeout)
        return all(synced.values())

    def synced(self) -> bool:
        """Whether every watched kind has its first list."""
        return all(informer.has_synced() for informer in list(self._informers.values()))

    async def stop(self) -> None:
        """Stop every informer."""
        await self.factory.shutdown()

    async def _informer(self, api_version: str, kind: str, *, start: bool = True) -> SharedInformer:
        key = (api_version, kind)
        informer = self._informers.get(key)
        if informer is None:
            informer = await self.factory.informer(f"{api_version}/{kind}")
            self._informers[key] = informer
            if start:
                self.factory.start()
        if start and not informer.has_synced():
            await informer.wait_for_sync(self.lookup_timeout)
        return informer

    # -- the Context protocol (called from worker threads) ------------------------------------

    def namespace(self, name: str) -> Object | None:
        """The Namespace ``name`` from the cache."""
        lister = self._watched("v1", "Namespace").lister()
        try:
            return lister.get(None, name)
        except NotFound:
            return self.static.namespace(name)

    def objects(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> Sequence[Object]:
        """Objects of a kind from the cache (an informer is started on first use);
        the policy directory's when the cluster has none."""
        lister = self._watched(api_version, kind).lister()
        found = lister.list() if namespace is None else lister.namespaced(namespace).list()
        return found or self.static.objects(api_version, kind, namespace)

    def authorize(self, attributes: Mapping[str, Any]) -> tuple[str, str] | None:
        """A SubjectAccessReview of ``attributes`` (its spec), kept ``review_ttl`` seconds:
        ``(allowed|denied|noOpinion, reason)``."""
        key = hashlib.sha256(orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS)).hexdigest()
        now = time.monotonic()
        with self._lock:
            kept = self._answers.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        answer = self._on_loop(self._review(dict(attributes)), "SubjectAccessReview")
        with self._lock:
            if len(self._answers) > 4096:
                self._answers.clear()
            self._answers[key] = (now + self.review_ttl, answer)
        return answer

    async def _review(self, spec: dict[str, Any]) -> tuple[str, str]:
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview"}
        review = await self._reviews.create({**body, "spec": spec}, kind=SUBJECT_ACCESS_REVIEWS)
        status = review.get("status") or {}
        reason = str(status.get("reason") or status.get("evaluationError") or "")
        if status.get("allowed"):
            return "allowed", reason
        if status.get("denied"):
            return "denied", reason
        return "noOpinion", reason

    def _watched(self, api_version: str, kind: str) -> SharedInformer:
        informer = self._informers.get((api_version, kind))
        if informer is not None and informer.has_synced():
            return informer
        informer = self._on_loop(self._informer(api_version, kind), f"the cache of {kind}")
        if not informer.has_synced():
            raise PolicyEvaluationError("", f"the cache of {kind} has not listed it yet")
        return informer

    def _on_loop(self, work: Coroutine[Any, Any, T], what: str) -> T:
        """Run ``work`` on the context's loop and wait (bounded) from this thread."""
        loop = self._loop
        if loop is None:
            work.close()
            raise PolicyEvaluationError("", f"{what}: the cluster context is not started")
        if _on(loop):
            work.close()
            raise PolicyEvaluationError(
                "", f"{what}: a cluster lookup from the event loop itself would block it"
            )
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            return future.result(self.lookup_timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise PolicyEvaluationError(
                "", f"{what}: no answer within {self.lookup_timeout:g}s"
            ) from None
        except KubeopsError as err:
            raise PolicyEvaluationError("", f"{what}: {err}") from None


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
