"""``kubeops inspect serve``: scheduled inspections with history, a web page, metrics,
webhook notifications and leader election.

:func:`serve` runs it in the current event loop until ``stop`` is set (or the
requested number of runs is done); the CLI wires signals to ``stop``.  A program
builds its :class:`ServeOptions` with a :class:`Schedule` (:func:`parse_schedule`
reads ``--interval``/``--cron`` text) and, for several replicas, a
:class:`LeaseOptions`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from kubeops.inspect.serve.options import (
    LeaseOptions,
    ServeError,
    ServeOptions,
    parse_listen,
)
from kubeops.inspect.serve.schedule import (
    Cron,
    Interval,
    Schedule,
    ScheduleError,
    parse_schedule,
)

__all__ = [
    "Cron",
    "Interval",
    "LeaseOptions",
    "Schedule",
    "ScheduleError",
    "ServeError",
    "ServeOptions",
    "parse_listen",
    "parse_schedule",
    "serve",
]

if TYPE_CHECKING:
    from kubeops.controller.serving import SecurePort

LOG = logging.getLogger(__name__)

# Shutdown waits this long for queued webhook summaries (Kubernetes allows 30 s in all).
WEBHOOK_DRAIN = 10.0


async def serve(options: ServeOptions, stop: asyncio.Event | None = None) -> int:
    """Run the schedule (and the web page) until ``stop`` is set or ``runs`` runs are done.

    Returns 0, or 1 when ``runs`` is given and the last run reached no cluster or
    failed; configuration problems raise :class:`~kubeops.errors.KubeopsError`
    before anything runs."""
    # The port's settings first: an unsafe or unusable one stops the service before it starts.
    port = await _secure_port(options)
    try:
        return await _serve(options, port, stop)
    finally:
        if port is not None:
            await port.close()


async def _serve(options: ServeOptions, port: SecurePort | None, stop: asyncio.Event | None) -> int:
    from kubeops.controller.leader_election import default_identity
    from kubeops.controller.serving.process_metrics import add_process_metrics
    from kubeops.inspect.config import load_inspect_config
    from kubeops.inspect.history import History, read_url_file
    from kubeops.inspect.serve.metrics import InspectMetrics
    from kubeops.inspect.serve.service import ScheduledRuns
    from kubeops.inspect.serve.web import Site
    from kubeops.inspect.serve.webhook import Webhook

    settings = load_inspect_config(options.config)
    if options.checks:
        settings = replace(settings, only=tuple(options.checks))
    _check_targets(options)
    if options.history and options.history_file:
        raise ServeError("give the history as a URL or as a URL file, not both")
    url = read_url_file(options.history_file) if options.history_file else options.history
    history = await History.open(url)
    metrics = InspectMetrics()
    add_process_metrics(metrics.registry)  # process_*, as every daemon's /metrics
    metrics.describe_history(history.url)
    service = ScheduledRuns(
        history=history,
        metrics=metrics,
        schedule=options.schedule,
        identity=options.identity or default_identity(),
        kubeconfig=options.kubeconfig,
        contexts=list(options.contexts),
        namespaces=list(options.namespaces),
        settings=settings,
        webhook=Webhook(options.webhook) if options.webhook else None,
        external_url=options.external_url,
        keep=options.keep,
        max_age=options.max_age,
        runs=options.runs,
    )
    stop = stop or asyncio.Event()
    LOG.info("history %s", history.url)
    try:
        election = service.election(options.lease) if options.lease is not None else None
        if port is not None:
            site = Site(history, metrics, service.status, trend=options.trend)
            await port.start(site.app(port))
            for warning in port.warnings:
                LOG.warning("%s", warning)
            LOG.info("serving %s (auth: %s)", port.options.url, port.options.auth)
        if election is None:
            metrics.leader.set(1)
            service.leading = True
            work = asyncio.create_task(service.scheduled(), name="inspect schedule")
        else:
            work = asyncio.create_task(service.elected(election), name="inspect election")
        LOG.info(
            "%s, %s; identity %s",
            options.schedule.describe(),
            f"leader election on lease {options.lease.name}"
            if options.lease
            else "no leader election",
            service.identity,
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        work.cancel()
        (outcome,) = await asyncio.gather(work, return_exceptions=True)
        if isinstance(outcome, Exception):
            raise outcome
        await service.drain(WEBHOOK_DRAIN)
    finally:
        if port is not None:
            await port.stop()
        await history.close()
    # Bounded runs (a cron job's --once) fail like `kubeops inspect` when nothing was inspected.
    return 1 if options.runs is not None and service.last_result in ("failed", "error") else 0


async def _secure_port(options: ServeOptions) -> SecurePort | None:
    """The web page's port as the options describe it, checked (None with ``--once``)."""
    from kubeops.controller.serving import SecurePort

    if options.listen is None:
        return None
    host, number = options.listen
    serving = replace(options.serving, host=host, port=number)
    serving.check()
    client = None
    if serving.auth == "kubernetes":
        from kubeops.api import Client
        from kubeops.config import load_config

        contexts = list(options.contexts)
        context = options.auth_context or (contexts[0] if contexts else None)
        client = Client(load_config(options.auth_kubeconfig or options.kubeconfig, context=context))
    try:
        return SecurePort(serving, client, own_client=True)
    except BaseException:
        if client is not None:
            await client.close()
        raise


def _check_targets(options: ServeOptions) -> None:
    """A context that cannot be loaded is a typo to report now, not a failed run every
    interval from now on."""
    from kubeops.errors import KubeopsError
    from kubeops.inspect.runner import resolve_targets

    broken = [
        t for t in resolve_targets(options.kubeconfig, list(options.contexts)) if t.config is None
    ]
    if broken:
        raise KubeopsError("; ".join(f"{t.name}: {t.error}" for t in broken))
