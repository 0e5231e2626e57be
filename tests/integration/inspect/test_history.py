"""The history database against real servers: every test runs on a SQLite file and
on the session's PostgreSQL (Debian's, started by the testenv plugin), except the
faults only a server has -- a restart with operations in flight, a connection lost
during a commit, an unreachable server -- which run on PostgreSQL alone."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from inspect_documents import document
from kubeops.inspect import history as history_module
from kubeops.inspect.history import (
    SCHEMA_VERSION,
    History,
    HistoryError,
    attach_history,
    read_url_file,
)
from kubeops.inspect.migrations import VERSION_TABLE
from kubeops.testenv import async_eventually
from kubeops.testenv.postgres import PostgresServer

HEAD = "0002"


def generated(days_ago: float) -> str:
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days_ago)
    return when.isoformat(timespec="seconds")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: a SQLite file, or a database of its own on the session's server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history' / 'inspect.db'}"
    return str(request.getfixturevalue("postgres_url"))


@contextlib.asynccontextmanager
async def opened(url: str, **options: Any) -> AsyncIterator[History]:
    async with await History.open(url, **options) as history:
        yield history


def sync_engine(url: str) -> sa.Engine:
    """A blocking engine on the same database, for what the tests set up behind the
    history's back (psycopg's blocking side, sqlite3)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return sa.create_engine(parsed)


@contextlib.contextmanager
def connection(url: str) -> Iterator[sa.Connection]:
    engine = sync_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with connection(url) as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql))]


def schema_differences(url: str) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the module's tables."""
    with connection(url) as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return list(compare_metadata(context, history_module._metadata))


# -- recording and reading ----------------------------------------------------------------


async def test_record_and_read_back(url: str) -> None:
    doc = document(down=1, unreachable=True)
    async with opened(url) as history:
        assert await history.latest() is None
        assert await history.latest_id() is None
        assert await history.trend() == []
        run_id = await history.record(doc, runner="replica-1", seconds=1.5)
        assert await history.latest() == doc
        assert await history.latest_id() == run_id
        assert await history.get(run_id) == doc
        assert await history.get(run_id + 1) is None
        (entry,) = await history.runs()
    assert entry["id"] == run_id
    assert entry["runner"] == "replica-1"
    assert entry["seconds"] == 1.5
    assert entry["unreachable"] == 1
    assert entry["score"] == doc["score"]
    assert entry["grade"] == doc["grade"]
    assert entry["findings"] == doc["summary"]["findings"] > 0
    assert entry["by_severity"] == doc["summary"]["by_severity"]
    assert entry["by_severity"]["critical"] == 1
    assert entry["clusters"] == {
        "a": {"score": doc["clusters"][0]["score"], "grade": doc["clusters"][0]["grade"]},
        "b": {"score": None, "grade": None},
    }


async def test_trend_is_oldest_first_has_the_documented_shape_and_limits(url: str) -> None:
    async with opened(url) as history:
        ids = [await history.record(document(down=d)) for d in (0, 1, 2, 3)]
        trend = await history.trend()
        assert [set(e) for e in trend] == [
            {"generated", "score", "grade", "findings", "by_severity", "clusters"}
        ] * 4
        assert [e["by_severity"]["critical"] for e in trend] == [0, 1, 2, 3]
        # The newest N, still oldest first; and a trend ending at an older run.
        assert [e["by_severity"]["critical"] for e in await history.trend(2)] == [2, 3]
        until = await history.trend(2, until=ids[1])
        assert [e["by_severity"]["critical"] for e in until] == [0, 1]
        assert await history.trend(0) == []
        assert await history.count() == 4


async def test_attach_history_records_and_ends_the_trend_with_this_run(url: str) -> None:
    async with opened(url) as history:
        await history.record(document(down=2))
        doc = document(down=0)
        run_id = await attach_history(doc, history)
        assert doc["history"][-1]["score"] == doc["score"]
        assert [e["by_severity"]["critical"] for e in doc["history"]] == [2, 0]
        # The stored copy does not nest the history inside itself.
        stored = await history.get(run_id)
        assert stored is not None
        assert "history" not in stored
        (entry,) = [e for e in await history.runs() if e["id"] == run_id]
        assert entry["runner"]  # the host's name


