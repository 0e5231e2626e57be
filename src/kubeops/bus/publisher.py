"""Publishing events to the bus: at least once, in order, through the on-disk spool.

:meth:`Publisher.publish` only appends to the :class:`~kubeops.bus.spool.Spool` --
it never waits for the broker, so a source is never slowed by Kafka.  One sender
task reads from the spool's head, sends with the idempotent producer (``acks=all``;
a retried send is written once per partition), and acknowledges to the spool only
what the broker acknowledged, in order.  While the broker is away the spool grows
(bounded; past ``maxBytes`` an event is refused, counted, and a warning logged at
most once a minute), the sender backs off and retries, and when the broker is back
it drains in order.  State changes are logged (one line each), never single events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from kubeops.bus import kafka
from kubeops.bus.cloudevents import CONTENT_TYPE, key_of, to_cloudevent
from kubeops.bus.config import BusConfig, BusConfigError, ResolvedCredentials
from kubeops.bus.metrics import PublisherMetrics
from kubeops.bus.spool import Record, Spool
from kubeops.respond.event import KAFKA, Event

log = logging.getLogger(__name__)

BATCH = 1000
"""Records sent before waiting for their acknowledgements."""
SYNC_INTERVAL = 1.0
"""Seconds between fsyncs of the spool (see the spool's crash-safety note)."""
DROP_WARNING_INTERVAL = 60.0
ACK_WARNING = 5.0
"""Seconds without an acknowledgement before the broker is said to be away."""
HEADERS = [("content-type", CONTENT_TYPE.encode())]


def default_spool_dir(topic: str) -> Path:
    """``$XDG_STATE_HOME/kubeops/spool/<topic>`` (``~/.local/state`` when unset)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "kubeops" / "spool" / topic


class Publisher:
    """Events to ``config.publish.topic`` through the spool; see the module doc."""

    def __init__(
        self,
        config: BusConfig,
        credentials: ResolvedCredentials = kafka.NO_CREDENTIALS,
        registry: CollectorRegistry | None = None,
        *,
        producer: Callable[[], Any] | None = None,
        tail: Callable[[str, int], Awaitable[list[bytes]]] | None = None,
        backoff: tuple[float, float] = (0.5, 10.0),
        **client: Any,
    ) -> None:
        """``client`` goes to the producer factory (timeouts in tests); ``producer``
        replaces the factory."""
        if config.publish is None:
            raise ValueError("bus.publish: is required to publish")
        self.config = config
        self.settings = config.publish
        self.topic = config.publish.topic
        spool_dir = config.publish.spool_dir or default_spool_dir(self.topic)
        self.spool = Spool(spool_dir, max_bytes=config.publish.spool_max_bytes)
        self.metrics = PublisherMetrics(self.spool, registry)
        self._connect = producer or (
            lambda: kafka.producer(config, credentials=credentials, linger_ms=5, **client)
        )
        self.backoff = backoff
        self._producer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._state = ""
        self._check_tail = len(self.spool) > 0
        self._tail = tail or (
            lambda topic, count: kafka.tail(config, topic, count, credentials=credentials, **client)
        )
        self._done: set[int] = set()
        """Spooled records past the head that the broker acknowledged (a batch that
        failed in part): skipped when the rest is sent again."""
        self._dropped_since_warning = 0
        self._last_drop_warning = -DROP_WARNING_INTERVAL
        if self.spool.truncated:
            log.warning(
                "bus: spool %s: cut off %d torn record(s) left by a crash",
                spool_dir,
                self.spool.truncated,
            )
        if len(self.spool):
            log.info(
                "bus: spool %s holds %d event(s) from before; sending them first",
                spool_dir,
                len(self.spool),
            )

    # --- the sources' side ---------------------------------------------------------------------

    def wants(self, event: Event) -> bool:
        """Whether ``event`` is published: not one read from the bus (no loops), and of a
        source ``publish.sources`` lists (every source when it lists none)."""
        if event.origin or event.source == KAFKA:
            return False
        return not self.settings.sources or event.source in self.settings.sources

    def publish(self, event: Event) -> bool:
        """Spool ``event`` for the broker (never waits for it); False when it is not
        published (:meth:`wants`) or the spool is full (counted)."""
        if not self.wants(event):
            return False
        cluster = self.settings.cluster
        if not self.spool.append(key_of(event, cluster), to_cloudevent(event, cluster)):
            self._refused()
            return False
        self._drained.clear()
        self._wake.set()
        return True

    async def emit(self, event: Event) -> None:
        """:meth:`publish` as a source's ``emit``."""
        self.publish(event)

    def _refused(self) -> None:
        self.metrics.dropped.inc()
        self._dropped_since_warning += 1
        now = time.monotonic()
        if now - self._last_drop_warning >= DROP_WARNING_INTERVAL:
            log.warning(
                "bus: spool full (%d bytes, spool.maxBytes %d): %d event(s) refused since the last warning",
                self.spool.size,
                self.spool.max_bytes,
                self._dropped_since_warning,
            )
            self._last_drop_warning = now
            self._dropped_since_warning = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, *, check: bool = True) -> None:
        """Start the sender.  ``check``: connect first, and raise :class:`BusConfigError`
        (one line) when the brokers cannot be reached or refuse us -- the daemon's
        start-up check; without it, an absent broker is waited for."""
        if check:
            producer = self._connect()
            await kafka.start(producer, self.config, what=f"publishing to {self.topic}")
            self._producer = producer
            await self._skip_published()
            self._set_state(
                "connected", f"bus: publishing to {self.topic} on {', '.join(self.config.brokers)}"
            )
        self._task = asyncio.create_task(self._send_forever(), name=f"bus publisher {self.topic}")

    @property
    def connected(self) -> bool:
        """True while the broker takes our events (for ``/readyz`` detail)."""
        return self._state == "connected"

    async def flush(self, timeout: float) -> bool:
        """Wait until every spooled event is acknowledged (True) or ``timeout`` passes."""
        if not len(self.spool):
            return True
        self._drained.clear()
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                while len(self.spool):
                    await self._drained.wait()
                    self._drained.clear()
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 5.0) -> None:
        """Send what the broker takes within ``timeout``, then stop; what is left stays
        in the spool for the next start."""
        if self._task is not None and self.connected:
            await self.flush(timeout)
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        await self._stop_producer()
        self.spool.close()

    async def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    # --- the sender -------------------------------------------------------------------------

    async def _send_forever(self) -> None:
        delay = self.backoff[0]
        last_sync = time.monotonic()
        while True:
            if time.monotonic() - last_sync >= SYNC_INTERVAL:
                self.spool.sync()
                last_sync = time.monotonic()
            if not len(self.spool):
                self._drained.set()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SYNC_INTERVAL):
                        await self._wake.wait()
                continue
            try:
                if self._producer is None:
                    await self._open()
                if self._check_tail:
                    await self._skip_published()
                await self._send_batch()
            except Exception as err:  # any failure: the events stay spooled, try again
                self.metrics.errors.inc()
                # Start over with a new producer session: a send that failed may still
                # have been written, and only the topic can say (see _skip_published).
                await self._stop_producer()
                self._check_tail = True
                self._set_state(
                    "down",
                    f"bus: publishing to {self.topic}: {_cause(err)}; spooling "
                    f"({len(self.spool)} event(s) waiting), retrying",
                )
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]

    async def _open(self) -> None:
        producer = self._connect()
        await kafka.start(producer, self.config, what=f"publishing to {self.topic}")
        self._producer = producer

    async def _skip_published(self) -> None:
        """On start and after a failed send: a send without an answer (the broker went
        away mid-request; the process stopped) may have been written, and a new producer
        session cannot tell -- so the head of the spool is checked against the topic's
        last messages by CloudEvent id, and what is there already is not sent again."""
        if not self._check_tail or not len(self.spool):
            self._check_tail = False
            return
        head = self.spool.peek(self.spool.head, BATCH)
        written = set()
        for value in await self._tail(self.topic, BATCH):
            with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                written.add(orjson.loads(value).get("id"))
        skipped = 0
        for record in head:
            if _event_id(record.value) in written:
                self._done.add(record.seq)
                skipped += 1
        self._check_tail = False
        if skipped:
            log.info(
                "bus: publishing to %s: %d spooled event(s) were written before the restart; not sending them again",
                self.topic,
                skipped,
            )
        self._ack_done()

    async def _send_batch(self) -> None:
        records = [r for r in self.spool.peek(self.spool.head, BATCH) if r.seq not in self._done]
        futures: list[tuple[Record, asyncio.Future[Any]]] = []
        failure: BaseException | None = None
        try:
            try:
                for record in records:
                    future = await self._producer.send(
                        self.topic, value=record.value, key=record.key, headers=HEADERS
                    )
                    futures.append((record, future))
            except (kafka.KafkaError, TimeoutError) as err:  # no metadata, buffer full
                failure = err
            # Wait for every one, so that none is in flight when the rest is sent again.
            await self._wait_acknowledged([f for _, f in futures])
        finally:  # cancelled too (close): what the broker took is never sent again
            for record, future in futures:
                if future.done() and not future.cancelled():
                    if future.exception() is None:
                        self._done.add(record.seq)
                    else:
                        failure = failure or future.exception()
            self._ack_done()
        if failure is not None:
            raise failure
        waiting = len(self.spool)
        self._set_state(
            "connected",
            f"bus: publishing to {self.topic}: the broker takes events again ({waiting} spooled event(s) to send)",
        )
        if not waiting:
            self._drained.set()

    async def _wait_acknowledged(self, futures: list[asyncio.Future[Any]]) -> None:
        """Until every send is answered; a broker silent for ``ACK_WARNING`` seconds is
        said once (the client keeps retrying meanwhile)."""
        pending: set[asyncio.Future[Any]] = set(futures)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=ACK_WARNING)
            if pending:
                self._set_state(
                    "down",
                    f"bus: publishing to {self.topic}: no acknowledgement from the broker for "
                    f"{ACK_WARNING:.0f} s; spooling ({len(self.spool)} event(s) waiting)",
                )

    def _ack_done(self) -> None:
        """Move the spool's head past every record acknowledged in order."""
        acked = self.spool.head
        while acked in self._done:
            self._done.discard(acked)
            acked += 1
        if acked > self.spool.head:
            self.metrics.published.inc(acked - self.spool.head)
            self.spool.ack(acked)

    def _set_state(self, state: str, line: str) -> None:
        if state == self._state:
            return
        if not self._state and state == "connected":  # the first contact: no "again"
            line = f"bus: publishing to {self.topic} on {', '.join(self.config.brokers)}"
        (log.warning if state == "down" else log.info)(line)
        self._state = state


def _event_id(value: bytes) -> object:
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return doc.get("id") if isinstance(doc, dict) else None


def _cause(err: BaseException) -> str:
    if isinstance(err, BusConfigError):
        return str(err)
    return f"{type(err).__name__}: {str(err).strip() or 'no detail'}"
