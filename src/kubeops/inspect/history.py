"""The inspection history: every run's scores and full document in a SQL database.

SQLite by default (``~/.local/share/kubeops/inspect.db``) or PostgreSQL by URL,
with the same schema and the same queries on both, through SQLAlchemy Core's
asyncio engine (aiosqlite; asyncpg for PostgreSQL, chosen by measurement: see
``docs/decisions.md``).  Each run keeps its scores, severity counts and
per-cluster scores in columns (the trend is one small query) and its whole
document as compressed JSON (any old report can be shown again).

Opening a database creates or upgrades its schema with Alembic (the revisions in
:mod:`kubeops.inspect.migrations`) under a database lock -- an advisory lock on
PostgreSQL, an exclusive transaction on SQLite -- so replicas starting together
are safe, and a database written by a newer kubeops is refused.  Connection
errors (the server restarting, the network dropping) are retried with backoff
for up to ``retry_for`` seconds; a run carries a key generated once per
:meth:`History.record` call, so a retry after a connection lost during the commit
finds the run instead of storing it twice.

The URL's password is masked everywhere it is printed: :attr:`History.url` is
the only form that appears in messages, logs and ``repr``.  URL handling,
retries and migrations are :mod:`kubeops.config.database`'s, shared with the
respond audit log.
"""

from __future__ import annotations

import datetime
import uuid
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kubeops.config import database
from kubeops.config.database import (
    DEFAULT_RETRY_FOR,
    POSTGRES_DRIVER,
    URL_FILE_LIMIT,
    Database,
    Naming,
    mask_url,
)
from kubeops.errors import KubeopsError
from kubeops.inspect.document import Document
from kubeops.inspect.migrations import VERSION_TABLE

Entry = dict[str, Any]
T = TypeVar("T")

SCHEMA_VERSION = 1
"""What ``kubeops_inspect_schema`` says: releases before Alembic refuse a database
whose version is higher.  Later revisions keep them able to write, so it stays 1."""
SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_TREND = 50
PRUNE_BATCH = 500
"""Runs deleted per transaction when pruning: short enough that writers wait little."""

# pg_advisory_xact_lock's key for schema changes: any constant, the same in every replica.
_MIGRATION_LOCK = 0x6B7562656F7073  # "kubeops"

__all__ = [
    "DEFAULT_RETRY_FOR",
    "DEFAULT_TREND",
    "POSTGRES_DRIVER",
    "PRUNE_BATCH",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "URL_FILE_LIMIT",
    "History",
    "HistoryError",
    "attach_history",
    "default_url",
    "mask_url",
    "read_url_file",
]

_metadata = sa.MetaData()

_schema = sa.Table(
    "kubeops_inspect_schema",
    _metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
)

_runs = sa.Table(
    "kubeops_inspect_runs",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("generated", sa.String(64), nullable=False, index=True),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("grade", sa.String(8), nullable=True),
    sa.Column("findings", sa.Integer, nullable=False),
    *(sa.Column(s, sa.Integer, nullable=False) for s in SEVERITIES),
    sa.Column("clusters", sa.Integer, nullable=False),
    sa.Column("unreachable", sa.Integer, nullable=False),
    # Which process ran it (the leader-election identity) and how long it took.
    sa.Column("runner", sa.String(255), nullable=False, default=""),
    sa.Column("seconds", sa.Float, nullable=True),
    # The whole document as zlib-compressed JSON, without its "history".
    sa.Column("document", sa.LargeBinary, nullable=False),
    # Generated once per record() call: a retry finds the run it may have stored already.
    sa.Column("run_key", sa.String(64), nullable=True, unique=True, index=True),
)

_cluster_scores = sa.Table(
    "kubeops_inspect_cluster_scores",
    _metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey(_runs.c.id), primary_key=True),
    sa.Column("cluster", sa.String(255), primary_key=True),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("grade", sa.String(8), nullable=True),
    sa.Column("reachable", sa.Boolean, nullable=False),
)


