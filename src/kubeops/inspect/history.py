"""The inspection history: every run's scores and full document in a SQL database.

SQLite by default (``~/.local/share/kubeops/inspect.db``), or any database
SQLAlchemy can reach by URL (``postgresql://...``) where a team has one.  Tables
are created when absent and carry a schema version, so a newer kubeops can
migrate them and an older one refuses instead of misreading.  Each run keeps its
scores, severity counts and per-cluster scores in columns (the trend is one
small query) and its whole document as compressed JSON (any old report can be
shown again).

The methods block; call them from asyncio with :func:`asyncio.to_thread`.  One
:class:`History` may be shared by threads, and several processes may share one
database (replicas behind leader election).
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from kubeops.errors import KubeopsError
from kubeops.inspect.document import Document

Entry = dict[str, Any]

SCHEMA_VERSION = 1
SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_TREND = 50

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


def _normalise(url: str) -> sa.URL:
    """A URL, or a plain file path taken as SQLite; ``~`` expanded, parents created."""
    text = url.strip()
    if not text:
        raise HistoryError("history: the database URL is empty")
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser()}"
    try:
        parsed = sa.make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        raise HistoryError(
            f"history {url!r}: not a database URL (e.g. sqlite:///path/inspect.db or "
            "postgresql://user@host/db)"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise HistoryError(
                f"history {url}: cannot create the directory {path.parent}: {err.strerror}"
            ) from err
        parsed = parsed.set(database=str(path))
    return parsed


def _reason(err: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's SQL echo and background link."""
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class History:
    """The runs recorded in one database; see the module doc."""

    def __init__(self, url: str | None = None) -> None:
        parsed = _normalise(default_url() if url is None else url)
        self.url = parsed.render_as_string(hide_password=True)
        self._lock: threading.Lock | None = None
        options: dict[str, Any] = {}
        sqlite = parsed.get_backend_name() == "sqlite"
        if sqlite:
            connect_args: dict[str, Any] = {"timeout": 30}
            if parsed.database in (None, "", ":memory:"):
                # One shared connection, or every thread would see its own empty database.
                options["poolclass"] = sa.StaticPool
                connect_args["check_same_thread"] = False
                self._lock = threading.Lock()
            options["connect_args"] = connect_args
        else:
            options["pool_pre_ping"] = True
        try:
            self.engine = sa.create_engine(parsed, **options)
        except ImportError as err:
            raise HistoryError(
                f"history {self.url}: its database driver is not installed ({err})"
            ) from None
        except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError) as err:
            raise HistoryError(f"history {self.url}: cannot use this database: {err}") from None
        if sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._create()

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _connect(self, doing: str, *, write: bool = False) -> Iterator[sa.Connection]:
        """A connection (in a transaction when writing); database errors become HistoryError."""
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.begin() if write else self.engine.connect() as conn:
                yield conn
        except sa_exc.SQLAlchemyError as err:
            raise HistoryError(f"history {self.url}: cannot {doing}: {_reason(err)}") from err
        finally:
            if lock is not None:
                lock.release()

    def _create(self) -> None:
        # Replicas starting together may race to create the tables: the loser retries once.
        version = SCHEMA_VERSION
        for attempt in range(2):
            try:
                with self._connect("create its tables", write=True) as conn:
                    _metadata.create_all(conn, checkfirst=True)
                    found = conn.execute(sa.select(sa.func.max(_schema.c.version))).scalar()
                    if found is None:
                        conn.execute(sa.insert(_schema).values(version=SCHEMA_VERSION))
                    else:
                        version = int(found)
                break
            except HistoryError:
                if attempt:
                    raise
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"history {self.url}: written by a newer kubeops (schema version {version}, "
                f"this one knows {SCHEMA_VERSION}); upgrade kubeops or use another database"
            )

    # -- writing ----------------------------------------------------------------------------

    def record(self, document: Document, *, runner: str = "", seconds: float | None = None) -> int:
        """Store one run (its ``history`` is not stored again); returns its id."""
        stored = {k: v for k, v in document.items() if k != "history"}
        summary = document.get("summary") or {}
        by_severity = summary.get("by_severity") or {}
        clusters = document.get("clusters") or []
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
        }
        with self._connect("record the run", write=True) as conn:
            result = conn.execute(sa.insert(_runs).values(row))
            key = result.inserted_primary_key
            assert key is not None
            run_id = int(key[0])
            scores = {
                str(c.get("name", "")): {
                    "run_id": run_id,
                    "cluster": str(c.get("name", ""))[:255],
                    "score": c.get("score"),
                    "grade": c.get("grade"),
                    "reachable": bool(c.get("reachable", True)),
                }
                for c in clusters
            }
            if scores:
                conn.execute(sa.insert(_cluster_scores), list(scores.values()))
        return run_id

    def prune(self, keep: int) -> int:
        """Delete all but the newest ``keep`` runs; returns how many were deleted."""
        if keep < 1:
            raise HistoryError(f"history: keep at least one run, not {keep}")
        with self._connect("prune old runs", write=True) as conn:
            newest = sa.select(_runs.c.id).order_by(_runs.c.id.desc()).limit(keep)
            cutoff = conn.execute(sa.select(sa.func.min(newest.subquery().c.id))).scalar()
            if cutoff is None:
                return 0
            conn.execute(sa.delete(_cluster_scores).where(_cluster_scores.c.run_id < cutoff))
            deleted = conn.execute(sa.delete(_runs).where(_runs.c.id < cutoff))
            return int(deleted.rowcount or 0)

    # -- reading ----------------------------------------------------------------------------

    def latest_id(self) -> int | None:
        """The newest run's ID, or None before the first run."""
        with self._connect("read the latest run") as conn:
            value = conn.execute(sa.select(sa.func.max(_runs.c.id))).scalar()
        return None if value is None else int(value)

    def latest(self) -> Document | None:
        """The newest run's document, or None before the first run."""
        run_id = self.latest_id()
        return None if run_id is None else self.get(run_id)

    def get(self, run_id: int) -> Document | None:
        """One run's document as it was recorded, or None when there is no such run."""
        with self._connect(f"read run {run_id}") as conn:
            blob = conn.execute(sa.select(_runs.c.document).where(_runs.c.id == run_id)).scalar()
        if blob is None:
            return None
        document: Document = orjson.loads(zlib.decompress(blob))
        return document

    def count(self) -> int:
        """How many runs are recorded."""
        with self._connect("count the runs") as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(_runs)).scalar() or 0)

    def runs(self, limit: int = DEFAULT_TREND, until: int | None = None) -> list[Entry]:
        """The newest ``limit`` runs up to run ``until``, oldest first: the history entry of
        each plus its ``id``, ``runner`` and ``seconds``."""
        query = sa.select(*(c for c in _runs.c if c.name != "document"))
        if until is not None:
            query = query.where(_runs.c.id <= until)
        query = query.order_by(_runs.c.id.desc()).limit(max(0, limit))
        with self._connect("read the history") as conn:
            rows = list(conn.execute(query))[::-1]
            ids = [row.id for row in rows]
            scores = (
                list(
                    conn.execute(
                        sa.select(_cluster_scores)
                        .where(_cluster_scores.c.run_id.in_(ids))
                        .order_by(_cluster_scores.c.run_id, _cluster_scores.c.cluster)
                    )
                )
                if ids
                else []
            )
        clusters: dict[int, dict[str, dict[str, Any]]] = {i: {} for i in ids}
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

    def trend(self, limit: int = DEFAULT_TREND, until: int | None = None) -> list[Entry]:
        """The document's ``history``: the newest ``limit`` runs (up to ``until``), oldest first."""
        keys = ("generated", "score", "grade", "findings", "by_severity", "clusters")
        return [{k: entry[k] for k in keys} for entry in self.runs(limit, until)]


def attach_history(
    document: Document, history: History, *, limit: int = DEFAULT_TREND, runner: str | None = None
) -> int:
    """Record ``document`` and set its ``history`` to the trend ending with it (one-shot
    ``kubeops inspect --history``); returns the run's id.  ``runner`` defaults to the host."""
    import socket

    run_id = history.record(document, runner=socket.gethostname() if runner is None else runner)
    document["history"] = history.trend(limit, until=run_id)
    return run_id


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (the HTTP page, follower replicas) read while the leader writes."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    except Exception:  # a read-only or in-memory database keeps its journal mode
        pass
    finally:
        cursor.close()
