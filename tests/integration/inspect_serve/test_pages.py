"""The web pages over a history written by someone else (a follower's view), with no
cluster: before the first run, after runs appear, and when the database breaks --
on an SQLite file and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import make_url

from kubeops.inspect import InspectConfig, Snapshot, build_document, run_checks
from kubeops.inspect.history import History
from kubeops.inspect.runner import assemble_report
from kubeops.inspect.serve.metrics import InspectMetrics
from kubeops.inspect.serve.web import Site


def document(ready: str) -> dict[str, Any]:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }
    snapshot = Snapshot.from_objects([node], name="solo")
    snapshot.static = False
    return build_document(
        assemble_report([run_checks(snapshot, InspectConfig())], InspectConfig(), "live")
    )


@pytest.fixture
async def pages(history_url: str) -> AsyncIterator[tuple[TestClient[Any, Any], History]]:
    history = await History.open(history_url)
    site = Site(history, InspectMetrics(), lambda: {"status": "ok", "leader": False})
    client: TestClient[Any, Any] = TestClient(TestServer(site.app(), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, history
    finally:
        await client.close()
        await history.close()


async def test_before_the_first_run(pages: tuple[TestClient[Any, Any], History]) -> None:
    client, _ = pages
    for path in ("/", "/report.json"):
        response = await client.get(path)
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
    assert await (await client.get("/history.json")).json() == []
    metrics = await (await client.get("/metrics")).text()
    assert "kubeops_inspect_score{" not in metrics
    assert (await client.get("/healthz")).status == 200
    # Ready: the database answers, even with nothing in it yet.
    assert (await client.get("/readyz")).status == 200


async def test_a_follower_shows_what_the_leader_recorded(
    pages: tuple[TestClient[Any, Any], History],
) -> None:
    client, history = pages
    await history.record(document("True"))
    metrics = await (await client.get("/metrics")).text()
    assert 'kubeops_inspect_score{cluster="solo"} 100.0' in metrics
    await history.record(document("False"))
    metrics = await (await client.get("/metrics")).text()
    assert 'kubeops_inspect_score{cluster="solo"} 100.0' not in metrics
    assert (
        'kubeops_inspect_findings{category="nodes",cluster="solo",namespace="",severity="critical"} 1.0'
        in metrics
    )
    report = await (await client.get("/report.json")).json()
    assert [e["by_severity"]["critical"] for e in report["history"]] == [0, 1]
    first = await (await client.get("/runs/1.json")).json()
    assert first["summary"]["findings"] == 0
    assert (await client.get("/runs/3")).status == 404
    assert len(await (await client.get("/history.json?limit=1")).json()) == 1
    assert (await client.get("/history.json?limit=many")).status == 400


async def test_a_broken_database_is_a_503_naming_it(
    pages: tuple[TestClient[Any, Any], History], history_url: str
) -> None:
    client, history = pages
    await history.record(document("True"))
    await break_database(history, history_url)
    for path in ("/history.json", "/readyz"):
        response = await client.get(path)
        assert response.status == 503
        text = await response.text()
        assert history.url in text  # the database as printed: its password masked
        secret = make_url(history_url).password
        assert secret is None or secret not in text
    # The metrics page still answers, with what it showed last.
    assert (await client.get("/metrics")).status == 200


async def break_database(history: History, url: str) -> None:
    """Take the tables away under the open history: the SQLite file is deleted, the
    PostgreSQL tables dropped by another connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        path = Path(parsed.database)
        path.unlink()
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        await history.engine.dispose()  # the next connection opens the (now empty) file afresh
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE kubeops_inspect_cluster_scores, kubeops_inspect_runs")
    finally:
        await conn.close()
