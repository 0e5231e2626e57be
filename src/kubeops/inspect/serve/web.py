"""The HTTP side of ``kubeops inspect serve``: the latest report with its trend, any
older run, the history and the metrics, read from the history database so every
replica (leader or not) shows the same thing.

``/`` latest HTML report · ``/report.json`` · ``/history.json`` (``?limit=N``) ·
``/runs/<id>`` and ``/runs/<id>.json`` · ``/metrics`` · ``/healthz`` (this replica's
status) · ``/readyz`` (ready while the history database answers)

The history retries its reads across a database restart; a page waits for it up
to :data:`PAGE_TIMEOUT` and then answers 503 naming the database (its password
masked), so a request never hangs for the whole outage.  Authentication, TLS and
the answer to an unexpected error come from the daemons' shared
:class:`~kubeops.controller.serving.SecurePort`; run ids are bounded before the
database is asked.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from kubeops.controller.serving import (
    MAX_ID,
    SecurePort,
    ServingOptions,
    log_event,
    path_int,
    query_int,
)
from kubeops.inspect.history import History, HistoryError
from kubeops.inspect.serve.metrics import InspectMetrics

LOG = logging.getLogger(__name__)

T = TypeVar("T")

MAX_LIMIT = 10_000
PAGE_TIMEOUT = 15.0
"""Seconds a page waits for the history database before answering 503."""
PROBE_TIMEOUT = 3.0
"""Seconds ``/readyz`` and ``/metrics`` wait for it (a probe or a scrape must be quick)."""


class Site:
    """Request handlers over one history and one metrics registry."""

    def __init__(
        self,
        history: History,
        metrics: InspectMetrics,
        status: Callable[[], dict[str, Any]],
        trend: int = 50,
    ) -> None:
        self.history = history
        self.metrics = metrics
        self.status = status
        self.trend = trend
        self._cache: dict[tuple[int, str], bytes] = {}
        self._lock = asyncio.Lock()

    def app(self, port: SecurePort | None = None) -> web.Application:
        """The aiohttp application: the report pages, the history API, ``/metrics`` and
        the probes, behind ``port``'s authentication and error handling (by default
        none, on loopback)."""
        port = port or SecurePort(ServingOptions())
        app = port.application(middlewares=[self._errors])
        app.router.add_get("/", self.index)
        app.router.add_get("/report.json", self.report_json)
        app.router.add_get("/history.json", self.history_json)
        app.router.add_get(r"/runs/{id:\d+}", self.run_html)
        app.router.add_get(r"/runs/{id:\d+}.json", self.run_json)
        app.router.add_get("/metrics", self.metrics_text)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except HistoryError as err:
            # Any other error is the shared port's: a short 500 and one log line.
            log_event(
                LOG, logging.ERROR, "history unavailable", path=request.path[:200], error=str(err)
            )
            return _page(503, "History unavailable", str(err))
        return response

    async def _read(self, reading: Awaitable[T], doing: str, timeout: float = PAGE_TIMEOUT) -> T:
        """``reading`` from the history, within ``timeout`` seconds or a HistoryError."""
        try:
            return await asyncio.wait_for(reading, timeout)
        except TimeoutError:
            raise HistoryError(
                f"history {self.history.url}: cannot {doing}: no answer within {timeout:g}s"
            ) from None

    # -- documents --------------------------------------------------------------------------

    async def _rendered(self, run_id: int, fmt: str) -> bytes | None:
        """Run ``run_id``'s document with its trend, rendered; cached (runs never change)."""
        key = (run_id, fmt)
        async with self._lock:
            if key in self._cache:
                return self._cache[key]
        body = await self._read(self._render(run_id, fmt), f"read run {run_id}")
        if body is not None:
            async with self._lock:
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[key] = body
        return body

    async def _render(self, run_id: int, fmt: str) -> bytes | None:
        document = await self.history.get(run_id)
        if document is None:
            return None
        document["history"] = await self.history.trend(self.trend, until=run_id)
        if fmt == "json":
            return orjson.dumps(document, option=orjson.OPT_INDENT_2)
        from kubeops.inspect.report import render

        return (await asyncio.to_thread(render, document, fmt)).encode()

    async def _latest(self, fmt: str) -> web.Response:
        run_id = await self._read(self.history.latest_id(), "read the latest run")
        if run_id is None:
            return _none_yet(fmt)
        return await self._run(run_id, fmt)

    async def _run(self, run_id: int, fmt: str) -> web.Response:
        body = await self._rendered(run_id, fmt)
        if body is None:
            return _page(404, "No such run", f"There is no run {run_id} in the history.")
        kind = "application/json" if fmt == "json" else "text/html"
        return web.Response(body=body, content_type=kind, charset="utf-8")

    async def index(self, request: web.Request) -> web.Response:
        """``/``: the latest report as HTML."""
        return await self._latest("html")

    async def report_json(self, request: web.Request) -> web.Response:
        """``/report.json``: the latest report document."""
        return await self._latest("json")

    async def run_html(self, request: web.Request) -> web.Response:
        """``/runs/{id}``: one recorded run's report as HTML."""
        return await self._run(path_int(request, "id", maximum=MAX_ID), "html")

    async def run_json(self, request: web.Request) -> web.Response:
        """``/runs/{id}.json``: one recorded run's report document."""
        return await self._run(path_int(request, "id", maximum=MAX_ID), "json")

    async def history_json(self, request: web.Request) -> web.Response:
        """``/history.json?limit=N``: the newest runs' summaries, for trends."""
        limit = query_int(request, "limit", self.trend, minimum=0, maximum=MAX_LIMIT)
        runs = await self._read(self.history.runs(limit), "read the history")
        return _json(runs)

    # -- operations -------------------------------------------------------------------------

    async def metrics_text(self, request: web.Request) -> web.Response:
        """``/metrics``: the Prometheus metrics of the latest recorded run."""
        # A follower (or a restarted leader) describes the shared database's latest run.
        try:
            await self._read(self._refresh_metrics(), "read the latest run", PROBE_TIMEOUT)
        except HistoryError as err:
            self.metrics.history_errors.labels("read").inc()
            LOG.warning("metrics: %s", err)
        body = self.metrics.render()
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _refresh_metrics(self) -> None:
        run_id = await self.history.latest_id()
        shown = self.metrics.shown_run
        # A run this replica could not record stays shown until a newer one is recorded.
        stale = self.metrics.collector.document is None or (shown is not None and run_id != shown)
        if run_id is not None and stale:
            self.metrics.show(await self.history.get(run_id), run_id)

    async def healthz(self, request: web.Request) -> web.Response:
        """``/healthz``: this replica's status (it answers while the process lives)."""
        return _json(self.status())

    async def readyz(self, request: web.Request) -> web.Response:
        """``/readyz``: 200 while the history database answers, else 503 naming it (its
        password masked) and why: without it there is nothing to serve."""
        try:
            await self._read(self.history.latest_id(), "read the latest run", PROBE_TIMEOUT)
        except HistoryError as err:
            return web.Response(status=503, text=f"not ready: {err}\n")
        return web.Response(text="ok\n")


def _json(value: Any) -> web.Response:
    return web.Response(
        body=orjson.dumps(value, option=orjson.OPT_INDENT_2),
        content_type="application/json",
        charset="utf-8",
    )


def _none_yet(fmt: str) -> web.Response:
    message = "No inspection has been recorded yet; the first run is on its way."
    if fmt == "json":
        response = web.Response(
            status=503, body=orjson.dumps({"error": message}), content_type="application/json"
        )
    else:
        response = _page(503, "No report yet", message)
    response.headers["Retry-After"] = "5"
    return response


def _page(status: int, title: str, message: str) -> web.Response:
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        "</body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html")
