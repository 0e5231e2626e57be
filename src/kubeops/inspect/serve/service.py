"""The scheduled loop: inspect, record, update the metrics, notify; on a schedule,
and with leader election only while this replica leads.

A run that fails (every cluster unreachable) is still a result: it is recorded,
counted and posted like any other.  Only an unexpected error leaves no document;
it is logged and counted as ``error``, and the schedule goes on.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubeops.inspect.history import History, HistoryError
from kubeops.inspect.serve.metrics import InspectMetrics, result_of, timestamp
from kubeops.inspect.serve.options import LeaseOptions
from kubeops.inspect.serve.schedule import Schedule
from kubeops.inspect.serve.webhook import Webhook, summary

if TYPE_CHECKING:
    from kubeops.config import ClusterConfig
    from kubeops.controller.leader_election import LeaderElectionConfig

from kubeops.inspect.document import Document

LOG = logging.getLogger(__name__)

# Webhook summaries waiting for delivery before new ones are dropped.
OUTBOX = 100


@dataclass
class ScheduledRuns:
    """One replica's runs; ``identity`` names it in the history and in the Lease."""

    history: History
    metrics: InspectMetrics
    schedule: Schedule
    identity: str
    kubeconfig: str | None = None
    contexts: Sequence[str] = ()
    namespaces: Sequence[str] = ()
    settings: Any = None
    webhook: Webhook | None = None
    external_url: str | None = None
    keep: int | None = None
    max_age: float | None = None
    runs: int | None = None
    leading: bool = False
    completed: int = 0
    next_run: float | None = None
    last_run: int | None = None
    last_result: str | None = None
    _outbox: asyncio.Queue[dict[str, Any]] | None = field(default=None, init=False)
    _sender: asyncio.Task[None] | None = field(default=None, init=False)
    _finished: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def status(self) -> dict[str, Any]:
        """What ``/healthz`` reports: identity, leadership, schedule, runs and the next run."""
        return {
            "status": "ok",
            "identity": self.identity,
            "leader": self.leading,
            "history": self.history.url,
            "schedule": self.schedule.describe(),
            "runs": self.completed,
            "last_run": self.last_run,
            "next_run": _iso(self.next_run) if self.next_run is not None else None,
        }

    async def run_once(self) -> Document | None:
        """One inspection, recorded and reported; None only when it could not run at all."""
        from kubeops.inspect.document import build_document
        from kubeops.inspect.runner import inspect_clusters, resolve_targets

        started = time.monotonic()
        try:
            found = resolve_targets(self.kubeconfig, list(self.contexts))
            report = await inspect_clusters(
                found, self.settings, list(self.namespaces) or None, _debug
            )
            document = build_document(report)
        except Exception:  # the schedule must survive a broken run
            LOG.exception("the inspection failed")
            self.metrics.observe_run(None, time.monotonic() - started)
            self.completed += 1
            self.last_result = result_of(None)
            return None
        seconds = time.monotonic() - started
        run_id, previous = await self._record(document, seconds)
        self.metrics.show(document, run_id)
        self.metrics.observe_run(document, seconds)
        self.completed += 1
        self.last_run = run_id
        self.last_result = result_of(document)
        LOG.info(_line(document, run_id, seconds))
        if self.webhook is not None:
            payload = summary(
                document, run_id=run_id, external_url=self.external_url, previous=previous
            )
            self._notify(payload)
        return document

    def _notify(self, payload: dict[str, Any]) -> None:
        """Queue a summary; one sender delivers them in order, so a slow or dead webhook
        never delays a run nor reorders reports."""
        if self._outbox is None:
            self._outbox = asyncio.Queue(maxsize=OUTBOX)
            self._sender = asyncio.create_task(self._send(self._outbox), name="inspect webhook")
        try:
            self._outbox.put_nowait(payload)
        except asyncio.QueueFull:
            LOG.warning(
                "webhook: %d reports are waiting; run %s is not posted", OUTBOX, payload["run"]
            )

    async def _send(self, outbox: asyncio.Queue[dict[str, Any]]) -> None:
        assert self.webhook is not None
        while True:
            payload = await outbox.get()
            try:
                await self.webhook.post(payload)
            finally:
                outbox.task_done()

    async def _record(
        self, document: Document, seconds: float
    ) -> tuple[int | None, dict[str, Any] | None]:
        """Store the run and apply the retention limits; the run's id and the run before
        it.  The history retries across a database restart, so only an outage longer
        than its retries leaves a run unrecorded."""
        try:
            run_id = await self.history.record(document, runner=self.identity, seconds=seconds)
        except HistoryError as err:
            self.metrics.history_errors.labels("record").inc()
            LOG.error("the run was not recorded: %s", err)
            return None, None
        if self.keep is not None or self.max_age is not None:
            try:
                pruned = await self.history.prune(keep=self.keep, max_age=self.max_age)
            except HistoryError as err:
                self.metrics.history_errors.labels("prune").inc()
                LOG.warning("%s", err)
            else:
                if pruned:
                    LOG.info("pruned %d old run(s) from the history", pruned)
        try:
            earlier = await self.history.runs(2, until=run_id)
        except HistoryError as err:
            self.metrics.history_errors.labels("read").inc()
            LOG.warning("%s", err)
            return run_id, None
        return run_id, earlier[0] if len(earlier) == 2 else None

    async def scheduled(self, *, resume: bool = False) -> None:
        """Run on the schedule until ``runs`` runs are done (forever without it).

        ``resume`` (a replica that just became leader) continues the grid of the
        last recorded run instead of starting a run at once, so a hand-over does not
        inspect twice."""
        now = time.time()
        anchor = now
        if resume:
            due = await self._due_after_last()
            if due is not None and due > now:
                anchor = due
                await self._sleep_until(due)
        while True:
            self.next_run = None
            started = time.time()
            await self.run_once()
            if self.runs is not None and self.completed >= self.runs:
                return
            now = time.time()
            if now > self.schedule.after(anchor, started):
                LOG.warning(
                    "the run outlasted its slot (%s); missed slots are skipped",
                    self.schedule.describe(),
                )
            await self._sleep_until(self.schedule.after(anchor, now))

    async def _due_after_last(self) -> float | None:
        try:
            last = await self.history.runs(1)
        except HistoryError as err:
            self.metrics.history_errors.labels("read").inc()
            LOG.warning("cannot read the last run (%s); running now", err)
            return None
        when = timestamp(str(last[0]["generated"])) if last else None
        if when is None:
            return None
        due = self.schedule.after(when, when)
        if due > time.time():
            LOG.info("the last run was at %s; the next is due at %s", _iso(when), _iso(due))
        return due

    async def _sleep_until(self, moment: float) -> None:
        self.next_run = moment
        await asyncio.sleep(max(0.0, moment - time.time()))

    async def drain(self, timeout: float) -> None:
        """Deliver the queued webhook summaries (for up to ``timeout`` seconds), then stop."""
        if self._outbox is None or self._sender is None:
            return
        try:
            await asyncio.wait_for(self._outbox.join(), timeout)
        except TimeoutError:
            LOG.warning("webhook: reports still queued at shutdown are not delivered")
        self._sender.cancel()
        await asyncio.gather(self._sender, return_exceptions=True)

    def election(self, lease: LeaseOptions) -> Election:
        """The cluster and settings of the election on ``lease``, checked before anything
        starts (a bad lease kubeconfig is a startup error, not a silent follower)."""
        from kubeops.config import load_config
        from kubeops.controller.leader_election import LeaderElectionConfig

        context = lease.context or (self.contexts[0] if self.contexts else None)
        cluster = load_config(lease.kubeconfig or self.kubeconfig, context=context)
        config = LeaderElectionConfig(
            name=lease.name,
            namespace=lease.namespace,
            identity=self.identity,
            lease_duration=lease.duration,
            renew_deadline=lease.renew_deadline,
            retry_period=lease.retry_period,
            on_started_leading=self._lead,
            on_stopped_leading=lambda: None,
        )
        return Election(cluster, config)

    async def _lead(self, stopped: asyncio.Event) -> None:
        self.leading = True
        self.metrics.leader.set(1)
        try:
            await self.scheduled(resume=True)
            self._finished.set()
        finally:
            self.leading = False
            self.metrics.leader.set(0)
            self.next_run = None

    async def elected(self, election: Election) -> None:
        """Stand for election until ``runs`` runs are done (forever without it); while
        leading, run the schedule.  Cancel it to stop: a leader releases the Lease."""
        from kubeops.api import Client
        from kubeops.controller.leader_election import LeaderElector

        name = election.config.name
        async with Client(election.cluster) as client:
            while not self._finished.is_set():
                task = asyncio.create_task(
                    LeaderElector(client, election.config).run(), name="inspect election"
                )
                done = asyncio.create_task(self._finished.wait())
                try:
                    await asyncio.wait({task, done}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    done.cancel()
                    if not task.done():  # the runs are done, or this task is being cancelled
                        task.cancel()
                    (outcome,) = await asyncio.gather(task, return_exceptions=True)
                if self._finished.is_set():
                    return
                if isinstance(outcome, Exception):
                    LOG.error("leading %s failed: %s", name, outcome)
                LOG.info("leadership of %s ended; standing for election again", name)
                await asyncio.sleep(1.0)


@dataclass(frozen=True)
class Election:
    """Where the Lease is and how to stand for it."""

    cluster: ClusterConfig
    config: LeaderElectionConfig


def _debug(line: str) -> None:
    LOG.debug(line)


def _iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat(timespec="seconds")


def _line(document: Document, run_id: int | None, seconds: float) -> str:
    """The one stderr line per run."""
    stats = document.get("summary") or {}
    counts = ", ".join(f"{n} {s}" for s, n in (stats.get("by_severity") or {}).items() if n)
    down = stats.get("unreachable", 0)
    where = f"{stats.get('clusters', 0)} cluster(s)" + (f", {down} unreachable" if down else "")
    result = result_of(document)
    # A run that reached no cluster has nothing to grade, whatever the document's score says.
    grade = (
        "" if result == "failed" else f", grade {document.get('grade')} ({document.get('score')})"
    )
    return (
        f"run {run_id if run_id is not None else '(not recorded)'} {result}: "
        f"{where}{grade}, "
        f"{stats.get('findings', 0)} finding(s)"
        + (f" ({counts})" if counts else "")
        + f", {seconds:.1f}s"
    )
