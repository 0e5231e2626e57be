"""The audit log: every decision for a matched rule, in a SQL database.

One row per decision -- fired, suppressed (and by which limit), dry-run,
succeeded, failed (and with what error) -- saying when, by which replica, for
which rule, event and object, and which action.  SQLite by default
(``~/.local/share/kubeops/respond-audit.db``, created private) or any URL
:mod:`kubeops.config.database` accepts (PostgreSQL for replicas that must share
one log); URL handling, password masking, retries and the Alembic migrations
(:mod:`kubeops.respond.migrations`) under a database lock are that module's,
shared with the inspection history.

Writing never holds up the engine: :meth:`AuditLog.record` only queues the
record, and one task writes the queue in batches (a storm of events is a few
transactions, not thousands).  :meth:`AuditLog.flush` waits until everything
recorded so far is stored, :meth:`AuditLog.close` flushes first.  A batch that
cannot be written (the database down for longer than the retries last) stays
queued and is tried again; each failure is logged and counted, and past
``MAX_PENDING`` waiting records new ones are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kubeops.config import database
from kubeops.config.database import DEFAULT_RETRY_FOR, Database, Naming
from kubeops.errors import KubeopsError
from kubeops.respond.metrics import RespondMetrics
from kubeops.respond.migrations import VERSION_TABLE

log = logging.getLogger(__name__)

BATCH = 500
"""Records written per transaction."""
DEFAULT_LIMIT = 100
MAX_PENDING = 200_000
"""Records held while the database is unreachable; beyond, new ones are dropped
(counted and logged) rather than the daemon running out of memory."""
DETAIL_LIMIT = 8192
CLOSE_TIMEOUT = 30.0
_RETRY_PAUSE_FIRST = 0.5
_RETRY_PAUSE_MAX = 10.0
# pg_advisory_xact_lock's key for the audit schema (the history has its own).
_MIGRATION_LOCK = 0x6B7265737061  # "kresp" "a"


class Filters(TypedDict, total=False):
    """What :meth:`AuditLog.query` and :meth:`AuditLog.count` select on; None: anything."""

    rule: str | None
    subject: str | None
    outcome: str | None
    action_id: str | None
    since: datetime.datetime | None
    until: datetime.datetime | None


class AuditError(KubeopsError):
    """The audit log cannot be opened, read or written."""


_NAMING = Naming("respond audit", "its audit log", "respond-audit.db", AuditError, __name__)

_metadata = sa.MetaData()
_audit = sa.Table(
    "kubeops_respond_audit",
    _metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("at", sa.Float(precision=53), nullable=False, index=True),
    sa.Column("replica", sa.String(255), nullable=False),
    sa.Column("rule", sa.String(255), nullable=False),
    sa.Column("event_name", sa.String(255), nullable=False),
    sa.Column("event_source", sa.String(32), nullable=False),
    sa.Column("event_identity", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("action_id", sa.String(64), nullable=False, index=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("dry_run", sa.Boolean(), nullable=False),
    sa.Column("record_key", sa.String(32), nullable=False, unique=True, index=True),
    sa.Index("ix_kubeops_respond_audit_rule_at", "rule", "at"),
    sa.Index("ix_kubeops_respond_audit_subject_at", "subject", "at"),
    sa.Index("ix_kubeops_respond_audit_outcome_at", "outcome", "at"),
)


def default_url() -> str:
    """``sqlite:///`` in ``$XDG_DATA_HOME/kubeops`` (``~/.local/share/kubeops``)."""
    return database.data_url("respond-audit.db")


