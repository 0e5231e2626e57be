"""``kubeops inspect serve`` against two real API servers, on a 2-second interval:
runs are stored, the page charts them, the metrics expose them, the webhook gets
them, a run that reaches no cluster is still recorded, and the retention limits
apply after each run -- each on an SQLite file and on a real PostgreSQL, whose
password is never printed."""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kubeops.inspect.history import History
from kubeops.inspect.serve import Interval, ServeOptions, serve
from kubeops.testenv import async_eventually

from .conftest import CONTEXTS, NOT_YET, Receiver, Serve, free_port, secret_of, url_file


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, f"{url}: {response.status} {await response.text()}"
        return await response.json()


def gauges(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def stored_runs(url: str) -> list[dict[str, Any]]:
    """Every run in the database at ``url``, oldest first."""
    async with await History.open(url) as history:
        return await history.runs(10_000)


async def test_two_runs_are_stored_charted_exposed_and_posted(
    kubeconfig: str,
    receiver: Receiver,
    http: aiohttp.ClientSession,
    history_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="kubeops")
    db = history_url
    pages: list[str] = []
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver.failures = 1  # the first delivery is refused once and must be retried
    stop = asyncio.Event()
    options = ServeOptions(
        schedule=Interval(2),
        kubeconfig=kubeconfig,
        contexts=CONTEXTS,
        history=db,
        listen=("127.0.0.1", port),
        webhook=receiver.url,
        external_url="https://inspect.example.com",
    )
    task = asyncio.create_task(serve(options, stop))

    async def two_runs() -> list[dict[str, Any]] | None:
        if task.done():
            task.result()
        runs: list[dict[str, Any]] = await get_json(http, f"{base}/history.json")
        return runs if len(runs) >= 2 else None

    async def text(path: str) -> str:
        async with http.get(f"{base}{path}") as response:
            assert response.status == 200, f"{path}: {response.status}"
            body = await response.text()
        pages.append(body)
        return body

    try:
        runs = await async_eventually(
            two_runs, timeout=30, interval=0.2, message="two runs in /history.json", ignore=NOT_YET
        )
        first, second = runs[0], runs[1]
        assert (first["id"], second["id"]) == (1, 2)
        for run in (first, second):
            assert set(run["clusters"]) == set(CONTEXTS)
            assert all(c["score"] is not None for c in run["clusters"].values())
            assert run["unreachable"] == 0

        report = await get_json(http, f"{base}/report.json")
        assert report["schema"] == "kubeops.io/inspect/v1"
        assert [c["name"] for c in report["clusters"]] == list(CONTEXTS)
        generated = [e["generated"] for e in report["history"]]
        assert generated[:2] == [first["generated"], second["generated"]]
        assert generated[-1] == report["generated"]

        async with http.get(f"{base}/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            page = await response.text()
        assert_trend(page, report["history"])
        pages.append(page)

        older = await get_json(http, f"{base}/runs/1.json")
        assert older["generated"] == first["generated"]
        assert [e["generated"] for e in older["history"]] == [first["generated"]]
        async with http.get(f"{base}/runs/1") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
        async with http.get(f"{base}/runs/999") as response:
            assert response.status == 404

        metrics = gauges(await text("/metrics"))
        latest = report["clusters"]
        for cluster in latest:
            key = ("kubeops_inspect_score", frozenset({("cluster", cluster["name"])}))
            assert key in metrics
            reachable = (
                "kubeops_inspect_cluster_reachable",
                frozenset({("cluster", cluster["name"])}),
            )
            assert metrics[reachable] == 1
        success = ("kubeops_inspect_runs_total", frozenset({("result", "success")}))
        assert metrics[success] >= 2
        assert metrics[("kubeops_inspect_run_duration_seconds_count", frozenset())] >= 2
        assert any(name == "kubeops_inspect_category_score" for name, _ in metrics)

        health = await get_json(http, f"{base}/healthz")
        assert health["leader"] is True
        assert health["runs"] >= 2
        # The database is named as printed everywhere: its password masked.
        masked = health["history"]
        assert masked.startswith(db.partition(":")[0] + "://")
        history_info = ("kubeops_inspect_history_info", frozenset({("url", masked)}))
        assert metrics[history_info] == 1
        assert await text("/readyz") == "ok\n"
        pages.append(str(health))
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0

    secret = secret_of(db)
    if secret is not None:
        assert masked == db.replace(f":{secret}@", ":***@")
        assert not [p for p in pages if secret in p]
        assert secret not in caplog.text
    assert f"history {masked}" in caplog.text
    stored = await stored_runs(db)
    # Every run was posted, once, in order, after a retry for the first.
    assert [p["run"] for p in receiver.posts] == [r["id"] for r in stored]
    post = receiver.posts[0]
    assert post["report_url"] == "https://inspect.example.com/runs/1"
    assert post["text"].startswith("kubeops inspect: grade ")
    assert [c["name"] for c in post["clusters"]] == list(CONTEXTS)
    assert set(post["by_severity"]) == {"critical", "error", "warning", "info"}


def assert_trend(page: str, history: list[dict[str, Any]]) -> None:
    """The page charts the trend: one point per run of the document's history."""
    assert len(history) >= 2
    assert f'data-testid="trend-chart" data-points="{len(history)}"' in page
    assert page.count('data-testid="trend-point"') == len(history)
    for cluster in CONTEXTS:
        assert f'data-testid="trend-series" data-cluster="{cluster}"' in page


async def test_the_command_stops_after_its_runs_and_logs_one_line_each(
    kubeconfig: str,
    receiver: Receiver,
    spawn: Callable[..., Awaitable[Serve]],
    history_url: str,
    tmp_path: Path,
) -> None:
    # The URL as a mounted Secret holds it: in a file, never on the command line.
    serve_ = await spawn(
        "--kubeconfig",
        kubeconfig,
        "--context",
        CONTEXTS[0],
        "--context",
        CONTEXTS[1],
        "--interval",
        "2s",
        "--runs",
        "2",
        "--history-url-file",
        str(url_file(history_url, tmp_path)),
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--webhook",
        receiver.url,
    )
    assert await serve_.wait(40) == 0, serve_.log
    runs = await stored_runs(history_url)
    assert len(runs) == 2
    assert runs[0]["runner"] == runs[1]["runner"] != ""
    lines = [line for line in serve_.log.splitlines() if re.search(r" run \d+ success: ", line)]
    assert len(lines) == 2, serve_.log
    assert "2 cluster(s)" in lines[0]
    assert re.search(r", grade [A-F] \(\d+\), \d+ finding", lines[0])
    assert [p["run"] for p in receiver.posts] == [1, 2]
    secret = secret_of(history_url)
    assert secret is None or secret not in serve_.log


async def test_a_run_that_reaches_no_cluster_is_recorded_and_once_exits_1(
    kube_clusters: list[Any],
    spawn: Callable[..., Awaitable[Serve]],
    history_url: str,
    tmp_path: Path,
) -> None:
    config = yaml.safe_load(Path(kube_clusters[0].kubeconfig).read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(yaml.safe_dump(config))
    if history_url.startswith("sqlite:///"):
        where = ["--history", history_url.removeprefix("sqlite:///")]  # a plain path is SQLite
    else:
        where = ["--history-url-file", str(url_file(history_url, tmp_path))]
    serve_ = await spawn("--kubeconfig", str(dead), "--once", *where)
    assert await serve_.wait(60) == 1, serve_.log
    async with await History.open(history_url) as history:
        (run,) = await history.runs()
        document = await history.latest()
    assert run["unreachable"] == 1
    assert document is not None
    assert document["clusters"][0]["reachable"] is False
    assert " failed: 1 cluster(s), 1 unreachable" in serve_.log


async def test_retention_applies_after_each_run(
    kubeconfig: str, history_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kubeops.inspect.serve")
    # A run from 40 days ago, as an earlier deployment left it.
    async with await History.open(history_url) as history:
        old = await history.record(aged(days=40), runner="an earlier deployment")
    options = ServeOptions(
        schedule=Interval(1),
        kubeconfig=kubeconfig,
        contexts=CONTEXTS[:1],
        history=history_url,
        listen=None,
        runs=4,
        keep=3,
        max_age=30 * 86400,
    )
    assert await asyncio.wait_for(serve(options), 60) == 0
    stored = await stored_runs(history_url)
    # The age limit took the old run after the first run; the count keeps the newest 3.
    assert [r["id"] for r in stored] == [old + 2, old + 3, old + 4]
    messages = [r.getMessage() for r in caplog.records]
    first = next(i for i, m in enumerate(messages) if m.startswith(f"run {old + 1} "))
    assert messages[first - 1] == "pruned 1 old run(s) from the history"
    assert sum(m.startswith("pruned 1 old run(s)") for m in messages) == 2  # and after run 4


def aged(*, days: float) -> dict[str, Any]:
    """A real document (one healthy node) generated ``days`` ago."""
    from kubeops.inspect import InspectConfig, Snapshot, build_document, run_checks
    from kubeops.inspect.runner import assemble_report

    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    snapshot = Snapshot.from_objects([node], name="old")
    snapshot.static = False
    document = build_document(
        assemble_report([run_checks(snapshot, InspectConfig())], InspectConfig(), "live")
    )
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days)
    document["generated"] = when.isoformat(timespec="seconds")
    return document