class HistoryError(KubeopsError):
    """The history database cannot be opened, read or written."""


_NAMING = Naming("history", "its history", "inspect.db", HistoryError, __name__)


def default_url() -> str:
    """``sqlite:///`` in ``$XDG_DATA_HOME/kubeops`` (``~/.local/share/kubeops``)."""
    return database.data_url("inspect.db")


def read_url_file(path: str | Path) -> str:
    """The database URL kept in a file (a mounted Secret): at most 64 KiB, surrounding
    whitespace stripped.  Errors name the file, never its content."""
    return database.read_url_file(path, _NAMING)


class History:
    """The runs recorded in one database; see the module doc.  Open it with
    ``await History.open(url)``, or ``async with await History.open(url)``."""

    def __init__(self, url: str | None = None, *, retry_for: float = DEFAULT_RETRY_FOR) -> None:
        """Prepare the engine without connecting; :meth:`open` also creates or upgrades
        the schema, which every other method expects."""
        self._db = Database(default_url() if url is None else url, _NAMING, retry_for=retry_for)
        self.url = self._db.url
        self.retry_for = retry_for
        self.sqlite = self._db.sqlite
        self.engine = self._db.engine

    @classmethod
    async def open(cls, url: str | None = None, *, retry_for: float = DEFAULT_RETRY_FOR) -> History:
        """Open the database at ``url`` (default: :func:`default_url`), creating or
        upgrading its schema; connection errors are retried for ``retry_for`` seconds."""
        history = cls(url, retry_for=retry_for)
        try:
            await history._migrate()
        except BaseException:
            await history.close()
            raise
        return history

    def __repr__(self) -> str:
        return f"History({self.url!r})"

    async def close(self) -> None:
        """Close the database connections."""
        await self._db.close()

    async def __aenter__(self) -> History:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the database -------------------------------------------------------------------------

    async def _run(
        self,
        doing: str,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        write: bool = False,
    ) -> T:
        """``work`` in one transaction, retried on connection errors (see
        :meth:`kubeops.config.database.Database.run`)."""
        return await self._db.run(doing, work, write=write)

    async def _migrate(self) -> None:
        """Create or upgrade the schema to the newest revision, under a database lock."""
        await self._db.migrate(
            Path(__file__).parent / "migrations",
            VERSION_TABLE,
            _metadata,
            lock=_MIGRATION_LOCK,
            check=self._check_version,
        )

    def _check_version(self, conn: sa.Connection) -> None:
        """Releases before Alembic wrote a schema version; a newer one is refused."""
        if sa.inspect(conn).has_table(_schema.name):
            version = conn.execute(sa.select(sa.func.max(_schema.c.version))).scalar()
            if version is not None and int(version) > SCHEMA_VERSION:
                raise HistoryError(
                    f"history {self.url}: written by a newer kubeops (schema version {version}, "
                    f"this one knows {SCHEMA_VERSION}); upgrade kubeops or use another database"
                )

    # -- writing ----------------------------------------------------------------------------

    async def record(
        self, document: Document, *, runner: str = "", seconds: float | None = None
    ) -> int:
        """Store one run (its ``history`` is not stored again); returns its id.  Retried
        across a lost connection without ever storing the run twice."""
        stored = {k: v for k, v in document.items() if k != "history"}
        summary = document.get("summary") or {}
        by_severity = summary.get("by_severity") or {}
        clusters = document.get("clusters") or []
        key = uuid.uuid4().hex
        row = {
            "generated": str(document.get("generated", "")),
            "score": document.get("score"),
            "grade": document.get("grade"),
            "findings": int(summary.get("findings", len(document.get("findings") or []))),
            **{s: int(by_severity.get(s, 0)) for s in SEVERITIES},
            "clusters": int(summary.get("clusters", len(clusters))),
            "unreachable": int(
                summary.get("unreachable", sum(not c.get("reachable", True) for c in clusters))
            ),
            "runner": runner[:255],
            "seconds": seconds,
            "document": zlib.compress(orjson.dumps(stored)),
            "run_key": key,
        }
        scores = {
            str(c.get("name", ""))[:255]: {
                "cluster": str(c.get("name", ""))[:255],
                "score": c.get("score"),
                "grade": c.get("grade"),
                "reachable": bool(c.get("reachable", True)),
            }
            for c in clusters
        }

        async def store(conn: AsyncConnection) -> int:
            found = (
                await conn.execute(sa.select(_runs.c.id).where(_runs.c.run_key == key))
            ).scalar()
            if found is not None:  # an earlier attempt committed before its connection died
                return int(found)
            result = await conn.execute(sa.insert(_runs).values(row))
            assert result.inserted_primary_key is not None
            run_id = int(result.inserted_primary_key[0])
            if scores:
                await conn.execute(
                    sa.insert(_cluster_scores), [{"run_id": run_id, **s} for s in scores.values()]
                )
            return run_id

        return await self._run("record the run", store, write=True)

    async def prune(
        self, *, keep: int | None = None, max_age: float | None = None, batch: int = PRUNE_BATCH
    ) -> int:
        """Delete all but the newest ``keep`` runs and the runs generated more than
        ``max_age`` seconds ago, ``batch`` runs per transaction so readers and the
        writer are never held up for long; returns how many were deleted."""
        if keep is not None and keep < 1:
            raise HistoryError(f"history {self.url}: keep at least one run, not {keep}")
        if max_age is not None and max_age <= 0:
            raise HistoryError(f"history {self.url}: the age limit must be positive, not {max_age}")
        if batch < 1:
            raise HistoryError(f"history {self.url}: prune at least one run per batch")
        limits: list[sa.ColumnElement[bool]] = []
        if keep is not None:

            async def cutoff(conn: AsyncConnection) -> int | None:
                newest = sa.select(_runs.c.id).order_by(_runs.c.id.desc()).limit(keep)
                found = (
                    await conn.execute(sa.select(sa.func.min(newest.subquery().c.id)))
                ).scalar()
                return None if found is None else int(found)

            oldest_kept = await self._run("prune old runs", cutoff)
            if oldest_kept is not None:
                limits.append(_runs.c.id < oldest_kept)
        if max_age is not None:
            # `generated` is the run's UTC ISO time, which sorts as text (and is indexed).
            since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=max_age)
            limits.append(_runs.c.generated < since.isoformat(timespec="seconds"))
        if not limits:
            return 0
        where = sa.or_(*limits)
        deleted = 0
        while True:
            count = await self._prune_batch(where, batch)
            deleted += count
            if count < batch:
                return deleted

    async def _prune_batch(self, where: sa.ColumnElement[bool], batch: int) -> int:
        """Delete up to ``batch`` of the oldest runs matching ``where`` in one transaction."""

        async def delete(conn: AsyncConnection) -> int:
            return await self._delete_batch(conn, where, batch)

        return await self._run("prune old runs", delete, write=True)

    async def _delete_batch(
        self, conn: AsyncConnection, where: sa.ColumnElement[bool], batch: int
    ) -> int:
        ids = list(
            (
                await conn.execute(
                    sa.select(_runs.c.id).where(where).order_by(_runs.c.id).limit(batch)
                )
            ).scalars()
        )
        if ids:
            await conn.execute(sa.delete(_cluster_scores).where(_cluster_scores.c.run_id.in_(ids)))
            await conn.execute(sa.delete(_runs).where(_runs.c.id.in_(ids)))
        return len(ids)

    # -- reading ----------------------------------------------------------------------------

    async def latest_id(self) -> int | None:
        """The newest run's ID, or None before the first run."""

        async def read(conn: AsyncConnection) -> int | None:
            value = (await conn.execute(sa.select(sa.func.max(_runs.c.id)))).scalar()
            return None if value is None else int(value)

        return await self._run("read the latest run", read)

    async def latest(self) -> Document | None:
        """The newest run's document, or None before the first run."""

        async def read(conn: AsyncConnection) -> bytes | None:
            newest = sa.select(sa.func.max(_runs.c.id)).scalar_subquery()
            query = sa.select(_runs.c.document).where(_runs.c.id == newest)
            return (await conn.execute(query)).scalar()

        return _decode(await self._run("read the latest run", read))

    async def get(self, run_id: int) -> Document | None:
        """One run's document as it was recorded, or None when there is no such run."""

        async def read(conn: AsyncConnection) -> bytes | None:
            query = sa.select(_runs.c.document).where(_runs.c.id == run_id)
            return (await conn.execute(query)).scalar()

        return _decode(await self._run(f"read run {run_id}", read))

    async def count(self) -> int:
        """How many runs are recorded."""

        async def read(conn: AsyncConnection) -> int:
            query = sa.select(sa.func.count()).select_from(_runs)
            return int((await conn.execute(query)).scalar() or 0)

        return await self._run("count the runs", read)

    async def runs(self, limit: int = DEFAULT_TREND, until: int | None = None) -> list[Entry]:
        """The newest ``limit`` runs up to run ``until``, oldest first: the history entry of
        each plus its ``id``, ``runner`` and ``seconds``."""
        query = sa.select(*(c for c in _runs.c if c.name not in ("document", "run_key")))
        if until is not None:
            query = query.where(_runs.c.id <= until)
        query = query.order_by(_runs.c.id.desc()).limit(max(0, limit))

        async def read(conn: AsyncConnection) -> tuple[list[sa.Row[Any]], list[sa.Row[Any]]]:
            rows = list(await conn.execute(query))[::-1]
            if not rows:
                return rows, []
            scores = await conn.execute(
                sa.select(_cluster_scores)
                .where(_cluster_scores.c.run_id.in_([row.id for row in rows]))
                .order_by(_cluster_scores.c.run_id, _cluster_scores.c.cluster)
            )
            return rows, list(scores)

        rows, scores = await self._run("read the history", read)
        clusters: dict[int, dict[str, dict[str, Any]]] = {row.id: {} for row in rows}
        for score in scores:
            clusters[score.run_id][score.cluster] = {"score": score.score, "grade": score.grade}
        return [
            {
                "id": row.id,
                "generated": row.generated,
                "score": row.score,
                "grade": row.grade,
                "findings": row.findings,
                "by_severity": {s: getattr(row, s) for s in SEVERITIES},
                "clusters": clusters[row.id],
                "unreachable": row.unreachable,
                "runner": row.runner,
                "seconds": row.seconds,
            }
            for row in rows
        ]

    async def trend(self, limit: int = DEFAULT_TREND, until: int | None = None) -> list[Entry]:
        """The document's ``history``: the newest ``limit`` runs (up to ``until``), oldest first."""
        keys = ("generated", "score", "grade", "findings", "by_severity", "clusters")
        return [{k: entry[k] for k in keys} for entry in await self.runs(limit, until)]


async def attach_history(
    document: Document, history: History, *, limit: int = DEFAULT_TREND, runner: str | None = None
) -> int:
    """Record ``document`` and set its ``history`` to the trend ending with it (one-shot
    ``kubeops inspect --history``); returns the run's id.  ``runner`` defaults to the host."""
    import socket

    run_id = await history.record(
        document, runner=socket.gethostname() if runner is None else runner
    )
    document["history"] = await history.trend(limit, until=run_id)
    return run_id


def _decode(blob: bytes | None) -> Document | None:
    if blob is None:
        return None
    document: Document = orjson.loads(zlib.decompress(blob))
    return document
