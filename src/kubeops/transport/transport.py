"""One cluster's HTTP transport: a pooled aiohttp session with TLS and credentials,
a client-side rate limiter, retries with backoff, a circuit breaker, and the
typed errors of :mod:`kubeops.transport.errors`.

Everything above this layer sends requests through :meth:`Transport.request`
(a whole response) or :meth:`Transport.stream` (a line stream, for watches).
aiohttp was chosen over httpx by measurement (``bench/transport_choice.py``,
recorded in docs/decisions.md): ~1.6x less time per small GET.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from kubeops import __version__, telemetry
from kubeops.config import ClusterConfig, Credential, strip_userinfo
from kubeops.telemetry.client_metrics import CLIENT_METRICS, ERROR_CODE
from kubeops.transport._aiohttp import aiohttp
from kubeops.transport.backoff import RetryPolicy, parse_retry_after
from kubeops.transport.breaker import CircuitBreaker
from kubeops.transport.errors import ApiError, ConnectionFailed, error_from_response
from kubeops.transport.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket

# Bodies from this size up are decoded with the cyclic GC paused (see decode_json).
GC_PAUSE_BYTES = 256 * 1024

USER_AGENT = f"kubeops/{__version__}"

LOG = logging.getLogger("kubeops.transport")
"""One DEBUG line per request (method, path, status, time; never headers or bodies)."""


@dataclass(frozen=True)
class Timeouts:
    """Connect timeout, and a whole-request timeout for non-streaming requests (None = none)."""

    connect: float = 10.0
    request: float | None = 60.0


@dataclass(frozen=True)
class Operation:
    """What a request does, in the words error messages use."""

    verb: str
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Response:
    """A whole response: status, headers and the undecoded body."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return decode_json(self.content)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")


def decode_json(content: bytes) -> Any:
    """``orjson.loads``, with Python's cyclic garbage collector paused for large bodies.

    Decoded JSON is a tree, so a collection triggered by the decode's own
    allocations can free nothing -- yet each one traverses every tracked object
    alive, and a large list allocates enough to trigger several: measured
    (bench/, docs/benchmarks.md), a LIST of 10,000 ConfigMaps decodes in half the
    time with the collector paused.  The pause is process-wide but lasts only the
    decode; the collector is left off if something else had switched it off.
    """
    if len(content) < GC_PAUSE_BYTES or not gc.isenabled():
        return orjson.loads(content)
    gc.disable()
    try:
        return orjson.loads(content)
    finally:
        gc.enable()


