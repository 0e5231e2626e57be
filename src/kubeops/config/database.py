"""Where a kubeops database is and how to use it safely: the rules the inspection
history and the respond audit log share.

A URL is a SQLite path or file URL (the file and its directory created private,
0600/0700, before SQLite opens them) or a PostgreSQL URL (``postgresql://`` gets
asyncpg, chosen by measurement: see ``docs/decisions.md``; a bare one means
libpq's ``PG*`` variables).  :func:`mask_url` is the only form a URL is printed
in: its password and password-like parameters become ``***``.

:class:`Database` wraps SQLAlchemy Core's asyncio engine: each unit of work is
one transaction (``BEGIN IMMEDIATE`` for SQLite writes, so writers queue instead
of failing), connection errors -- the server restarting, the network dropping,
a busy SQLite file -- are retried with jittered exponential backoff for up to
``retry_for`` seconds, and anything else is one error naming the database, what
was being done and the driver's own words, without SQL echo or secrets.
:meth:`Database.migrate` creates or upgrades a schema with Alembic under a
database lock (an advisory lock on PostgreSQL, an exclusive transaction on
SQLite) so replicas starting together are safe, and refuses a database written
by a newer kubeops.

It lives in ``config``, the lowest layer, because the packages that keep a
database (``inspect``, ``respond``) sit side by side above it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from kubeops.config.files import ensure_private
from kubeops.config.redact import redact_url
from kubeops.errors import KubeopsError

T = TypeVar("T")

DEFAULT_RETRY_FOR = 60.0
URL_FILE_LIMIT = 64 * 1024
POSTGRES_DRIVER = "asyncpg"
"""The async driver a plain ``postgresql://`` URL is given (see docs/decisions.md)."""

_ASYNC_POSTGRES_DRIVERS = {"asyncpg", "psycopg", "psycopg_async"}
_SYNC_POSTGRES_DRIVERS = {"", "psycopg2", "psycopg2cffi", "pg8000"}
# SQLSTATEs worth retrying: connection exceptions (class 08), the server shutting down,
# crashing or starting up, too many connections, serialization failures and deadlocks.
_TRANSIENT_STATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 5.0


class DatabaseError(KubeopsError):
    """A kubeops database cannot be opened, read or written."""


@dataclass(frozen=True)
class Naming:
    """How one user of a database names it in messages: ``what`` prefixes every message
    (``history``, ``respond audit``), ``keeps`` says what is kept (``its history``),
    ``example`` is a SQLite file name for the hint, ``error`` the class raised and
    ``logger`` where retries are logged (the user's module, where its operators look)."""

    what: str
    keeps: str
    example: str
    error: type[KubeopsError] = DatabaseError
    logger: str = __name__


def data_url(filename: str) -> str:
    """``sqlite:///`` of ``filename`` in ``$XDG_DATA_HOME/kubeops`` (``~/.local/share/kubeops``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return f"sqlite:///{Path(base) / 'kubeops' / filename}"


def read_url_file(path: str | Path, naming: Naming) -> str:
    """The database URL kept in a file (a mounted Secret): at most 64 KiB, surrounding
    whitespace stripped.  Errors name the file, never its content."""
    file = Path(path).expanduser()
    from kubeops.config.inputs import InputError, read_bounded

    what = f"{naming.what} URL file"
    try:
        data = read_bounded(file, limit=URL_FILE_LIMIT, what=what)
    except InputError as err:
        hint = "; it should hold one database URL" if err.too_large else ""
        raise naming.error(f"{err}{hint}") from None
    try:
        text = data.decode().strip()
    except UnicodeDecodeError:
        raise naming.error(f"{what} {file}: not UTF-8 text") from None
    if not text:
        raise naming.error(f"{what} {file}: empty")
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


def normalise(url: str, naming: Naming) -> tuple[sa.URL, str]:
    """The URL kubeops connects with (its async driver chosen) and the masked one it
    prints.  A plain path is a SQLite file; ``~`` is expanded and parents created."""
    what = naming.what
    text = url.strip()
    if not text:
        raise naming.error(f"{what}: the database URL is empty")
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser()}"
    try:
        parsed = sa.make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        raise naming.error(
            f"{what} {mask_url(text)}: not a database URL (e.g. sqlite:///path/{naming.example} "
            "or postgresql://user@host/db)"
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
                raise naming.error(
                    f"{what} {shown}: cannot create the directory {path.parent}: {err.strerror}"
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
        raise naming.error(
            f"{what} {shown}: kubeops keeps {naming.keeps} in SQLite or PostgreSQL, not {backend}"
        )
    return parsed, shown


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite ``url`` (or a plain path) names, ``~`` expanded; None for another
    database or an in-memory one.  Unlike :func:`normalise`, creates nothing: a reader
    can tell a database not written yet from an empty one."""
    text = url.strip()
    if "://" not in text:
        return Path(text).expanduser() if text else None
    try:
        parsed = sa.make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        return None  # normalise says why when the database is opened
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def reason(err: BaseException, secrets: tuple[str, ...] = ()) -> str:
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


def sqlstate(err: BaseException) -> str:
    """The PostgreSQL SQLSTATE behind an error, from either driver, or ''."""
    for start in (getattr(err, "orig", None), err):
        candidate = start
        while candidate is not None:
            state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
            if isinstance(state, str) and state:
                return state
            candidate = candidate.__cause__
    return ""


