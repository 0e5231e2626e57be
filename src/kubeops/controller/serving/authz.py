"""What a caller may do: a SubjectAccessReview per request, as kube-rbac-proxy asks it.

By default a request is authorized as a non-resource URL, ``get /metrics`` for a GET
of ``/metrics``, so a ClusterRole rule ``nonResourceURLs: ["/metrics"], verbs:
["get"]`` lets a ServiceAccount (Prometheus's) scrape.  With
:class:`~kubeops.controller.serving.options.ResourceAttributes` every request is
authorized against that resource instead (``get services/proxy`` in a namespace).
Answers are kept for a few seconds per user and request.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import orjson

from kubeops.api import Client, ResourceType, RetryPolicy
from kubeops.controller.serving.authn import User
from kubeops.controller.serving.decisions import Decisions
from kubeops.controller.serving.options import ResourceAttributes
from kubeops.errors import KubeopsError

SUBJECT_ACCESS_REVIEWS = ResourceType(
    "authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False
)
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch"}


class Forbidden(KubeopsError):
    """The caller may not make this request; the message is for the log only."""


def verb_of(method: str) -> str:
    """The Kubernetes verb for an HTTP method (``GET`` is ``get``, ``POST`` ``create``)."""
    return _VERBS.get(method.upper(), method.lower())


class SubjectAccessReviewAuthorizer:
    """Asks the API server (through ``client``) whether a user may make a request."""

    def __init__(
        self,
        client: Client,
        *,
        resource: ResourceAttributes | None = None,
        ttl: float = 10.0,
        timeout: float = 5.0,
        concurrency: int = 8,
    ) -> None:
        self.client = client.with_options(timeout=timeout, retry=RetryPolicy(max_retries=0))
        self.resource = resource
        self._answers: Decisions[str] = Decisions(ttl)
        self._limit = asyncio.Semaphore(concurrency)

    def attributes(self, method: str, path: str) -> dict[str, Any]:
        """The review's attributes for a request (without the user)."""
        verb = verb_of(method)
        if self.resource is not None:
            return {"resourceAttributes": self.resource.review(verb)}
        return {"nonResourceAttributes": {"verb": verb, "path": path}}

    async def authorize(self, user: User, method: str, path: str) -> None:
        """Return when ``user`` may make the request; raise :class:`Forbidden` otherwise
        (also when the API server cannot be asked)."""
        spec: dict[str, Any] = {**self.attributes(method, path), "user": user.name}
        if user.uid:
            spec["uid"] = user.uid
        if user.groups:
            spec["groups"] = list(user.groups)
        if user.extra:
            spec["extra"] = user.extra
        key = hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()
        denial = self._answers.get(key)
        if denial is None:
            denial = await self._review(spec)
            self._answers.put(key, denial)
        if denial:
            raise Forbidden(denial)

    async def _review(self, spec: dict[str, Any]) -> str:
        """``""`` when allowed, else why not."""
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
        }
        started = time.monotonic()
        try:
            async with self._limit:
                review = await self.client.create(body, kind=SUBJECT_ACCESS_REVIEWS)
        except KubeopsError as err:
            return f"SubjectAccessReview failed after {time.monotonic() - started:.1f}s: {err}"
        status = review.get("status") or {}
        if status.get("allowed") and not status.get("denied"):
            return ""
        reason = str(status.get("reason") or status.get("evaluationError") or "")[:200]
        return "SubjectAccessReview: not allowed" + (f" ({reason})" if reason else "")
