"""Who is calling: the bearer token of a request, checked against a token file or by
the API server (a TokenReview), as kube-rbac-proxy and the Kubernetes components'
delegated authentication do.

An authenticator answers a :class:`User`, or raises :class:`Unauthenticated` with
a reason for the log; the client is told only ``401``.  Answers of the API server
are kept for a few seconds (keyed by a hash of the token, never the token itself),
so a Prometheus scraping every 15 s costs one review per TTL, not one per scrape.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubeops.api import Client, ResourceType, RetryPolicy
from kubeops.config.inputs import InputError, read_bounded
from kubeops.controller.serving.decisions import Decisions
from kubeops.controller.serving.options import ServingError
from kubeops.errors import KubeopsError

TOKEN_REVIEWS = ResourceType("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False)
TOKEN_FILE_LIMIT = 64 * 1024
MAX_TOKEN = 16 * 1024
"""Longer bearer tokens are refused without asking anyone (ServiceAccount tokens are ~1 KiB)."""


class Unauthenticated(KubeopsError):
    """The request carries no usable credentials; the message is for the log only."""


@dataclass(frozen=True)
class User:
    """The caller, as a SubjectAccessReview names it."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


class Authenticator(Protocol):
    """Turns a request's bearer token into a :class:`User`."""

    async def authenticate(self, token: str) -> User:
        """The caller holding ``token``; :class:`Unauthenticated` when it is not valid."""
        ...


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer TOKEN`` header, or :class:`Unauthenticated`."""
    if not header:
        raise Unauthenticated("no Authorization header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header is not 'Bearer TOKEN'")
    if len(token) > MAX_TOKEN:
        raise Unauthenticated(f"the bearer token is longer than {MAX_TOKEN} characters")
    return token


class TokenFile:
    """One shared bearer token kept in a file (a mounted Secret): compared in constant time,
    and read again whenever the file changes, so a rotated Secret takes effect without a
    restart.  A file that becomes unreadable or empty lets nobody in until it is fixed."""

    user = User("token-file")

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int, int] | None = None
        self._token: bytes | None = None
        self._problem = ""
        self._reload()
        if self._token is None:
            raise ServingError(f"--auth-token-file {path}: {self._problem}")

    def _reload(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError as err:
            self._fail(f"cannot read it: {err.strerror}", None)
            return
        stamp = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
        if stamp == self._stamp:
            return
        try:
            text = read_bounded(self.path, limit=TOKEN_FILE_LIMIT, what="token file").strip()
        except InputError as err:
            self._fail(err.cause, stamp)
            return
        if not text or b"\n" in text:
            self._fail("expected one token on one line", stamp)
            return
        self._stamp, self._token, self._problem = stamp, text, ""

    def _fail(self, problem: str, stamp: tuple[int, int, int, int] | None) -> None:
        self._stamp, self._token, self._problem = stamp, None, problem

    async def authenticate(self, token: str) -> User:
        """The file's user when ``token`` is the file's token."""
        self._reload()
        if self._token is None:
            raise Unauthenticated(f"token file {self.path}: {self._problem}")
        if not hmac.compare_digest(token.encode(), self._token):
            raise Unauthenticated("the bearer token does not match the token file")
        return self.user


class TokenReviewAuthenticator:
    """The API server says who holds a token (a TokenReview, through ``client``)."""

    def __init__(
        self,
        client: Client,
        *,
        ttl: float = 10.0,
        timeout: float = 5.0,
        audiences: tuple[str, ...] = (),
        concurrency: int = 8,
    ) -> None:
        self.client = client.with_options(timeout=timeout, retry=RetryPolicy(max_retries=0))
        self.audiences = audiences
        self._answers: Decisions[User | str] = Decisions(ttl)
        self._limit = asyncio.Semaphore(concurrency)

    async def authenticate(self, token: str) -> User:
        """The user the API server names for ``token``; Unauthenticated when it does not
        know the token or cannot be asked."""
        key = hashlib.sha256(token.encode()).hexdigest()
        answer = self._answers.get(key)
        if answer is None:
            answer = await self._review(token)
            self._answers.put(key, answer)
        if isinstance(answer, str):
            raise Unauthenticated(answer)
        return answer

    async def _review(self, token: str) -> User | str:
        spec: dict[str, Any] = {"token": token}
        if self.audiences:
            spec["audiences"] = list(self.audiences)
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        started = time.monotonic()
        try:
            async with self._limit:
                review = await self.client.create(body, kind=TOKEN_REVIEWS)
        except KubeopsError as err:
            return f"TokenReview failed after {time.monotonic() - started:.1f}s: {err}"
        status = review.get("status") or {}
        if not status.get("authenticated"):
            return f"TokenReview: not authenticated{_reason(status.get('error'))}"
        user = status.get("user") or {}
        extra = user.get("extra") or {}
        return User(
            name=str(user.get("username") or ""),
            uid=str(user.get("uid") or ""),
            groups=tuple(str(g) for g in user.get("groups") or ()),
            extra={str(k): [str(v) for v in vs] for k, vs in extra.items()},
        )


def _reason(error: object) -> str:
    return f": {str(error)[:200]}" if error else ""
