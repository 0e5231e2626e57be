"""Which async PostgreSQL driver should the inspection history use?  Measured, not assumed.

Against one real PostgreSQL (testenv's throwaway server, or the one named by
``KUBEOPS_BENCH_POSTGRES_URL``), each candidate -- asyncpg and psycopg 3 (async),
both through :class:`kubeops.inspect.history.History` as kubeops uses them --
does, on a fresh database: N ``record`` calls of the sample report (~45 KiB of
JSON, 3 clusters), then M reads of the trend (the newest 50 runs) and M reads of
one whole document.  Medians of R rounds in alternating order; per-operation
times.  Run: .venv/bin/python bench/history_drivers.py [N] [M] [R]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from kubeops.inspect.history import History
from kubeops.inspect.report.sample import sample_document

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
M = int(sys.argv[2]) if len(sys.argv) > 2 else 200
R = int(sys.argv[3]) if len(sys.argv) > 3 else 5
DRIVERS = ("asyncpg", "psycopg")


@contextlib.contextmanager
def databases() -> Iterator[Callable[[str], str]]:
    """A function giving the URL of a fresh database of a given name on a real server."""
    given = os.environ.get("KUBEOPS_BENCH_POSTGRES_URL")
    if given:
        yield lambda name: fresh_database(given, name)
        return
    from kubeops.testenv.postgres import PostgresServer

    with PostgresServer() as server:

        def create(name: str) -> str:
            with contextlib.suppress(Exception):
                server.drop_database(name)
            return server.create_database(name)

        yield create


def fresh_database(url: str, name: str) -> str:
    """Create database ``name`` (dropping an older one) next to ``url``'s; its URL."""
    admin = sa.make_url(url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


async def one_round(url: str, driver: str) -> dict[str, float]:
    """Seconds per operation for one driver on a fresh database."""
    target = sa.make_url(url).set(drivername=f"postgresql+{driver}")
    document = sample_document(history=0)
    started = time.perf_counter()
    history = await History.open(target.render_as_string(hide_password=False), retry_for=0)
    opened = time.perf_counter() - started
    try:
        start = time.perf_counter()
        ids = [await history.record(document, runner="bench", seconds=1.0) for _ in range(N)]
        record = (time.perf_counter() - start) / N
        start = time.perf_counter()
        for _ in range(M):
            assert len(await history.trend(50)) == min(50, N)
        trend = (time.perf_counter() - start) / M
        start = time.perf_counter()
        for _ in range(M):
            assert await history.get(ids[len(ids) // 2]) is not None
        get = (time.perf_counter() - start) / M
    finally:
        await history.close()
    return {"open": opened, "record": record, "trend": trend, "get": get}


async def main() -> None:
    with databases() as fresh:
        results: dict[str, list[dict[str, float]]] = {d: [] for d in DRIVERS}
        for r in range(R):
            order = DRIVERS if r % 2 == 0 else DRIVERS[::-1]
            for driver in order:
                database = fresh(f"bench_history_{driver}")
                results[driver].append(await one_round(database, driver))
                print(f"round {r + 1} {driver}: {results[driver][-1]}", file=sys.stderr)
        print(f"N={N} records, M={M} reads, medians of R={R} rounds, per operation:")
        print("| driver | open (creates the schema) | record | trend (50 runs) | one document |")
        print("|---|---|---|---|---|")
        for driver in DRIVERS:
            med = {k: statistics.median(x[k] for x in results[driver]) for k in results[driver][0]}
            print(
                f"| {driver} | {med['open'] * 1e3:.1f} ms | {med['record'] * 1e6:,.0f} µs "
                f"| {med['trend'] * 1e6:,.0f} µs | {med['get'] * 1e6:,.0f} µs |"
            )


if __name__ == "__main__":
    asyncio.run(main())