def read_url_file(path: str | Path) -> str:
    """The audit database URL kept in a file (a mounted Secret); errors name the file."""
    return database.read_url_file(path, _NAMING)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One decision, as the audit log keeps it."""

    time: datetime.datetime
    rule: str
    outcome: str
    """One of :data:`kubeops.respond.outcome.OUTCOMES`."""
    replica: str = ""
    event_name: str = ""
    event_source: str = ""
    event_identity: str = ""
    subject: str = ""
    """The object the event is about (``pod/prod/web-1``), or ``""``."""
    action: str = ""
    action_id: str = ""
    reason: str = ""
    """Why it was suppressed (:data:`kubeops.respond.outcome.REASONS`)."""
    detail: str = ""
    """The plan's summary, what was done, or the error."""
    dry_run: bool = False
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Unique per record: a retried batch does not store it twice."""

    def as_dict(self) -> dict[str, Any]:
        """The record for ``-o json``/``yaml``: its time in RFC 3339, without the key."""
        return {
            "time": self.time.isoformat(),
            "replica": self.replica,
            "rule": self.rule,
            "event_name": self.event_name,
            "event_source": self.event_source,
            "event_identity": self.event_identity,
            "subject": self.subject,
            "action": self.action,
            "action_id": self.action_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
            "dry_run": self.dry_run,
        }


class AuditLog:
    """The audit log in one database; see the module doc.  ``await AuditLog.open(url)``."""

    def __init__(
        self,
        url: str | None = None,
        *,
        retry_for: float = DEFAULT_RETRY_FOR,
        batch: int = BATCH,
        metrics: RespondMetrics | None = None,
    ) -> None:
        """Prepare the engine without connecting; :meth:`open` also creates or upgrades
        the schema, which every other method expects."""
        self._db = Database(default_url() if url is None else url, _NAMING, retry_for=retry_for)
        self.url = self._db.url
        self.batch = max(1, batch)
        self.metrics = metrics
        self._queue: deque[AuditRecord] = deque()
        self._accepted = 0
        self._written = 0
        self._progress = asyncio.Condition()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.max_pending = MAX_PENDING
        self.dropped = 0
        """Records dropped because :data:`MAX_PENDING` were waiting already."""

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        retry_for: float = DEFAULT_RETRY_FOR,
        metrics: RespondMetrics | None = None,
    ) -> AuditLog:
        """Open the audit log at ``url`` (default: :func:`default_url`), creating or
        upgrading its schema; connection errors are retried for ``retry_for`` seconds."""
        audit = cls(url, retry_for=retry_for, metrics=metrics)
        try:
            await audit._db.migrate(
                Path(__file__).parent / "migrations",
                VERSION_TABLE,
                _metadata,
                lock=_MIGRATION_LOCK,
            )
        except BaseException:
            await audit._db.close()
            raise
        return audit

    def __repr__(self) -> str:
        return f"AuditLog({self.url!r})"

    async def __aenter__(self) -> AuditLog:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pending(self) -> int:
        """Records queued and not yet stored."""
        return self._accepted - self._written

    # -- writing ----------------------------------------------------------------------------

    def record(self, record: AuditRecord) -> None:
        """Queue ``record`` to be stored; returns at once (see :meth:`flush`)."""
        if self._closed:
            raise AuditError(f"respond audit {self.url}: closed; cannot record any more")
        if len(self._queue) >= self.max_pending:
            if self.dropped == 0:
                log.error(
                    "respond audit %s: %d records wait for the database; dropping new ones",
                    self.url,
                    len(self._queue),
                )
            self.dropped += 1
            if self.metrics is not None:
                self.metrics.audit_errors.inc()
            return
        self._queue.append(record)
        self._accepted += 1
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._drain(), name=f"respond audit writer {self.url}"
            )

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every record queued before this call is stored; :class:`AuditError`
        when ``timeout`` seconds pass first (the records stay queued)."""
        target = self._accepted
        try:
            async with asyncio.timeout(timeout):
                async with self._progress:
                    await self._progress.wait_for(lambda: self._written >= target)
        except TimeoutError:
            raise AuditError(
                f"respond audit {self.url}: {target - self._written} record(s) not stored "
                f"after {timeout:g}s"
            ) from None

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Store what is queued (waiting at most ``timeout`` seconds), then close the
        database; records still unstored then are reported as lost."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                await self.flush(timeout)
        finally:
            if self._writer is not None:
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer
            await self._db.close()

    async def _drain(self) -> None:
        """The one writer: whatever is queued, a batch per transaction, in order."""
        pause = _RETRY_PAUSE_FIRST
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [self._queue[i] for i in range(min(self.batch, len(self._queue)))]
                try:
                    await self._store(batch)
                except Exception as err:  # the database down past its retries, or a bug
                    if self.metrics is not None:
                        self.metrics.audit_errors.inc()
                    log.error(
                        "%s; %d record(s) kept queued, retrying in %.1fs",
                        err if isinstance(err, AuditError) else repr(err),
                        self.pending,
                        pause,
                    )
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, _RETRY_PAUSE_MAX)
                    continue
                pause = _RETRY_PAUSE_FIRST
                for _ in batch:
                    self._queue.popleft()
                async with self._progress:
                    self._written += len(batch)
                    self._progress.notify_all()

    async def _store(self, batch: list[AuditRecord]) -> None:
        rows = [_row(r) for r in batch]
        keys = [row["record_key"] for row in rows]

        async def store(conn: AsyncConnection) -> None:
            # An earlier attempt may have committed before its connection died.
            stored = set(
                (
                    await conn.execute(
                        sa.select(_audit.c.record_key).where(_audit.c.record_key.in_(keys))
                    )
                ).scalars()
            )
            fresh = [row for row in rows if row["record_key"] not in stored]
            if fresh:
                await conn.execute(sa.insert(_audit), fresh)

        await self._db.run(f"store {len(rows)} record(s)", store, write=True)

    async def prune(self, older_than: float) -> int:
        """Delete the records older than ``older_than`` seconds; returns how many."""
        cutoff = datetime.datetime.now(datetime.UTC).timestamp() - older_than

        async def delete(conn: AsyncConnection) -> int:
            result = await conn.execute(sa.delete(_audit).where(_audit.c.at < cutoff))
            return int(result.rowcount or 0)

        return await self._db.run("prune old records", delete, write=True)

    # -- reading ----------------------------------------------------------------------------

    async def query(
        self, *, limit: int | None = DEFAULT_LIMIT, **filters: Unpack[Filters]
    ) -> list[AuditRecord]:
        """The stored records matching every filter given, newest first, at most ``limit``
        (None: all).  ``since`` is inclusive, ``until`` exclusive."""
        query = _filtered(sa.select(_audit), filters)
        query = query.order_by(_audit.c.at.desc(), _audit.c.id.desc())
        if limit is not None:
            query = query.limit(max(0, limit))

        async def read(conn: AsyncConnection) -> list[sa.Row[Any]]:
            return list(await conn.execute(query))

        return [_record(row) for row in await self._db.run("read the audit log", read)]

    async def count(self, **filters: Unpack[Filters]) -> int:
        """How many records match the :meth:`query` filters."""
        query = _filtered(sa.select(sa.func.count()).select_from(_audit), filters)

        async def read(conn: AsyncConnection) -> int:
            return int((await conn.execute(query)).scalar() or 0)

        return await self._db.run("count the audit records", read)