async def test_reopening_keeps_the_runs_and_ids_keep_growing(url: str) -> None:
    async with opened(url) as history:
        first = await history.record(document())
    async with opened(url) as history:
        assert await history.latest_id() == first
        second = await history.record(document(down=1))
        assert second > first
        assert [e["by_severity"]["critical"] for e in await history.trend()] == [0, 1]


async def test_two_handles_on_one_database_see_each_others_runs(url: str) -> None:
    async with opened(url) as writer, opened(url) as reader:
        run_id = await writer.record(document())
        assert await reader.latest_id() == run_id
        assert await reader.latest() == await writer.get(run_id)


async def test_concurrent_writers_and_readers_on_one_handle(url: str) -> None:
    async with opened(url) as history:
        doc = document()

        async def work(worker: int) -> list[int]:
            ids = []
            for i in range(5):
                ids.append(await history.record({**doc, "generated": f"w{worker}-{i}"}))
                assert len(await history.trend()) >= 1
            return ids

        ids = [i for batch in await asyncio.gather(*(work(w) for w in range(4))) for i in batch]
        assert len(set(ids)) == 20
        assert await history.count() == 20
        marks = {e["generated"] for e in await history.runs(100)}
        assert marks == {f"w{w}-{i}" for w in range(4) for i in range(5)}


async def test_an_in_memory_database_is_one_database_for_concurrent_tasks() -> None:
    async with opened("sqlite://") as history:
        doc = document()

        async def work() -> None:
            for _ in range(5):
                await history.record(doc)
                await history.trend()

        await asyncio.gather(*(work() for _ in range(4)))
        assert await history.count() == 20


# -- retention ----------------------------------------------------------------------------


async def test_prune_keeps_the_newest_runs_and_their_cluster_scores(url: str) -> None:
    async with opened(url) as history:
        ids = [await history.record(document(down=d % 3, unreachable=True)) for d in range(5)]
        assert await history.prune(keep=2) == 3
        assert [e["id"] for e in await history.runs()] == ids[-2:]
        assert await history.get(ids[0]) is None
        assert await history.prune(keep=10) == 0
        assert await history.prune() == 0
        with pytest.raises(HistoryError, match="keep at least one"):
            await history.prune(keep=0)
    # The per-cluster rows went with their runs.
    left = rows(url, "SELECT DISTINCT run_id FROM kubeops_inspect_cluster_scores ORDER BY run_id")
    assert [r[0] for r in left] == ids[-2:]


async def test_prune_by_age_deletes_runs_older_than_the_limit(url: str) -> None:
    async with opened(url) as history:
        doc = document()
        old = [await history.record({**doc, "generated": generated(days)}) for days in (30, 9)]
        new = [await history.record({**doc, "generated": generated(days)}) for days in (2, 0)]
        assert await history.prune(max_age=7 * 86400) == 2
        assert [e["id"] for e in await history.runs()] == new
        assert [await history.get(i) for i in old] == [None, None]
        # Both limits: a run goes when either says so.
        newest = await history.record({**doc, "generated": generated(0)})
        assert await history.prune(keep=2, max_age=86400) == 1
        assert [e["id"] for e in await history.runs()] == [new[1], newest]
        with pytest.raises(HistoryError, match="age limit must be positive"):
            await history.prune(max_age=0)


async def test_prune_deletes_in_batches_and_readers_read_between_and_during_them(
    url: str,
) -> None:
    async with opened(url) as pruner, opened(url) as reader:
        for _ in range(12):
            await pruner.record(document())
        between: list[int] = []
        during: list[int] = []
        batch_once = pruner._prune_batch
        delete_once = pruner._delete_batch

        async def batch(*args: Any) -> int:
            deleted = await batch_once(*args)
            between.append(await asyncio.wait_for(reader.count(), 10))
            return deleted

        async def delete(*args: Any) -> int:
            deleted = await delete_once(*args)
            # This batch's transaction is open and holds its write lock: a reader on
            # another connection is not held up, and sees the runs not yet deleted.
            during.append(await asyncio.wait_for(reader.count(), 10))
            return deleted

        pruner._prune_batch = batch  # type: ignore[method-assign]
        pruner._delete_batch = delete  # type: ignore[method-assign]
        assert await pruner.prune(keep=2, batch=3) == 10
        assert between == [9, 6, 3, 2]
        assert during == [12, 9, 6, 3]
        assert await reader.count() == 2


# -- the schema -----------------------------------------------------------------------------


