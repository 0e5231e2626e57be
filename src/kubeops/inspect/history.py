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
the only form that appears in messages, logs and ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import random
import re
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from kubeops.config.files import ensure_private
from kubeops.config.redact import redact_url
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
DEFAULT_RETRY_FOR = 60.0
PRUNE_BATCH = 500
"""Runs deleted per transaction when pruning: short enough that writers wait little."""
URL_FILE_LIMIT = 64 * 1024
POSTGRES_DRIVER = "asyncpg"
"""The async driver a plain ``postgresql://`` URL is given (see docs/decisions.md)."""

# pg_advisory_xact_lock's key for schema changes: any constant, the same in every replica.
_MIGRATION_LOCK = 0x6B7562656F7073  # "kubeops"
_ASYNC_POSTGRES_DRIVERS = {"asyncpg", "psycopg", "psycopg_async"}
_SYNC_POSTGRES_DRIVERS = {"", "psycopg2", "psycopg2cffi", "pg8000"}
# SQLSTATEs worth retrying: connection exceptions (class 08), the server shutting down,
# crashing or starting up, too many connections, serialization failures and deadlocks.
_TRANSIENT_STATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 5.0

log = logging.getLogger(__name__)

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


def default_url() -> str:
    """``sqlite:///`` in ``$XDG_DATA_HOME/kubeops`` (``~/.local/share/kubeops``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return f"sqlite:///{Path(base) / 'kubeops' / 'inspect.db'}"


def read_url_file(path: str | Path) -> str:
    """The database URL kept in a file (a mounted Secret): at most 64 KiB, surrounding
    whitespace stripped.  Errors name the file, never its content."""
    file = Path(path).expanduser()
    from kubeops.config.inputs import InputError, read_bounded

    try:
        data = read_bounded(file, limit=URL_FILE_LIMIT, what="history URL file")
    except InputError as err:
        hint = "; it should hold one database URL" if err.too_large else ""
        raise HistoryError(f"{err}{hint}") from None
    try:
        text = data.decode().strip()
    except UnicodeDecodeError:
        raise HistoryError(f"history URL file {file}: not UTF-8 text") from None
    if not text:
        raise HistoryError(f"history URL file {file}: empty")
    return text


def mask_url(url: str) -> str:
    """``url`` as printed: redacted by :func:`kubeops.config.redact.redact_url` (password
    and password-like query parameters become ``***``, also when it does not parse),
    without the driver name (``postgresql+asyncpg`` is shown as ``postgresql``)."""
    shown = redact_url(url)
    scheme, sep, rest = shown.partition("://")
    return f"{scheme.partition('+')[0]}{sep}{rest}" if sep else shown


def _display(url: sa.URL) -> str:
    """A parsed URL as printed (see :func:`mask_url`)."""
    return mask_url(url.render_as_string(hide_password=False))


def _from_environment() -> sa.URL:
    """What a bare ``postgresql://`` means: libpq's ``PG*`` variables (for display only:
    the driver reads them itself, passfile and SSL settings included)."""
    env = os.environ
    port = env.get("PGPORT", "")
    return sa.URL.create(
        "postgresql",
        username=env.get("PGUSER") or None,
        password="***" if env.get("PGPASSWORD") else None,
        host=env.get("PGHOST") or None,
        port=int(port) if port.isdigit() else None,
        database=env.get("PGDATABASE") or None,
    )


def _normalise(url: str) -> tuple[sa.URL, str]:
    """The URL kubeops connects with (its async driver chosen) and the masked one it
    prints.  A plain path is a SQLite file; ``~`` is expanded and parents created."""
    text = url.strip()
    if not text:
        raise HistoryError("history: the database URL is empty")
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser()}"
    try:
        parsed = sa.make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        raise HistoryError(
            f"history {mask_url(text)}: not a database URL (e.g. sqlite:///path/inspect.db or "
            "postgresql://user@host/db)"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    shown = _display(parsed.set(drivername=backend))
    if backend == "sqlite":
        if driver in ("", "pysqlite"):
            driver = "aiosqlite"
        parsed = parsed.set(drivername=f"sqlite+{driver}")
        if parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database).expanduser()
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as err:
                raise HistoryError(
                    f"history {shown}: cannot create the directory {path.parent}: {err.strerror}"
                ) from None
            _make_private(path)
            parsed = parsed.set(database=str(path))
    elif backend == "postgresql":
        if driver in _SYNC_POSTGRES_DRIVERS:
            driver = POSTGRES_DRIVER
        parsed = parsed.set(drivername=f"postgresql+{driver}")
        if (parsed.host, parsed.port, parsed.username, parsed.database) == (None,) * 4:
            shown = _display(_from_environment())
    else:
        raise HistoryError(
            f"history {shown}: kubeops keeps its history in SQLite or PostgreSQL, not {backend}"
        )
    return parsed, shown


def _reason(err: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """The driver's own words on one line, without SQLAlchemy's SQL echo and background
    link, and without any secret that might have crept in."""
    orig = getattr(err, "orig", None)
    cause = orig if orig is not None else err
    text = " ".join(str(cause).split())
    text = re.sub(r"\s*\[SQL: .*", "", text)
    text = re.sub(r"\s*\(Background on this error at: .*", "", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text or type(cause).__name__


def _sqlstate(err: BaseException) -> str:
    """The PostgreSQL SQLSTATE behind an error, from either driver, or ''."""
    for start in (getattr(err, "orig", None), err):
        candidate = start
        while candidate is not None:
            state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
            if isinstance(state, str) and state:
                return state
            candidate = candidate.__cause__
    return ""


class History:
    """The runs recorded in one database; see the module doc.  Open it with
    ``await History.open(url)``, or ``async with await History.open(url)``."""

    def __init__(self, url: str | None = None, *, retry_for: float = DEFAULT_RETRY_FOR) -> None:
        """Prepare the engine without connecting; :meth:`open` also creates or upgrades
        the schema, which every other method expects."""
        parsed, self.url = _normalise(default_url() if url is None else url)
        self.retry_for = retry_for
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self._secrets = tuple(
            s for s in (parsed.password, os.environ.get("PGPASSWORD")) if isinstance(s, str) and s
        )
        # An in-memory SQLite database is one connection, used by one task at a time.
        self._serial: asyncio.Lock | None = None
        options: dict[str, Any] = {}
        if self.sqlite:
            options["connect_args"] = {"timeout": 30}
            if parsed.database in (None, "", ":memory:"):
                options["poolclass"] = sa.StaticPool
                self._serial = asyncio.Lock()
        else:
            # A daemon writes one run at a time and serves a few readers.
            options.update(pool_size=5, max_overflow=5, pool_timeout=30, pool_recycle=1800)
            options["pool_pre_ping"] = True
            if parsed.drivername == "postgresql+asyncpg":
                connect_args: dict[str, Any] = {"timeout": 10, "command_timeout": 60}
                if "application_name" not in parsed.query:
                    connect_args["server_settings"] = {"application_name": "kubeops"}
                options["connect_args"] = connect_args
            else:
                options["connect_args"] = {"connect_timeout": 10}
                if "application_name" not in parsed.query:
                    options["connect_args"]["application_name"] = "kubeops"
        try:
            self.engine: AsyncEngine = create_async_engine(parsed, **options)
        except ImportError as err:
            raise HistoryError(
                f"history {self.url}: its database driver is not installed ({err.name or err})"
            ) from None
        except (
            sa_exc.ArgumentError,
            sa_exc.NoSuchModuleError,
            sa_exc.InvalidRequestError,
        ) as err:
            raise HistoryError(
                f"history {self.url}: cannot use this database: {_reason(err, self._secrets)}"
            ) from None
        if self.sqlite:
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine.sync_engine, "begin", _sqlite_begin)

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
        await self.engine.dispose()

    async def __aenter__(self) -> History:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connections, errors and retries ----------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(self, *, begin: str) -> AsyncIterator[AsyncConnection]:
        """One connection in one transaction (``begin`` is SQLite's BEGIN statement)."""
        async with contextlib.AsyncExitStack() as stack:
            if self._serial is not None:
                await stack.enter_async_context(self._serial)
            conn = await stack.enter_async_context(self.engine.connect())
            if self.sqlite:
                await conn.execution_options(kubeops_sqlite_begin=begin)
            await stack.enter_async_context(conn.begin())
            yield conn

    async def _run(
        self,
        doing: str,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        write: bool = False,
        begin: str | None = None,
    ) -> T:
        """``work`` in one transaction, retried on connection errors; any database error
        becomes a :class:`HistoryError` naming the database, ``doing`` and the cause."""
        deadline = time.monotonic() + self.retry_for
        delay = _BACKOFF_FIRST
        while True:
            try:
                async with self._transaction(
                    begin=begin or ("BEGIN IMMEDIATE" if write else "BEGIN")
                ) as conn:
                    return await work(conn)
            except HistoryError:
                raise
            except (sa_exc.SQLAlchemyError, OSError, TimeoutError) as err:
                reason = _reason(err, self._secrets)
                remaining = deadline - time.monotonic()
                # The last pause is cut to the deadline, so "after N s of retries" is true.
                pause = min(delay * random.uniform(0.5, 1.0), remaining)
                if not self._transient(err) or remaining <= 0:
                    if self._transient(err) and self.retry_for > 0:
                        reason += f" (still failing after {self.retry_for:g}s of retries)"
                    raise HistoryError(f"history {self.url}: cannot {doing}: {reason}") from err
                log.warning(
                    "history %s: cannot %s: %s; retrying in %.1fs", self.url, doing, reason, pause
                )
                await asyncio.sleep(pause)
                delay = min(delay * 2, _BACKOFF_MAX)

    def _transient(self, err: BaseException) -> bool:
        """A connection-class error, worth retrying: the server restarting or unreachable,
        a connection dropped; never a wrong password, a missing database or bad SQL."""
        if self.sqlite:
            # A local file: only contention is transient (the busy timeout already waited).
            text = str(getattr(err, "orig", None) or err).lower()
            return isinstance(err, sa_exc.OperationalError) and ("locked" in text or "busy" in text)
        if isinstance(err, (OSError, TimeoutError)):
            return True
        if not isinstance(err, sa_exc.DBAPIError):
            return False
        if err.connection_invalidated:
            return True
        state = _sqlstate(err)
        if state:
            return state.startswith(_TRANSIENT_STATES[0]) or state in _TRANSIENT_STATES[1:]
        if not isinstance(err, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return False
        # psycopg reports a failed connection without a SQLSTATE: judge the server's words.
        text = str(err.orig).lower()
        return not any(
            fatal in text
            for fatal in ("authentication failed", "does not exist", "no pg_hba.conf", "ssl")
        )

    # -- the schema ---------------------------------------------------------------------------

    async def _migrate(self) -> None:
        """Create or upgrade the schema to the newest revision, under a database lock."""

        async def upgrade(conn: AsyncConnection) -> None:
            if not self.sqlite:
                # Held to the end of this transaction: replicas upgrade one after the other.
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            await conn.run_sync(self._upgrade)

        await self._run("create or upgrade its tables", upgrade, begin="BEGIN EXCLUSIVE")

    def _upgrade(self, conn: sa.Connection) -> None:
        """Alembic's upgrade to head on ``conn`` (in the caller's transaction); a revision
        or schema version this kubeops does not know is refused."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        config.attributes["connection"] = conn
        config.attributes["metadata"] = _metadata
        script = ScriptDirectory.from_config(config)
        current = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_heads()
        for revision in current:
            try:
                script.get_revision(revision)
            except CommandError:
                raise HistoryError(
                    f"history {self.url}: written by a newer kubeops (schema revision "
                    f"{revision}, this one knows up to {script.get_current_head()}); upgrade "
                    "kubeops or use another database"
                ) from None
        if sa.inspect(conn).has_table(_schema.name):
            version = conn.execute(sa.select(sa.func.max(_schema.c.version))).scalar()
            if version is not None and int(version) > SCHEMA_VERSION:
                raise HistoryError(
                    f"history {self.url}: written by a newer kubeops (schema version {version}, "
                    f"this one knows {SCHEMA_VERSION}); upgrade kubeops or use another database"
                )
        if set(current) != set(script.get_heads()):
            command.upgrade(config, "heads")

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


def _make_private(path: Path) -> None:
    """The history holds cluster data: the database is created 0600 before SQLite opens
    it (SQLite gives its -wal and -shm files the database's mode), and an existing one
    of ours that others could read is narrowed.  Where that is not possible (a
    read-only directory), SQLite's own open reports the problem."""
    with contextlib.suppress(OSError):
        ensure_private(path)
        for journal in ("-wal", "-shm", "-journal"):
            ensure_private(f"{path}{journal}", create=False)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """kubeops begins SQLite's transactions itself (see :func:`_sqlite_begin`); WAL lets
    readers (the HTTP page, follower replicas) read while the leader writes."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    except Exception:  # a read-only or in-memory database keeps its journal mode
        pass
    finally:
        cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    """``BEGIN IMMEDIATE`` for writes (the write lock taken up front, waited for with the
    busy timeout), ``BEGIN EXCLUSIVE`` for schema changes, plain ``BEGIN`` for reads."""
    conn.exec_driver_sql(conn.get_execution_options().get("kubeops_sqlite_begin", "BEGIN"))
