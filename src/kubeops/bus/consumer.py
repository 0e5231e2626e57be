"""Rules' events from Kafka: a consumer-group member that commits an offset only once
the event read there has been handled.

:class:`KafkaSource` is a respond source (``name``, ``ready``, ``run(emit)``).  It
joins the group of ``bus.consume``, decodes each message
(:func:`kubeops.bus.cloudevents.from_message`) and hands it to ``emit``, which
returns once the engine has recorded the event's actions.  Several messages are
in flight at once (bounded), started in offset order within a partition; the
offset committed for a partition is the one after the last *contiguous* handled
message (:class:`PartitionProgress`), so a crash or a rebalance re-delivers what
was not finished -- at least once -- and the respond ledger turns a re-delivered
event's actions into no-ops.  Commits happen every ``commit_interval``, when
partitions are revoked (after waiting a bounded time for their messages in
flight; the rest go to the new owner) and on stop.  A message that does not
decode is logged once, counted and committed past: it never blocks its
partition.

Rules on foreign messages (``source: kafka``)
---------------------------------------------

Any producer can feed a rule: a plain JSON message ``{"name": ..., "payload":
{...}}`` (the HTTP receiver's shape) or a CloudEvent becomes an event of source
``kafka`` named by the JSON ``name`` (the CloudEvent's ``type``), payload as
sent.  Produced to a topic the bus consumes::

    {"name": "server_down", "payload": {"host": "db-1"}}

it answers this rule (``params.topics`` is optional and narrows the rule to
messages read from those topics)::

    bus:
      brokers: [kafka-0.kafka:9092]
      consume: {topics: [monitoring.events], group: kubeops-respond}
    rules:
      - name: failover-db
        trigger:
          source: kafka
          names: [server_down]
          params: {topics: [monitoring.events]}
          condition: payload.host.startsWith("db-")
        actions:
          - scale:
              target: {kind: Deployment, namespace: prod, name: db-proxy}
              replicas: 3
              max: 3

kubeops' own events read from the bus keep their original source and name
(``resource``/``added``...), so the rules written for the cluster answer them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from kubeops.bus import kafka
from kubeops.bus.cloudevents import DecodeError, from_message
from kubeops.bus.config import BusConfig, BusConfigError, ResolvedCredentials
from kubeops.respond.event import KAFKA
from kubeops.respond.source import Emit

__all__ = ["ConsumerMetrics", "KafkaSource", "OffsetBook", "PartitionProgress"]

log = logging.getLogger(__name__)

Partition = tuple[str, int]
"""A topic and a partition number (the client's TopicPartition is one)."""


class PartitionProgress:
    """One assigned partition's messages started and handled, in offset order.

    Messages are started in increasing offset order and may finish in any order;
    :attr:`handled` is the offset after the last message of the unbroken handled
    run from the start -- what may be committed.  Kafka's offsets may have gaps
    (compaction, transaction markers), so "contiguous" means "every message
    started before it", not "every integer".
    """

    def __init__(self) -> None:
        self._started: collections.deque[int] = collections.deque()
        self._finished: set[int] = set()
        self._last_started = -1
        self.handled: int | None = None
        """The offset to commit (the next one to read), None before any handled."""
        self.committed: int | None = None
        """The last offset committed by this member for this assignment."""

    def start(self, offset: int) -> bool:
        """Record ``offset`` as in flight; False when it was already started (a
        re-delivery within this assignment: it must not run twice)."""
        if offset <= self._last_started:
            return False
        self._started.append(offset)
        self._last_started = offset
        return True

    def finish(self, offset: int) -> None:
        """Record ``offset`` as handled and advance :attr:`handled` past the run."""
        self._finished.add(offset)
        while self._started and self._started[0] in self._finished:
            done = self._started.popleft()
            self._finished.discard(done)
            self.handled = done + 1

    @property
    def in_flight(self) -> int:
        """Messages started and not yet finished."""
        return len(self._started) - len(self._finished)

    def to_commit(self) -> int | None:
        """The offset to commit now, or None when nothing new was handled."""
        if self.handled is None or self.handled == self.committed:
            return None
        return self.handled


class OffsetBook:
    """The progress of every partition this member owns, keyed by topic-partition.

    A partition's progress lives from its assignment to its revocation; one
    assigned again starts afresh (the group re-delivers from the committed
    offset), and finishing a message of an older assignment changes nothing.
    """

    def __init__(self) -> None:
        self._parts: dict[Partition, PartitionProgress] = {}

    def assign(self, partitions: Iterable[Partition]) -> None:
        """Partitions now owned; ones already owned keep their progress."""
        for tp in partitions:
            self._parts.setdefault(tp, PartitionProgress())

    def revoke(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """Forget ``partitions``; returns the offsets still to commit for them."""
        final: dict[Partition, int] = {}
        for tp in partitions:
            progress = self._parts.pop(tp, None)
            offset = progress.to_commit() if progress is not None else None
            if offset is not None:
                final[tp] = offset
        return final

    def progress(self, tp: Partition) -> PartitionProgress | None:
        """The current assignment's progress of ``tp`` (None: not owned)."""
        return self._parts.get(tp)

    def owned(self) -> list[Partition]:
        """The partitions owned now."""
        return list(self._parts)

    def to_commit(self) -> dict[Partition, int]:
        """Every owned partition's offset to commit now (only the ones that moved)."""
        found = {tp: p.to_commit() for tp, p in self._parts.items()}
        return {tp: offset for tp, offset in found.items() if offset is not None}

    def committed(self, offsets: Mapping[Partition, int]) -> None:
        """Record ``offsets`` as committed (for partitions still owned)."""
        for tp, offset in offsets.items():
            progress = self._parts.get(tp)
            if progress is not None:
                progress.committed = offset


class ConsumerMetrics:
    """The consumer's metrics: messages read per topic, undecodable ones, committed offsets."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.consumed = Counter(
            "kubeops_bus_consumed_total",
            "Messages read from the bus and handed to the rules, by topic.",
            ["topic"],
            registry=self.registry,
        )
        self.decode_errors = Counter(
            "kubeops_bus_decode_errors_total",
            "Messages read from the bus that were no event (skipped and committed).",
            ["topic"],
            registry=self.registry,
        )
        self.committed = Gauge(
            "kubeops_bus_committed_offset",
            "The last offset this replica committed, by topic and partition.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "kubeops_bus_consumer_lag",
            "Messages in a partition after the committed offset (as last fetched).",
            ["topic", "partition"],
            registry=self.registry,
        )


class _State:
    """Logs one line when the connection's state changes, not one per failed attempt."""

    def __init__(self) -> None:
        self.trouble = ""

    def failing(self, what: str, err: BaseException) -> None:
        if not self.trouble:
            log.warning("bus: %s failed: %s; retrying", what, _cause(err))
            self.trouble = what

    def working(self) -> None:
        if self.trouble:
            log.info("bus: %s works again", self.trouble)
        self.trouble = ""


def _cause(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, BusConfigError) or text.startswith(type(err).__name__):
        return text  # already says what it is
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class KafkaSource:
    """The ``kafka`` source: a consumer-group member; see the module doc."""

    name = KAFKA

    def __init__(
        self,
        config: BusConfig,
        *,
        credentials: ResolvedCredentials | None = None,
        registry: CollectorRegistry | None = None,
        metrics: ConsumerMetrics | None = None,
        concurrency: int = 64,
        commit_interval: float = 1.0,
        revoke_wait: float = 5.0,
        stop_wait: float = 5.0,
        probe_interval: float = 5.0,
        connect: Callable[[], Any] | None = None,
        **client: Any,
    ) -> None:
        """``config.consume`` names the topics and group; ``credentials`` are the resolved
        secrets; ``metrics`` (else new ones in ``registry``) may outlive this source, as a
        restarted daemon part's would; ``client`` goes to the client factory (timeouts);
        ``connect`` replaces it."""
        if config.consume is None:
            raise ValueError("bus.consume: is required to consume")
        self.ready = asyncio.Event()
        self.topics = config.consume.topics
        self.group = config.consume.group
        self.metrics = metrics if metrics is not None else ConsumerMetrics(registry)
        self.concurrency = concurrency
        self.commit_interval = commit_interval
        self.revoke_wait = revoke_wait
        self.stop_wait = stop_wait
        self.probe_interval = probe_interval
        self._config = config
        self._connect = connect or (
            lambda: kafka.consumer(
                config,
                (),
                self.group,
                credentials=credentials or kafka.NO_CREDENTIALS,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **client,
            )
        )
        self._book = OffsetBook()
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: dict[asyncio.Task[None], PartitionProgress] = {}
        self._consumer: Any = None
        self._state = _State()

    def partitions(self) -> list[Partition]:
        """The partitions this member reads now."""
        return sorted(self._book.owned())

    async def run(self, emit: Emit) -> None:
        """Consume until cancelled; on the way out, commit what was handled."""
        committer: asyncio.Task[None] | None = None
        try:
            self._consumer = await self._join()
            committer = asyncio.create_task(self._commit_every(), name="bus commit")
            await self._fetch(emit)
        finally:
            if committer is not None:
                committer.cancel()
                await asyncio.wait([committer])
            await asyncio.shield(self._stop())

    async def _join(self) -> Any:
        """A started consumer subscribed with our rebalance listener, retrying while the
        brokers cannot be reached (one log line per state change)."""
        delay = 0.5
        while True:
            consumer = self._connect()
            consumer.subscribe(list(self.topics), listener=_Listener(self))
            try:
                await kafka.start(consumer, self._config, what=f"consumer group {self.group}")
            except BusConfigError as err:
                self._state.failing(f"joining consumer group {self.group!r}", err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), self.stop_wait)
                raise
            self._state.working()
            return consumer

    async def _fetch(self, emit: Emit) -> None:
        consumer = self._consumer
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=self.concurrency)
            for tp, messages in batch.items():
                progress = self._book.progress(tp)
                for message in messages:
                    await self._slots.acquire()
                    # A rebalance while waiting for a slot: this batch is no longer ours.
                    if progress is None or self._book.progress(tp) is not progress:
                        self._slots.release()
                        break
                    if not progress.start(message.offset):
                        self._slots.release()
                        continue
                    task = asyncio.create_task(self._handle(emit, message, progress))
                    self._in_flight[task] = progress
                    task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._slots.release()

    async def _handle(self, emit: Emit, message: Any, progress: PartitionProgress) -> None:
        topic, partition, offset = message.topic, message.partition, message.offset
        tp = (topic, partition)
        try:
            if message.value is None:
                raise DecodeError("no value (a tombstone)")
            event = from_message(
                message.value, key=message.key, topic=topic, partition=partition, offset=offset
            )
        except DecodeError as err:
            log.warning(
                "bus: skipped a message that is no event: topic %s partition %d offset %d: %s",
                topic,
                partition,
                offset,
                err,
            )
            self.metrics.decode_errors.labels(topic).inc()
        else:
            self.metrics.consumed.labels(topic).inc()
            delay = 0.5
            while True:
                try:
                    await emit(event)
                    break
                except Exception as err:
                    # The engine logs and swallows a rule's failure: this is the daemon
                    # unable to take the event.  Not handled, so not committed: try again
                    # while the partition is ours (its next owner reads it anyway).
                    if delay == 0.5:
                        log.warning(
                            "bus: handing over the message at topic %s partition %d offset %d "
                            "failed: %s; retrying",
                            topic,
                            partition,
                            offset,
                            _cause(err),
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    if self._book.progress(tp) is not progress:
                        return
        progress.finish(offset)

    async def _commit_every(self) -> None:
        """Commit what moved every ``commit_interval``; when nothing moves, ask the
        brokers for their topics every ``probe_interval``, so an outage (and its end) is
        said once even on a quiet bus."""
        quiet = 0.0
        while True:
            await asyncio.sleep(self.commit_interval)
            offsets = self._book.to_commit()
            if offsets:
                quiet = 0.0
                await self._commit(offsets)
                continue
            quiet += self.commit_interval
            if quiet >= self.probe_interval or self._state.trouble:
                quiet = 0.0
                try:
                    await asyncio.wait_for(self._consumer.topics(), max(self.probe_interval, 1.0))
                except (kafka.KafkaError, TimeoutError) as err:
                    self._state.failing("reaching the brokers", err)
                else:
                    self._state.working()

    async def _commit(self, offsets: Mapping[Partition, int], *, timeout: float = 10.0) -> None:
        """Commit ``offsets``; a failure is logged (on a state change) and retried later."""
        if not offsets:
            return
        try:
            await asyncio.wait_for(self._consumer.commit(dict(offsets)), timeout)
        except kafka.CommitFailedError:
            # The group rebalanced under us: the partitions are someone else's now,
            # who reads them again from the last commit; the ledger makes that a no-op.
            log.info(
                "bus: offsets not committed: the group rebalanced (%d partitions)", len(offsets)
            )
            return
        except (kafka.KafkaError, TimeoutError) as err:
            self._state.failing("committing offsets", err)
            return
        self._state.working()
        self._book.committed(offsets)
        for tp, offset in offsets.items():
            topic, partition = tp
            self.metrics.committed.labels(topic, str(partition)).set(offset)
            end = self._consumer.highwater(tp)
            if end is not None:
                self.metrics.lag.labels(topic, str(partition)).set(max(end - offset, 0))

    async def _settle(self, partitions: Iterable[Partition], wait: float) -> int:
        """Wait up to ``wait`` seconds for the messages in flight of ``partitions`` (of
        this assignment: ones given up at an earlier rebalance are not waited for
        again); returns how many are still running."""
        wanted = {self._book.progress(tp) for tp in partitions} - {None}
        tasks = [task for task, progress in self._in_flight.items() if progress in wanted]
        if not tasks:
            return 0
        _, pending = await asyncio.wait(tasks, timeout=wait)
        return len(pending)

    async def revoked(self, partitions: set[Partition]) -> None:
        """Partitions move away: finish what is quick, commit it, drop the rest."""
        left = await self._settle(partitions, self.revoke_wait)
        await self._commit(self._book.revoke(partitions), timeout=self.revoke_wait)
        if left:
            log.info(
                "bus: group %r: %d message(s) still being handled after %gs when their "
                "partitions moved: not committed, so their next owner reads them again",
                self.group,
                left,
                self.revoke_wait,
            )

    def assigned(self, partitions: set[Partition]) -> None:
        """Partitions to read (possibly none: the group is joined either way)."""
        self._book.assign(partitions)
        owned = ", ".join(f"{t}/{p}" for t, p in sorted(partitions)) or "none"
        log.info("bus: group %r assigned partitions: %s", self.group, owned)
        self.ready.set()

    async def _stop(self) -> None:
        """Wait a little for what is in flight, commit what is done, leave the group."""
        consumer = self._consumer
        if consumer is None:
            return
        try:
            await self._settle(self._book.owned(), self.stop_wait)
            await self._commit(self._book.to_commit(), timeout=self.stop_wait)
        finally:
            # Still running past the wait: not committed, so read again by whoever
            # owns the partition next.
            for task in list(self._in_flight):
                task.cancel()
            self._consumer = None
            try:
                await asyncio.wait_for(consumer.stop(), self.stop_wait + 5)
            except (kafka.KafkaError, TimeoutError) as err:
                log.warning("bus: leaving group %r failed: %s", self.group, _cause(err))
            self.ready.clear()


class _Listener(kafka.ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the source when partitions come and go (the client awaits these)."""

    def __init__(self, source: KafkaSource) -> None:
        self.source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.source.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.source.assigned(set(assigned))
