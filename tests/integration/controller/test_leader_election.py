"""Leader election against a real API server, with short durations (2 s / 1.5 s / 0.3 s)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import datetime
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.controller import LeaderElectionConfig, LeaderElector
from kubeops.controller.leader_election import LEASE_KIND
from kubeops.testenv import Cluster, async_eventually

LEASE = 2.0
RENEW = 1.5
RETRY = 0.3
# The longest an elector waits between two tries.
MAX_RETRY = RETRY * 2.2
# Scheduling and request time on a busy 2-core machine.
SLACK = 0.4
# How often a test looks: the takeover timings below are measured to this precision.
POLL = 0.02


class Recorder:
    """The callbacks of one elector, and when each ran."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.stopped: asyncio.Event | None = None
        self.lost_at: float | None = None
        self.leader_task_cancelled = False
        self.stopped_leading: list[float] = []
        self.new_leaders: list[str] = []

    async def on_started_leading(self, stopped: asyncio.Event) -> None:
        self.stopped = stopped
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.lost_at = time.monotonic()
            self.leader_task_cancelled = True
            raise

    def on_stopped_leading(self) -> None:
        self.stopped_leading.append(time.monotonic())

    async def on_new_leader(self, identity: str) -> None:
        self.new_leaders.append(identity)


async def next_renewal(election: Election, before: dict[str, Any]) -> dict[str, Any]:
    """The lease once its holder has renewed it since ``before`` was read."""

    async def renewed() -> dict[str, Any] | None:
        spec = await election.read()
        return spec if spec["renewTime"] > before["renewTime"] else None

    return await async_eventually(
        renewed, timeout=LEASE, interval=POLL, message="the holder to renew the lease"
    )


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Election:
    """Electors competing for one Lease, each with its own client as if in its own process."""

    def __init__(self, kubeconfig: str, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.lease = f"lease-{uuid.uuid4().hex[:8]}"
        self.clients: list[Client] = []
        self.tasks: list[asyncio.Task[None]] = []

    def client(self) -> Client:
        client = Client(load_config(self.kubeconfig, namespace=self.namespace))
        self.clients.append(client)
        return client

    def elector(self, identity: str, **overrides: Any) -> tuple[LeaderElector, Recorder]:
        recorder = Recorder()
        options: dict[str, Any] = {
            "name": self.lease,
            "identity": identity,
            "lease_duration": LEASE,
            "renew_deadline": RENEW,
            "retry_period": RETRY,
            "on_started_leading": recorder.on_started_leading,
            "on_stopped_leading": recorder.on_stopped_leading,
            "on_new_leader": recorder.on_new_leader,
        }
        options.update(overrides)
        return LeaderElector(self.client(), LeaderElectionConfig(**options)), recorder

    def run(self, elector: LeaderElector) -> asyncio.Task[None]:
        task = asyncio.create_task(elector.run())
        self.tasks.append(task)
        return task

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self.tasks.append(task)
        return task

    async def read(self) -> dict[str, Any]:
        lease = await self.clients[0].get(LEASE_KIND, self.lease)
        spec: dict[str, Any] = lease["spec"]
        return spec

    async def close(self) -> None:
        for task in self.tasks:
            await cancel(task)
        for client in self.clients:
            await client.close()


@pytest.fixture
async def election(kube_cluster: Cluster, kube_namespace: str) -> AsyncIterator[Election]:
    election = Election(str(kube_cluster.kubeconfig), kube_namespace)
    yield election
    await election.close()


async def test_one_of_two_electors_leads_and_the_other_sees_it_as_new_leader(
    election: Election, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kubeops.controller.leader_election")
    a, a_calls = election.elector("a")
    b, b_calls = election.elector("b")
    election.run(a)
    election.run(b)
    await async_eventually(
        lambda: a.is_leader() or b.is_leader(), timeout=5, interval=POLL, message="a leader"
    )
    leader, follower, follower_calls = (a, b, b_calls) if a.is_leader() else (b, a, a_calls)
    await async_eventually(
        lambda: leader.identity in follower_calls.new_leaders,
        timeout=3,
        interval=POLL,
        message="the follower sees the leader",
    )
    assert not follower.is_leader()
    assert follower.leader_identity == leader.leader_identity == leader.identity
    assert (leader.acquisitions, follower.acquisitions) == (1, 0)
    assert a_calls.started.is_set() != b_calls.started.is_set()
    assert any(
        r.name == "kubeops.controller.leader_election"
        and "successfully acquired lease" in r.getMessage()
        for r in caplog.records
    )


async def test_electors_racing_for_a_new_lease_elect_exactly_one(election: Election) -> None:
    electors = [election.elector(f"racer-{i}") for i in range(3)]
    for elector, _ in electors:
        election.run(elector)
    await async_eventually(
        lambda: any(e.is_leader() for e, _ in electors),
        timeout=5,
        interval=POLL,
        message="a leader",
    )
    leader = next(e for e, _ in electors if e.is_leader())
    # Every racer has looked at the lease since it was taken, and seen it held.
    await async_eventually(
        lambda: all(e.leader_identity == leader.identity for e, _ in electors),
        timeout=5,
        interval=POLL,
        message="every racer to see the one leader",
    )
    assert sum(e.is_leader() for e, _ in electors) == 1
    assert sum(e.acquisitions for e, _ in electors) == 1
    assert sum(r.started.is_set() for _, r in electors) == 1
    spec = await election.read()
    assert spec["leaseTransitions"] == 0


async def test_the_lease_records_holder_transitions_and_keeps_acquire_time_on_renew(
    election: Election,
) -> None:
    a, _ = election.elector("a")
    a_task = election.run(a)
    await async_eventually(a.is_leader, timeout=5, interval=POLL, message="a leads")
    first = await election.read()
    assert first["holderIdentity"] == "a"
    assert first["leaseDurationSeconds"] == 2
    assert first["leaseTransitions"] == 0
    renewed = await next_renewal(election, first)
    assert renewed["renewTime"] > first["renewTime"]
    assert renewed["acquireTime"] == first["acquireTime"]
    assert (renewed["holderIdentity"], renewed["leaseTransitions"]) == ("a", 0)

    await cancel(a_task)
    released = await election.read()
    assert released["holderIdentity"] == ""
    assert released["leaseDurationSeconds"] == 1
    assert released["leaseTransitions"] == 0

    b, _ = election.elector("b")
    election.run(b)
    await async_eventually(b.is_leader, timeout=3, interval=POLL, message="b leads")
    taken = await election.read()
    assert (taken["holderIdentity"], taken["leaseTransitions"]) == ("b", 1)
    assert taken["leaseDurationSeconds"] == 2
    assert taken["acquireTime"] > first["acquireTime"]


async def test_cancelling_the_leader_releases_the_lease_and_the_other_takes_over_quickly(
    election: Election,
) -> None:
    a, a_calls = election.elector("a")
    a_task = election.run(a)
    await async_eventually(a.is_leader, timeout=5, interval=POLL, message="a leads")
    b, b_calls = election.elector("b")
    election.run(b)
    await async_eventually(
        lambda: b.leader_identity == "a", timeout=3, interval=POLL, message="b sees a"
    )

    cancelled = time.monotonic()
    await cancel(a_task)
    assert not a.is_leader()
    assert a_calls.leader_task_cancelled
    assert a_calls.stopped is not None
    assert a_calls.stopped.is_set()
    assert len(a_calls.stopped_leading) == 1
    assert a_calls.lost_at is not None
    assert a_calls.lost_at <= a_calls.stopped_leading[0]

    await async_eventually(b.is_leader, timeout=LEASE + 2, interval=POLL, message="b takes over")
    took_over = time.monotonic()
    # Typically half a second.  Without the release b would wait a whole lease duration
    # after its last look at a's renews: never less than LEASE - RETRY after the cancel.
    assert took_over - cancelled < LEASE - RETRY - 0.2
    # on_started_leading runs as a task of its own, just after is_leader() turns true.
    await async_eventually(
        b_calls.started.is_set, timeout=2, interval=POLL, message="b's leading callback"
    )
    assert (await election.read())["leaseTransitions"] == 1


async def test_a_leader_gone_without_release_is_replaced_only_after_the_lease_duration(
    election: Election,
) -> None:
    a, a_calls = election.elector("a", release_on_cancel=False)
    a_task = election.run(a)
    await async_eventually(a.is_leader, timeout=5, interval=POLL, message="a leads")
    b, _ = election.elector("b")
    election.run(b)
    await async_eventually(
        lambda: b.leader_identity == "a", timeout=3, interval=POLL, message="b sees a"
    )

    killed = time.monotonic()
    await cancel(a_task)
    assert len(a_calls.stopped_leading) == 1
    assert (await election.read())["holderIdentity"] == "a"

    await async_eventually(b.is_leader, timeout=3 * LEASE, interval=POLL, message="b takes over")
    took_over = time.monotonic()
    # a's last renew was at most one retry period before it was cancelled; b counts the
    # lease duration from when it saw that renew, on its own clock.
    assert took_over - killed >= LEASE - RETRY - 0.1
    assert took_over - killed <= LEASE + 2 * MAX_RETRY + 2 * SLACK
    spec = await election.read()
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_expiry_is_measured_on_the_followers_own_clock(
    election: Election, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kubeops.controller.leader_election")
    a, _ = election.elector("a", release_on_cancel=False)
    a_task = election.run(a)
    await async_eventually(a.is_leader, timeout=5, interval=POLL, message="a leads")
    clock = ManualClock()
    b, _ = election.elector("b", clock=clock)
    election.run(b)
    await async_eventually(
        lambda: b.leader_identity == "a", timeout=3, interval=POLL, message="b sees a"
    )
    await cancel(a_task)
    expired = datetime.fromisoformat((await election.read())["renewTime"]).timestamp() + LEASE

    # By wall clock (and by a's renewTime) the lease runs out, but not by b's clock: b
    # looks at it after that and still finds it held.
    def looked_after_expiry() -> bool:
        return any(
            r.created > expired + SLACK and "held by a and has not expired" in r.getMessage()
            for r in caplog.records
        )

    await async_eventually(
        looked_after_expiry,
        timeout=LEASE + 5,
        interval=POLL,
        message="b to look at the lease after it ran out by wall clock",
    )
    assert not b.is_leader()
    clock.now += LEASE
    await async_eventually(
        b.is_leader, timeout=LEASE, interval=POLL, message="b takes over once its own clock says so"
    )


@pytest.mark.parametrize(
    "skewed", ["2001-01-01T00:00:00.000000Z", "2099-01-01T00:00:00.000000Z"], ids=["past", "future"]
)
async def test_renew_time_is_never_compared_with_the_local_clock(
    election: Election, skewed: str
) -> None:
    """A holder whose clock is far off keeps its lease as long as it keeps renewing it."""
    client = election.client()
    await client.create(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": election.lease},
            "spec": {
                "holderIdentity": "skewed",
                "leaseDurationSeconds": 2,
                "acquireTime": skewed,
                "renewTime": skewed,
                "leaseTransitions": 3,
            },
        }
    )
    b, b_calls = election.elector("b")
    election.run(b)

    async def renew_with_a_skewed_clock(seconds: float) -> None:
        for tick in range(1, int(seconds / 0.4) + 1):
            await asyncio.sleep(0.4)
            lease = await client.get(LEASE_KIND, election.lease)
            lease["spec"]["renewTime"] = skewed.replace(".000000", f".{tick:06d}")
            await client.replace(lease)

    renewing = election.spawn(renew_with_a_skewed_clock(LEASE + 1))
    while not renewing.done():
        assert not b.is_leader(), "b stole a lease that its holder keeps renewing"
        await asyncio.sleep(0.05)
    await renewing
    last_renew = time.monotonic()
    assert b.leader_identity == "skewed"
    assert b_calls.new_leaders == ["skewed"]

    await async_eventually(
        b.is_leader, timeout=3 * LEASE, interval=POLL, message="b takes over the abandoned lease"
    )
    took_over = time.monotonic()
    assert took_over - last_renew >= LEASE - 0.1
    spec = await election.read()
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 4)


async def test_on_stopped_leading_runs_even_if_never_leader(election: Election) -> None:
    a, _ = election.elector("a")
    election.run(a)
    await async_eventually(a.is_leader, timeout=5, interval=POLL, message="a leads")
    b, b_calls = election.elector("b")
    b_task = election.run(b)
    await async_eventually(
        lambda: b.leader_identity == "a", timeout=3, interval=POLL, message="b sees a"
    )
    await cancel(b_task)
    assert len(b_calls.stopped_leading) == 1
    assert not b_calls.started.is_set()
    assert b.acquisitions == 0
    assert (await election.read())["holderIdentity"] == "a"


async def test_an_elector_with_the_holders_identity_keeps_acquire_time_and_transitions(
    election: Election,
) -> None:
    first, _ = election.elector("same", release_on_cancel=False)
    first_task = election.run(first)
    await async_eventually(
        first.is_leader, timeout=5, interval=POLL, message="the first incarnation leads"
    )
    before = await election.read()
    await cancel(first_task)

    restarted, _ = election.elector("same")
    started = time.monotonic()
    election.run(restarted)
    await async_eventually(
        restarted.is_leader, timeout=3, interval=POLL, message="the restarted incarnation leads"
    )
    took_over = time.monotonic()
    # Its own lease: no waiting for it to expire.
    assert took_over - started < LEASE - RETRY - 0.2
    after = await election.read()
    assert after["acquireTime"] == before["acquireTime"]
    assert after["leaseTransitions"] == before["leaseTransitions"] == 0


async def test_a_failing_leader_callback_steps_down_releases_and_run_raises(
    election: Election,
) -> None:
    stopped: list[str] = []

    async def crash(_: asyncio.Event) -> None:
        await asyncio.sleep(RETRY)
        raise RuntimeError("reconciler crashed")

    a, _ = election.elector(
        "a", on_started_leading=crash, on_stopped_leading=lambda: stopped.append("a")
    )
    with pytest.raises(RuntimeError, match="reconciler crashed"):
        await asyncio.wait_for(a.run(), 10)
    assert stopped == ["a"]
    assert not a.is_leader()
    assert (await election.read())["holderIdentity"] == ""


async def test_the_leader_stops_leading_when_its_api_server_is_down_past_the_renew_deadline(
    kube_clusters: list[Cluster],
) -> None:
    cluster = kube_clusters[0]
    election = Election(str(cluster.kubeconfig), "default")
    loop = asyncio.get_running_loop()
    try:
        a, a_calls = election.elector("a")
        a_task = election.run(a)
        await async_eventually(a.is_leader, timeout=5, interval=POLL, message="a leads")
        await next_renewal(election, await election.read())  # a is renewing
        await loop.run_in_executor(None, cluster.stop)
        stopped = time.monotonic()
        try:
            # run() returns once leadership is lost, after trying to release for up to
            # renew_deadline (in vain: the server is down).
            await asyncio.wait_for(a_task, RENEW + RENEW + 2)
            assert not a.is_leader()
            assert a_calls.leader_task_cancelled
            assert a_calls.stopped is not None
            assert a_calls.stopped.is_set()
            assert a_calls.lost_at is not None
            assert a_calls.lost_at - stopped <= RENEW + SLACK
            assert len(a_calls.stopped_leading) == 1
            assert a_calls.stopped_leading[0] >= a_calls.lost_at
            assert a.renew_failures >= 1
        finally:
            await loop.run_in_executor(None, cluster.start)
    finally:
        await election.close()
