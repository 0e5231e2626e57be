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

LOG = logging.getLogger(__name__)

# Shutdown waits this long for queued webhook summaries (Kubernetes allows 30 s in all).
WEBHOOK_DRAIN = 10.0


async def serve(options: ServeOptions, stop: asyncio.Event | None = None) -> int:
    """Run the schedule (and the web page) until ``stop`` is set or ``runs`` runs are done.

    Returns 0, or 1 when ``runs`` is given and the last run reached no cluster or
    failed; configuration problems raise :class:`~kubeops.errors.KubeopsError`
    before anything runs."""
    from kubeops.controller.leader_election import default_identity
    from kubeops.inspect.config import load_inspect_config
    from kubeops.inspect.history import History, read_url_file
    from kubeops.inspect.serve.metrics import InspectMetrics
    from kubeops.inspect.serve.service import ScheduledRuns
    from kubeops.inspect.serve.web import Site, start
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
    runner = None
    stop = stop or asyncio.Event()
    LOG.info("history %s", history.url)
    try:
        election = service.election(options.lease) if options.lease is not None else None
        if options.listen is not None:
            host, port = options.listen
            site = Site(history, metrics, service.status, trend=options.trend)
            runner = await start(site.app(), host, port)
            LOG.info("serving http://%s:%d/", host, port)
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
        if runner is not None:
            await runner.cleanup()
        await history.close()
    # Bounded runs (a cron job's --once) fail like `kubeops inspect` when nothing was inspected.
    return 1 if options.runs is not None and service.last_result in ("failed", "error") else 0


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