async def test_a_new_database_gets_the_newest_schema(url: str) -> None:
    async with opened(url):
        pass
    assert rows(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert rows(url, "SELECT version FROM kubeops_inspect_schema") == [(SCHEMA_VERSION,)]
    assert schema_differences(url) == []
    # Opening again changes nothing.
    async with opened(url):
        pass
    assert rows(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert rows(url, "SELECT version FROM kubeops_inspect_schema") == [(SCHEMA_VERSION,)]


def create_first_release_database(url: str) -> dict[str, Any]:
    """The tables exactly as the release before Alembic created them (its DDL, copied),
    with its version row and one run it recorded; returns that run's document."""
    import zlib

    import orjson

    severities = ("critical", "error", "warning", "info")
    metadata = sa.MetaData()
    schema = sa.Table(
        "kubeops_inspect_schema",
        metadata,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    )
    runs = sa.Table(
        "kubeops_inspect_runs",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("generated", sa.String(64), nullable=False, index=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("grade", sa.String(8), nullable=True),
        sa.Column("findings", sa.Integer, nullable=False),
        *(sa.Column(s, sa.Integer, nullable=False) for s in severities),
        sa.Column("clusters", sa.Integer, nullable=False),
        sa.Column("unreachable", sa.Integer, nullable=False),
        sa.Column("runner", sa.String(255), nullable=False, default=""),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("document", sa.LargeBinary, nullable=False),
    )
    scores = sa.Table(
        "kubeops_inspect_cluster_scores",
        metadata,
        sa.Column("run_id", sa.Integer, sa.ForeignKey(runs.c.id), primary_key=True),
        sa.Column("cluster", sa.String(255), primary_key=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("grade", sa.String(8), nullable=True),
        sa.Column("reachable", sa.Boolean, nullable=False),
    )
    doc = document(down=1)
    if sa.make_url(url).get_backend_name() == "sqlite":
        Path(sa.make_url(url).database or "").parent.mkdir(parents=True, exist_ok=True)
    with connection(url) as conn:
        metadata.create_all(conn)
        conn.execute(sa.insert(schema).values(version=1))
        run_id = conn.execute(
            sa.insert(runs).values(
                generated=doc["generated"],
                score=doc["score"],
                grade=doc["grade"],
                findings=doc["summary"]["findings"],
                **{s: doc["summary"]["by_severity"][s] for s in severities},
                clusters=1,
                unreachable=0,
                runner="old-release",
                seconds=2.0,
                document=zlib.compress(orjson.dumps(doc)),
            )
        ).inserted_primary_key[0]
        conn.execute(
            sa.insert(scores).values(
                run_id=run_id, cluster="a", score=doc["score"], grade=doc["grade"], reachable=True
            )
        )
    return doc


async def test_a_database_of_the_release_before_alembic_is_upgraded_in_place(url: str) -> None:
    old = create_first_release_database(url)
    assert VERSION_TABLE not in sa.inspect(sync_engine(url)).get_table_names()
    async with opened(url) as history:
        (entry,) = await history.runs()
        assert entry["runner"] == "old-release"
        assert await history.get(entry["id"]) == old
        new = await history.record(document(down=2))
        assert [e["by_severity"]["critical"] for e in await history.trend()] == [1, 2]
        assert new > entry["id"]
    assert rows(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert rows(url, "SELECT version FROM kubeops_inspect_schema") == [(SCHEMA_VERSION,)]
    assert rows(url, "SELECT count(*) FROM kubeops_inspect_runs WHERE run_key IS NULL") == [(1,)]
    assert schema_differences(url) == []


async def test_replicas_opening_a_new_database_together_create_it_once(url: str) -> None:
    histories = await asyncio.gather(*(History.open(url) for _ in range(4)))
    try:
        ids = await asyncio.gather(*(h.record(document()) for h in histories))
        assert len(set(ids)) == 4
        assert await histories[0].count() == 4
    finally:
        await asyncio.gather(*(h.close() for h in histories))
    assert rows(url, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert rows(url, "SELECT version FROM kubeops_inspect_schema") == [(SCHEMA_VERSION,)]


async def test_a_database_from_a_newer_kubeops_is_refused(url: str) -> None:
    async with opened(url):
        pass
    with connection(url) as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))
    with pytest.raises(HistoryError, match=r"newer kubeops \(schema revision 0099, .*0002\)"):
        await History.open(url)


async def test_a_newer_schema_version_of_the_release_before_alembic_is_refused(
    url: str,
) -> None:
    create_first_release_database(url)
    with connection(url) as conn:
        conn.execute(sa.text("UPDATE kubeops_inspect_schema SET version = 2"))
    with pytest.raises(HistoryError, match=r"newer kubeops \(schema version 2"):
        await History.open(url)
    # Refused before anything was changed.
    assert VERSION_TABLE not in sa.inspect(sync_engine(url)).get_table_names()


# -- errors and credentials -------------------------------------------------------------------


def everything_printed(err: BaseException, caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        [str(err), repr(err), *traceback.format_exception(err), caplog.text]
        + [record.getMessage() for record in caplog.records]
    )


async def test_an_unusable_sqlite_database_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "db-is-a-directory"
    folder.mkdir()
    with pytest.raises(HistoryError) as info:
        await History.open(f"sqlite:///{folder}")
    message = str(info.value)
    assert message.startswith(f"history sqlite:///{folder}: cannot create or upgrade its tables:")
    assert "unable to open database file" in message
    assert "\n" not in message
    # aiosqlite stops the failed connection's thread on its own; let it finish in this loop.
    await async_eventually(
        lambda: (
            not any(t.name.endswith("(_connection_worker_thread)") for t in threading.enumerate())
        ),
        timeout=10,
    )


async def test_a_wrong_password_fails_at_once_and_is_never_printed(
    postgres: PostgresServer, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = sa.make_url(postgres_url).set(password="Wr0ngPassw0rd").render_as_string(False)
    started = time.monotonic()
    with pytest.raises(HistoryError) as info:
        await History.open(wrong, retry_for=60)
    assert time.monotonic() - started < 10  # not retried: a password does not heal
    message = str(info.value)
    given = sa.make_url(postgres_url)
    masked = f"postgresql://{given.username}:***@{given.host}:{given.port}/{given.database}"
    assert message.startswith(f"history {masked}: cannot create or upgrade its tables: ")
    assert "password authentication failed" in message
    assert "\n" not in message
    printed = everything_printed(info.value, caplog)
    assert "Wr0ngPassw0rd" not in printed
    assert postgres.password not in printed


async def test_an_unreachable_server_is_retried_for_retry_for_seconds_and_named_masked(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    from kubeops.testenv.ports import free_port

    caplog.set_level(logging.DEBUG)
    url = f"postgresql://kube:S3cretPw@127.0.0.1:{free_port()}/inspect"
    started = time.monotonic()
    with pytest.raises(HistoryError) as info:
        await History.open(url, retry_for=1.5)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 10
    message = str(info.value)
    assert message.startswith("history postgresql://kube:***@127.0.0.1:")
    assert "cannot create or upgrade its tables" in message
    assert "still failing after 1.5s of retries" in message
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) >= 2
    assert all("postgresql://kube:***@127.0.0.1" in r.getMessage() for r in retries)
    assert "S3cretPw" not in everything_printed(info.value, caplog)


async def test_credentials_from_the_pg_variables(
    postgres: PostgresServer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    given = sa.make_url(postgres_url)
    monkeypatch.setenv("PGHOST", str(given.host))
    monkeypatch.setenv("PGPORT", str(given.port))
    monkeypatch.setenv("PGUSER", str(given.username))
    monkeypatch.setenv("PGPASSWORD", str(given.password))
    monkeypatch.setenv("PGDATABASE", str(given.database))
    async with opened("postgresql://") as history:
        assert history.url == (
            f"postgresql://{given.username}:***@{given.host}:{given.port}/{given.database}"
        )
        run_id = await history.record(document())
    # It wrote to the database the variables name.
    assert rows(postgres_url, "SELECT id FROM kubeops_inspect_runs") == [(run_id,)]
    # A wrong password from the environment is never printed either.
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("PGPASSWORD", "Wr0ngFromEnv")
    with pytest.raises(HistoryError, match="password authentication failed") as info:
        await History.open("postgresql://")
    assert "Wr0ngFromEnv" not in everything_printed(info.value, caplog)


async def test_a_url_kept_in_a_file(url: str, tmp_path: Path) -> None:
    path = tmp_path / "secret" / "url"
    path.parent.mkdir()
    path.write_text(f"{url}\n")
    async with opened(read_url_file(path)) as history:
        run_id = await history.record(document())
    async with opened(url) as history:
        assert await history.latest_id() == run_id


# -- faults: a server restarted, a connection lost ---------------------------------------------


async def test_a_restart_with_operations_in_flight_loses_no_run_and_doubles_none(
    postgres: PostgresServer, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kubeops.inspect.history")
    doc = document(down=1)
    finished: list[tuple[float, int, str]] = []
    async with opened(postgres_url, retry_for=60) as history:

        async def writer(w: int) -> None:
            for i in range(15):
                mark = f"w{w}-{i}"
                finished.append(
                    (time.monotonic(), await history.record({**doc, "generated": mark}), mark)
                )

        async def reader() -> None:
            while len(finished) < 60:
                await history.trend(10)
                await history.latest()

        tasks = [asyncio.create_task(writer(w)) for w in range(4)]
        tasks.append(asyncio.create_task(reader()))
        await async_eventually(lambda: len(finished) >= 8, timeout=60)
        restart_began = time.monotonic()
        await asyncio.to_thread(postgres.restart)
        restart_ended = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        # Operations were in flight across the restart, and some of them had to retry.
        assert any(t < restart_began for t, _, _ in finished)
        assert any(t > restart_ended for t, _, _ in finished)
        assert any("retrying in" in r.getMessage() for r in caplog.records)
        # Nothing lost, nothing doubled.
        ids = [run_id for _, run_id, _ in finished]
        assert len(set(ids)) == 60
        assert await history.count() == 60
        stored = {e["id"]: e["generated"] for e in await history.runs(100)}
        assert stored == {run_id: mark for _, run_id, mark in finished}
    assert postgres.password not in caplog.text


class CommitDropper:
    """A TCP proxy to PostgreSQL that, once armed, lets one COMMIT through to the
    server, waits for the server's answer (the transaction is committed) and then
    cuts the client's connection instead of passing the answer on."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.armed = False
        self.dropped = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(self.host, self.port)
        self.writers |= {client_w, server_w}
        committing = asyncio.Event()

        async def pump(
            source: asyncio.StreamReader,
            sink: asyncio.StreamWriter,
            inspect: Callable[[bytes], Awaitable[bool]],
        ) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    if not await inspect(data):
                        return
                    sink.write(data)
                    await sink.drain()

        async def upstream(data: bytes) -> bool:
            if self.armed and b"COMMIT" in data:
                self.armed = False
                committing.set()
            return True

        async def downstream(data: bytes) -> bool:
            if committing.is_set():  # the server's answer to COMMIT: the client never sees it
                self.dropped += 1
                return False
            return True

        tasks = [
            asyncio.create_task(pump(client_r, server_w, upstream)),
            asyncio.create_task(pump(server_r, client_w, downstream)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (client_w, server_w):
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def test_a_connection_lost_during_the_commit_stores_the_run_once(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kubeops.inspect.history")
    given = sa.make_url(postgres_url)
    proxy = CommitDropper(str(given.host), int(given.port or 5432))
    port = await proxy.start()
    try:
        through = given.set(port=port).render_as_string(hide_password=False)
        async with opened(through, retry_for=30) as history:
            first = await history.record(document())
            proxy.armed = True
            second = await history.record(document(down=1))
            assert proxy.dropped == 1
            assert any("retrying in" in r.getMessage() for r in caplog.records)
            assert second != first
            assert [e["id"] for e in await history.runs()] == [first, second]
            assert await history.count() == 2
    finally:
        await proxy.close()


async def test_psycopg_named_in_the_url_works_too(postgres_url: str) -> None:
    # asyncpg is the default (docs/decisions.md); psycopg 3, when installed, is kept.
    given = sa.make_url(postgres_url)
    url = given.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    async with opened(url) as history:
        assert history.engine.url.drivername == "postgresql+psycopg"
        run_id = await history.record(document(down=1))
        assert [e["id"] for e in await history.runs()] == [run_id]
    wrong = given.set(drivername="postgresql+psycopg", password="Wr0ngPassw0rd")
    started = time.monotonic()
    with pytest.raises(HistoryError, match="password authentication failed") as info:
        await History.open(wrong.render_as_string(hide_password=False), retry_for=60)
    assert time.monotonic() - started < 10
    assert "Wr0ngPassw0rd" not in str(info.value)