def _filtered(query: sa.Select[Any], filters: Filters) -> sa.Select[Any]:
    for name in ("rule", "subject", "outcome", "action_id"):
        value = filters.get(name)
        if value is not None:
            query = query.where(_audit.c[name] == value)
    since, until = filters.get("since"), filters.get("until")
    if since is not None:
        query = query.where(_audit.c.at >= _seconds(since))
    if until is not None:
        query = query.where(_audit.c.at < _seconds(until))
    return query


def _seconds(moment: datetime.datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row(record: AuditRecord) -> dict[str, Any]:
    return {
        "at": _seconds(record.time),
        "replica": _clip(record.replica, 255),
        "rule": _clip(record.rule, 255),
        "event_name": _clip(record.event_name, 255),
        "event_source": _clip(record.event_source, 32),
        "event_identity": _clip(record.event_identity, 64),
        "subject": _clip(record.subject, 512),
        "action": _clip(record.action, 64),
        "action_id": _clip(record.action_id, 64),
        "outcome": _clip(record.outcome, 16),
        "reason": _clip(record.reason, 64),
        "detail": _clip(record.detail, DETAIL_LIMIT),
        "dry_run": bool(record.dry_run),
        "record_key": record.key[:32],
    }


def _record(row: sa.Row[Any]) -> AuditRecord:
    return AuditRecord(
        time=datetime.datetime.fromtimestamp(row.at, datetime.UTC),
        replica=row.replica,
        rule=row.rule,
        event_name=row.event_name,
        event_source=row.event_source,
        event_identity=row.event_identity,
        subject=row.subject,
        action=row.action,
        action_id=row.action_id,
        outcome=row.outcome,
        reason=row.reason,
        detail=row.detail,
        dry_run=bool(row.dry_run),
        key=row.record_key,
    )


def records(items: Iterable[AuditRecord]) -> list[dict[str, Any]]:
    """Records as plain dicts, for ``respond audit -o json|yaml``."""
    return [item.as_dict() for item in items]
