"""Run controllers only while this replica holds the lease.

A daemon runs as a Deployment with several replicas; each calls
:func:`run_elected`.  One wins the Lease and runs its controllers; the others
wait.  When the leader loses the lease its controllers are stopped (their
queues drained) before ``run_elected`` returns, so two replicas never reconcile
at the same time for longer than the lease allows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kubeops.api import Client
from kubeops.controller.leader_election import (
    LeaderElectionConfig,
    LeaderElector,
    default_identity,
)
from kubeops.controller.reconciler import Controller

log = logging.getLogger(__name__)


async def run_elected(
    client: Client,
    controllers: list[Controller],
    *,
    lease: str,
    namespace: str | None = None,
    identity: str | None = None,
    lease_duration: float = 15.0,
    renew_deadline: float = 10.0,
    retry_period: float = 2.0,
    leader_gauge: object | None = None,
) -> None:
    """Compete for ``lease``; while leading, run ``controllers``; return when leadership ends.

    Cancel it to stop: a leader drains its controllers and releases the lease, so
    another replica takes over at once.  ``leader_gauge`` is a Prometheus gauge
    child (``PrometheusMetrics.leader.labels(lease)``) set to 1 while leading.
    """

    def set_gauge(value: int) -> None:
        setter = getattr(leader_gauge, "set", None)
        if setter is not None:
            setter(value)

    async def lead(stopped: asyncio.Event) -> None:
        set_gauge(1)
        log.info("leading %s: starting %d controller(s)", lease, len(controllers))
        await asyncio.gather(*(c.run() for c in controllers))

    def stopped_leading() -> None:
        set_gauge(0)
        log.info("no longer leading %s", lease)

    config = LeaderElectionConfig(
        name=lease,
        namespace=namespace,
        on_started_leading=lead,
        on_stopped_leading=stopped_leading,
        on_new_leader=lambda holder: log.info("lease %s is held by %s", lease, holder or "nobody"),
        lease_duration=lease_duration,
        renew_deadline=renew_deadline,
        retry_period=retry_period,
        identity=identity or default_identity(),
    )
    await LeaderElector(client, config).run()


async def stand_for_election(
    client: Client, config: LeaderElectionConfig, *, pause: float = 1.0
) -> None:
    """Compete for ``config``'s Lease again each time a leadership ends, until cancelled.

    A daemon's replicas stand for as long as they run: a leader that lost the Lease,
    or whose work failed, steps down and after ``pause`` seconds stands again.
    """
    from kubeops.config.redact import error_line

    while True:
        try:
            await LeaderElector(client, config).run()
        except Exception as err:  # leading failed: step down, stand again
            log.error("leading %s failed: %s", config.name, error_line(err))
        log.info("leadership of %s ended; standing for election again", config.name)
        await asyncio.sleep(pause)


@dataclass(frozen=True)
class LeaseSettings:
    """The Lease a daemon's replicas compete for (client-go's default timings)."""

    name: str
    namespace: str | None = None
    """None: the client's default namespace."""
    duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    @classmethod
    def for_duration(cls, name: str, namespace: str | None, duration: float) -> LeaseSettings:
        """The daemons' ``--lease-duration`` rule: renew within 2/3 of it, retry every 1/7.5."""
        return cls(name, namespace, duration, duration * 2 / 3, duration / 7.5)

    def config(
        self,
        identity: str,
        lead: Callable[[asyncio.Event], Awaitable[None]],
        on_new_leader: Callable[[str], None],
    ) -> LeaderElectionConfig:
        """The election of this Lease for ``identity``, running ``lead`` while it leads."""
        return LeaderElectionConfig(
            name=self.name,
            namespace=self.namespace,
            identity=identity,
            lease_duration=self.duration,
            renew_deadline=self.renew_deadline,
            retry_period=self.retry_period,
            on_started_leading=lead,
            on_stopped_leading=lambda: None,
            on_new_leader=on_new_leader,
        )