class Database:
    """One database opened with kubeops' rules; see the module doc.  ``url`` is the
    masked form, the only one that appears in messages, logs and ``repr``."""

    def __init__(self, url: str, naming: Naming, *, retry_for: float = DEFAULT_RETRY_FOR) -> None:
        """Prepare the engine without connecting."""
        self.naming = naming
        parsed, self.url = normalise(url, naming)
        self.retry_for = retry_for
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self.secrets = tuple(
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
            # A daemon writes one thing at a time and serves a few readers.
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
            raise self.error(f"its database driver is not installed ({err.name or err})") from None
        except (
            sa_exc.ArgumentError,
            sa_exc.NoSuchModuleError,
            sa_exc.InvalidRequestError,
        ) as err:
            raise self.error(f"cannot use this database: {reason(err, self.secrets)}") from None
        if self.sqlite:
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine.sync_engine, "begin", _sqlite_begin)

    def error(self, cause: str) -> KubeopsError:
        """The error to raise: ``<what> <url>: <cause>``."""
        return self.naming.error(f"{self.naming.what} {self.url}: {cause}")

    async def close(self) -> None:
        """Close the database connections."""
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def transaction(self, *, begin: str = "BEGIN") -> AsyncIterator[AsyncConnection]:
        """One connection in one transaction (``begin`` is SQLite's BEGIN statement)."""
        async with contextlib.AsyncExitStack() as stack:
            if self._serial is not None:
                await stack.enter_async_context(self._serial)
            conn = await stack.enter_async_context(self.engine.connect())
            if self.sqlite:
                await conn.execution_options(kubeops_sqlite_begin=begin)
            await stack.enter_async_context(conn.begin())
            yield conn

    async def run(
        self,
        doing: str,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        write: bool = False,
        begin: str | None = None,
    ) -> T:
        """``work`` in one transaction, retried on connection errors; any database error
        becomes one error naming the database, ``doing`` and the cause."""
        deadline = time.monotonic() + self.retry_for
        delay = _BACKOFF_FIRST
        while True:
            try:
                async with self.transaction(
                    begin=begin or ("BEGIN IMMEDIATE" if write else "BEGIN")
                ) as conn:
                    return await work(conn)
            except self.naming.error:
                raise
            except (sa_exc.SQLAlchemyError, OSError, TimeoutError) as err:
                why = reason(err, self.secrets)
                remaining = deadline - time.monotonic()
                # The last pause is cut to the deadline, so "after N s of retries" is true.
                pause = min(delay * random.uniform(0.5, 1.0), remaining)
                if not self.transient(err) or remaining <= 0:
                    if self.transient(err) and self.retry_for > 0:
                        why += f" (still failing after {self.retry_for:g}s of retries)"
                    raise self.error(f"cannot {doing}: {why}") from err
                logging.getLogger(self.naming.logger).warning(
                    "%s %s: cannot %s: %s; retrying in %.1fs",
                    self.naming.what,
                    self.url,
                    doing,
                    why,
                    pause,
                )
                await asyncio.sleep(pause)
                delay = min(delay * 2, _BACKOFF_MAX)

    def transient(self, err: BaseException) -> bool:
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
        state = sqlstate(err)
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

    async def migrate(
        self,
        scripts: Path,
        version_table: str,
        metadata: sa.MetaData,
        *,
        lock: int,
        check: Callable[[sa.Connection], None] | None = None,
    ) -> None:
        """Create or upgrade the schema to the newest of the Alembic revisions in
        ``scripts`` (their version kept in ``version_table``), under a database lock
        (``lock`` is the PostgreSQL advisory lock's key, one per schema); ``check``
        may refuse what it finds first."""

        async def upgrade(conn: AsyncConnection) -> None:
            if not self.sqlite:
                # Held to the end of this transaction: replicas upgrade one after the other.
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))
            await conn.run_sync(self._upgrade, scripts, version_table, metadata, check)

        await self.run("create or upgrade its tables", upgrade, begin="BEGIN EXCLUSIVE")

    def _upgrade(
        self,
        conn: sa.Connection,
        scripts: Path,
        version_table: str,
        metadata: sa.MetaData,
        check: Callable[[sa.Connection], None] | None,
    ) -> None:
        """Alembic's upgrade to head on ``conn`` (in the caller's transaction); a revision
        this kubeops does not know is refused."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(scripts))
        config.attributes["connection"] = conn
        config.attributes["metadata"] = metadata
        config.attributes["version_table"] = version_table
        script = ScriptDirectory.from_config(config)
        current = MigrationContext.configure(
            conn, opts={"version_table": version_table}
        ).get_current_heads()
        for revision in current:
            try:
                script.get_revision(revision)
            except CommandError:
                raise self.error(
                    f"written by a newer kubeops (schema revision {revision}, this one knows "
                    f"up to {script.get_current_head()}); upgrade kubeops or use another database"
                ) from None
        if check is not None:
            check(conn)
        if set(current) != set(script.get_heads()):
            command.upgrade(config, "heads")


def run_migrations(version_table: str) -> None:
    """The body of each schema's Alembic ``env.py``: run the revisions on the connection
    :meth:`Database.migrate` hands over in ``config.attributes``, inside the transaction
    that holds its database lock (Alembic then neither begins nor commits one of its own)."""
    from alembic import context

    config = context.config
    context.configure(
        connection=config.attributes["connection"],
        target_metadata=config.attributes.get("metadata"),
        version_table=version_table,
    )
    with context.begin_transaction():
        context.run_migrations()


def _make_private(path: Path) -> None:
    """A kubeops database holds cluster data: it is created 0600 before SQLite opens it
    (SQLite gives its -wal and -shm files the database's mode), and an existing one of
    ours that others could read is narrowed.  Where that is not possible (a read-only
    directory), SQLite's own open reports the problem."""
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