class Transport:
    """The connection to one cluster; create one per cluster and share it."""

    def __init__(
        self,
        config: ClusterConfig,
        *,
        qps: float = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        timeouts: Timeouts | None = None,
        pool_size: int = 100,
    ) -> None:
        self.config = config
        # A user:password in the server URL is basic auth (as in Go's net/http: used only
        # when no token is sent); the URL kept, requested and shown has no userinfo.
        self.server = strip_userinfo(config.server).rstrip("/")
        self._url_auth = _url_basic_auth(config.server)
        self.limiter = TokenBucket(qps=qps, burst=burst)
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(self.server)
        self.timeouts = timeouts or Timeouts()
        self.pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._ssl: dict[tuple[bytes | None, bytes | None], ssl.SSLContext] = {}
        self._base_headers = self._static_headers()
        self._host = urlsplit(self.server).hostname or ""
        self._netloc = urlsplit(self.server).netloc  # client-go's host label: host:port

    async def close(self) -> None:
        """Close the connection pool; the next request opens a new one."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        operation: Operation,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Response:
        """Send one request, retrying what may be retried; raise a typed error otherwise.

        ``timeout`` and ``retry`` replace the transport's own for this request only.
        """
        async with self._choose_exchange()(
            method,
            path,
            operation,
            params,
            body,
            content_type,
            accept,
            timeout,
            retry or self.retry,
            limited=True,
        ) as response:
            content = await response.read()
            return Response(response.status, response.headers, content)

    async def stream(
        self,
        method: str,
        path: str,
        operation: Operation,
        *,
        params: Mapping[str, str] | None = None,
        accept: str = "application/json",
        retry: RetryPolicy | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield the response body line by line (a watch), without the rate limiter.

        Lines may be any length: objects larger than aiohttp's line buffer are
        reassembled here rather than rejected.
        """
        async with self._choose_exchange()(
            method,
            path,
            operation,
            params,
            None,
            None,
            accept,
            None,
            retry or self.retry,
            limited=False,
        ) as response:
            # Each chunk is split once, and the pieces of a line spanning chunks are
            # joined once: slicing the rest after every line, or adding every chunk to
            # what is pending, would copy a chunk of n lines (a big object) n times.
            parts: list[bytes] = []
            try:
                async for chunk in response.content.iter_any():
                    if b"\n" not in chunk:
                        parts.append(chunk)
                        continue
                    lines = chunk.split(b"\n")
                    if parts:
                        parts.append(lines[0])
                        lines[0] = b"".join(parts)
                        parts = []
                    if tail := lines.pop():
                        parts.append(tail)
                    for line in lines:
                        if line and not line.isspace():
                            yield line
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as err:
                raise self._connection_failed(operation, err) from err
            rest = b"".join(parts)
            if rest and not rest.isspace():
                yield rest

    def _choose_exchange(
        self,
    ) -> Callable[..., AbstractAsyncContextManager[aiohttp.ClientResponse]]:
        # The traced exchange wraps the plain one; untraced requests skip that layer (~6 us).
        return self._traced_exchange if telemetry.tracing_enabled() else self._exchange

    @contextlib.asynccontextmanager
    async def _traced_exchange(
        self,
        method: str,
        path: str,
        operation: Operation,
        params: Mapping[str, str] | None,
        body: bytes | None,
        content_type: str | None,
        accept: str,
        timeout: float | None,
        retry: RetryPolicy,
        *,
        limited: bool,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        # One span for the request and its retries; a watch's ends when its headers come.
        span = telemetry.start_span(
            _span_name(method, operation), self._span_attributes(method, operation), client=True
        )
        try:
            async with self._exchange(
                method,
                path,
                operation,
                params,
                body,
                content_type,
                accept,
                timeout,
                retry,
                limited=limited,
                span=span,
            ) as response:
                if not limited:
                    span.end()
                yield response
        except BaseException as err:
            kind = str(err.status) if isinstance(err, ApiError) else type(err).__name__
            telemetry.fail(span, _first_line(err), kind)
            raise
        finally:
            if limited:
                span.end()

    @contextlib.asynccontextmanager
    async def _exchange(
        self,
        method: str,
        path: str,
        operation: Operation,
        params: Mapping[str, str] | None,
        body: bytes | None,
        content_type: str | None,
        accept: str,
        timeout: float | None,
        retry: RetryPolicy,
        *,
        limited: bool,
        span: telemetry.Span = telemetry.NOOP_SPAN,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        session = self._get_session()
        url = self.server + path
        attempt = 0
        reauthenticated = False
        metrics = CLIENT_METRICS
        first = time.perf_counter()
        while True:
            self.breaker.before_request()
            if limited:
                await self.limiter.acquire()
            credential = await self.config.credentials.get()
            headers = self._headers(credential, accept, content_type)
            total = timeout if timeout is not None else (self.timeouts.request if limited else None)
            client_timeout = aiohttp.ClientTimeout(total=total, sock_connect=self.timeouts.connect)
            sent = time.perf_counter()
            try:
                response = await session.request(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    ssl=self._ssl_context(credential),
                    server_hostname=self.config.tls_server_name,
                    proxy=self.config.proxy_url,
                    timeout=client_timeout,
                )
            except aiohttp.ClientConnectorCertificateError as err:
                # Not transient: the same certificate fails the same way on every retry.
                self.breaker.record_failure(_cause(err))
                if metrics.enabled:
                    metrics.request(method, self._netloc, ERROR_CODE, time.perf_counter() - sent)
                self._log(method, path, type(err).__name__, first, attempt)
                raise self._connection_failed(operation, err) from err
            except (aiohttp.ClientConnectionError, TimeoutError) as err:
                self.breaker.record_failure(_cause(err))
                if metrics.enabled:
                    metrics.request(method, self._netloc, ERROR_CODE, time.perf_counter() - sent)
                delay = retry.decide(
                    attempt,
                    method=method,
                    status=None,
                    retry_after=None,
                    connection_error=True,
                    sent=not isinstance(err, aiohttp.ClientConnectorError),
                )
                if delay is None:
                    self._log(method, path, type(err).__name__, first, attempt)
                    raise self._connection_failed(operation, err) from err
                attempt += 1
                if metrics.enabled:
                    metrics.retry(method, self._netloc, ERROR_CODE)
                span.set_attribute("kubeops.retries", attempt)
                await asyncio.sleep(delay)
                continue
            status = response.status
            span.set_attribute("http.response.status_code", status)
            if metrics.enabled:
                metrics.request(method, self._netloc, str(status), time.perf_counter() - sent)
            if status >= 500:
                self.breaker.record_failure(f"HTTP {status}")
            else:
                self.breaker.record_success()
            if status < 400:
                self._log(method, path, status, first, attempt)
                try:
                    yield response
                finally:
                    response.release()
                return
            content = await response.read()
            response.release()
            if status == 401 and not reauthenticated:
                # Expired token or rotated credentials: fetch fresh ones once.
                self.config.credentials.invalidate()
                reauthenticated = True
                span.set_attribute("kubeops.reauthenticated", True)
                continue
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            delay = retry.decide(
                attempt,
                method=method,
                status=status,
                retry_after=retry_after,
                connection_error=False,
            )
            if delay is not None:
                attempt += 1
                if metrics.enabled:
                    metrics.retry(method, self._netloc, str(status))
                span.set_attribute("kubeops.retries", attempt)
                await asyncio.sleep(delay)
                continue
            error = error_from_response(
                status,
                content,
                verb=operation.verb,
                resource=operation.resource,
                namespace=operation.namespace,
                name=operation.name,
                retry_after=retry_after,
            )
            if status == 401:
                # "Unauthorized" alone does not say which credential was refused.
                error.message += f" (credentials: {self.config.credentials.describe()}, from {self.config.source})"
            self._log(method, path, status, first, attempt)
            raise error

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _log(method: str, path: str, outcome: object, first: float, retries: int) -> None:
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug(
                "%s %s %s in %.0f ms%s",
                method,
                path.partition("?")[0],  # a query may carry anything: the path alone
                outcome,
                (time.perf_counter() - first) * 1000,
                f" ({retries} retries)" if retries else "",
            )

    def _span_attributes(self, method: str, operation: Operation) -> telemetry.Attributes:
        attributes: telemetry.Attributes = {
            "http.request.method": method,
            "server.address": self._host,
            "kubeops.verb": operation.verb,
            "kubeops.retries": 0,
        }
        if operation.resource:
            attributes["kubeops.resource"] = operation.resource
        if operation.namespace:
            attributes["k8s.namespace.name"] = operation.namespace
        if operation.name:
            attributes["kubeops.name"] = operation.name
        return attributes

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.pool_size, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(
                connector=connector,
                json_serialize=lambda obj: orjson.dumps(obj).decode(),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    def _static_headers(self) -> dict[str, str]:
        config = self.config
        headers = {"User-Agent": USER_AGENT}
        if config.impersonate_user:
            headers["Impersonate-User"] = config.impersonate_user
        if config.impersonate_uid:
            headers["Impersonate-Uid"] = config.impersonate_uid
        return headers

    def _headers(
        self, credential: Credential, accept: str, content_type: str | None
    ) -> list[tuple[str, str]]:
        headers = [*self._base_headers.items(), ("Accept", accept)]
        headers += [("Impersonate-Group", g) for g in self.config.impersonate_groups]
        for key, values in self.config.impersonate_extra.items():
            headers += [(f"Impersonate-Extra-{key}", v) for v in values]
        if content_type:
            headers.append(("Content-Type", content_type))
        if credential.token:
            headers.append(("Authorization", f"Bearer {credential.token}"))
        elif self._url_auth is not None:
            headers.append(("Authorization", self._url_auth))
        return headers

    def _ssl_context(self, credential: Credential) -> ssl.SSLContext | bool:
        if not self.server.startswith("https://"):
            return False
        key = (credential.client_cert_pem, credential.client_key_pem)
        context = self._ssl.get(key)
        if context is None:
            if len(self._ssl) >= 4:  # rotating exec-plugin certificates: keep only recent ones
                self._ssl.pop(next(iter(self._ssl)))
            context = self._ssl[key] = self.config.ssl_context(credential)
        return context

    def _connection_failed(self, operation: Operation, err: BaseException) -> ConnectionFailed:
        return ConnectionFailed(
            self.server,
            _cause(err),
            verb=operation.verb,
            resource=operation.resource,
            namespace=operation.namespace,
            name=operation.name,
        )


def _url_basic_auth(server: str) -> str | None:
    """The ``Authorization`` value for a ``user:password@`` in ``server``, if any."""
    parts = urlsplit(server)
    if parts.username is None:
        return None
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def _span_name(method: str, operation: Operation) -> str:
    """``GET pods``: the method and the resource (a raw path's span is named by its method
    alone, since a path holding object names would make every span name different)."""
    resource = operation.resource
    if not resource or resource.startswith("/"):
        return method
    return f"{method} {resource}"


def _first_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:300] if text.strip() else type(err).__name__


def _cause(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate verification failed: {err.certificate_error}"
    if isinstance(err, aiohttp.ClientConnectorError):
        return str(err.os_error.strerror or err.os_error) if err.os_error else str(err)
    return str(err) or type(err).__name__
