"""One daemon HTTP port: authentication, TLS and error handling in front of the
daemon's own routes.

:class:`SecurePort` gives an :class:`aiohttp.web.Application` whose middlewares

* answer any unexpected error with a short plain ``500`` and log it as one JSON
  line (never a traceback, to the client or the log);
* check each request's bearer token (a token file, or a TokenReview followed by a
  SubjectAccessReview) except on the probe paths, answering ``401``/``403`` and
  logging one JSON line per denial (repeats of the same denial are folded for a
  few seconds, so a flood cannot flood the log);

and serves it over HTTP or HTTPS, reloading the certificate when its files change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kubeops.api import Client
from kubeops.controller.serving.authn import (
    Authenticator,
    TokenFile,
    TokenReviewAuthenticator,
    Unauthenticated,
    User,
    bearer_token,
)
from kubeops.controller.serving.authz import Forbidden, SubjectAccessReviewAuthorizer
from kubeops.controller.serving.certificates import ServingCertificate
from kubeops.controller.serving.logs import log_event
from kubeops.controller.serving.options import ServingError, ServingOptions, is_loopback
from kubeops.controller.serving.process_metrics import add_process_metrics
from kubeops.errors import KubeopsError

LOG = logging.getLogger(__name__)

USER: Any = web.RequestKey("user", User) if hasattr(web, "RequestKey") else "kubeops.user"
"""Where a handler finds the authenticated :class:`User`: ``request.get(USER)`` (None with
``--auth none``; a plain key on aiohttp before typed request keys)."""
FOLD_SECONDS = 10.0
"""Identical denial lines within this many seconds are logged once, then counted."""
_SHOWN_PATH = 200

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def plain(status: int, text: str, **headers: str) -> web.Response:
    """A short plain-text answer: ``403: forbidden``."""
    return web.Response(status=status, text=f"{status}: {text}\n", headers=headers)


def add_probe_routes(
    app: web.Application,
    status: Callable[[], dict[str, Any]],
    ready: Callable[[], tuple[bool, str]],
    registry: Any,
) -> None:
    """The routes every daemon serves: ``/healthz`` and ``/livez`` (``status()`` as JSON),
    ``/readyz`` (200, or 503 with why not) and ``/metrics`` (``registry``, a
    prometheus_client ``CollectorRegistry``, in Prometheus' text format, with the
    process' own metrics added: :func:`add_process_metrics`)."""
    add_process_metrics(registry)

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.json_response(status())

    async def readyz(request: web.Request) -> web.StreamResponse:
        is_ready, why = ready()
        return plain(200 if is_ready else 503, why)

    async def metrics(request: web.Request) -> web.StreamResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


class SecurePort:
    """A daemon's HTTP port set up by :class:`ServingOptions`.

    ``client`` is the daemon's own API client; ``kubernetes`` authentication asks
    its reviews through it (``own_client``: :meth:`close` closes it).  Everything is
    checked when it is built: a missing token file or an unusable certificate fails
    before the daemon starts."""

    def __init__(
        self, options: ServingOptions, client: Client | None = None, *, own_client: bool = False
    ) -> None:
        options.check()
        self.options = options
        self._client = client if own_client else None
        self.authenticator: Authenticator | None = None
        self.authorizer: SubjectAccessReviewAuthorizer | None = None
        if options.auth == "token":
            assert options.token_file is not None
            self.authenticator = TokenFile(options.token_file)
        elif options.auth == "kubernetes":
            if client is None:
                raise ServingError("--auth kubernetes needs a cluster to ask (no client given)")
            self.authenticator = TokenReviewAuthenticator(
                client, ttl=options.cache_ttl, timeout=options.review_timeout
            )
            self.authorizer = SubjectAccessReviewAuthorizer(
                client,
                resource=options.resource_attributes,
                ttl=options.cache_ttl,
                timeout=options.review_timeout,
            )
        self.certificate = (
            ServingCertificate(options.tls_cert_file, options.tls_key_file)
            if options.tls_cert_file and options.tls_key_file
            else None
        )
        self._always_allow = frozenset(options.always_allow)
        self._folded: dict[tuple[int, str], tuple[float, int]] = {}
        self._runner: web.AppRunner | None = None
        self._reloader: asyncio.Task[None] | None = None

    @property
    def warnings(self) -> list[str]:
        """Settings that work but deserve a line at startup."""
        shown: list[str] = []
        if (
            self.options.auth != "none"
            and not self.options.tls
            and not is_loopback(self.options.host)
        ):
            shown.append(
                "bearer tokens reach this port in clear text: give --tls-cert-file and "
                "--tls-private-key-file unless a proxy or mesh encrypts the connection"
            )
        return shown

    def application(self, **kwargs: Any) -> web.Application:
        """An application with the error and authentication middlewares in front; add the
        daemon's routes (and its own inner middlewares via ``middlewares=``)."""
        inner = list(kwargs.pop("middlewares", ()))
        return web.Application(middlewares=[self._errors, self._authenticate, *inner], **kwargs)

    # -- middlewares ------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as err:  # any bug: a short 500 and one log line
            log_event(
                LOG,
                logging.ERROR,
                "request failed",
                method=request.method,
                path=request.path[:_SHOWN_PATH],
                status=500,
                error=f"{type(err).__name__}: {str(err)[:300]}",
            )
            return plain(500, "internal server error")

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.authenticator is None or request.path in self._always_allow:
            return await handler(request)
        try:
            token = bearer_token(request.headers.get("Authorization"))
            user = await self.authenticator.authenticate(token)
        except Unauthenticated as err:
            self._deny(request, 401, str(err))
            return plain(401, "unauthorized", **{"WWW-Authenticate": 'Bearer realm="kubeops"'})
        if self.authorizer is not None:
            try:
                await self.authorizer.authorize(user, request.method, request.path)
            except Forbidden as err:
                self._deny(request, 403, str(err), user.name)
                return plain(403, "forbidden")
        request[USER] = user
        return await handler(request)

    def _deny(self, request: web.Request, status: int, reason: str, user: str = "") -> None:
        key = (status, reason + user)
        now = time.monotonic()
        since, folded = self._folded.get(key, (0.0, 0))
        if now - since < FOLD_SECONDS:
            self._folded[key] = (since, folded + 1)
            return
        if len(self._folded) > 1024:
            self._folded.clear()
        self._folded[key] = (now, 0)
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.path[:_SHOWN_PATH],
            "status": status,
            "remote": request.remote or "",
            "reason": reason,
        }
        if user:
            fields["user"] = user
        if folded:
            fields["repeated"] = folded
        log_event(LOG, logging.WARNING, "request denied", **fields)

    # -- listening --------------------------------------------------------------------------

    async def start(self, app: web.Application, reload_interval: float = 5.0) -> None:
        """Listen on the options' address (a KubeopsError naming it when that fails)."""
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        context = self.certificate.context if self.certificate is not None else None
        site = web.TCPSite(runner, self.options.host, self.options.port, ssl_context=context)
        try:
            await site.start()
        except OSError as err:
            await runner.cleanup()
            where = f"{self.options.host}:{self.options.port}"
            raise KubeopsError(f"--listen {where}: cannot listen: {err.strerror}") from err
        self._runner = runner
        if self.certificate is not None:
            self._reloader = asyncio.create_task(
                self._reload(self.certificate, reload_interval), name="serving certificate"
            )

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system when the options say 0)."""
        if self._runner is not None:
            for address in self._runner.addresses:
                return int(address[1])
        return self.options.port

    async def _reload(self, certificate: ServingCertificate, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            certificate.refresh()

    async def stop(self) -> None:
        """Stop listening; open requests get the runner's shutdown grace."""
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        """Stop listening and close the client when this port was given it to own."""
        await self.stop()
        if self._client is not None:
            await self._client.close()
            self._client = None
