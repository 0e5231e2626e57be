"""``kubeops inspect serve`` against two real API servers, on a 2-second interval:
runs are stored, the page charts them, the metrics expose them, the webhook gets
them, and a run that reaches no cluster is still recorded."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kubeops.inspect.history import History
from kubeops.inspect.serve import Interval, ServeOptions, serve
from kubeops.testenv import async_eventually

from .conftest import CONTEXTS, NOT_YET, Receiver, Serve, free_port


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


async def test_two_runs_are_stored_charted_exposed_and_posted(
    kubeconfig: str, receiver: Receiver, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'inspect.db'}"
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

        older = await get_json(http, f"{base}/runs/1.json")
        assert older["generated"] == first["generated"]
        assert [e["generated"] for e in older["history"]] == [first["generated"]]
        async with http.get(f"{base}/runs/1") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
        async with http.get(f"{base}/runs/999") as response:
            assert response.status == 404

        async with http.get(f"{base}/metrics") as response:
            assert response.status == 200
            metrics = gauges(await response.text())
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
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0

    with History(db) as history:
        stored = history.runs()
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
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.db"
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
        "--history",
        f"sqlite:///{db}",
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--webhook",
        receiver.url,
    )
    assert await serve_.wait(40) == 0, serve_.log
    with History(str(db)) as history:
        runs = history.runs()
    assert len(runs) == 2
    assert runs[0]["runner"] == runs[1]["runner"] != ""
    lines = [line for line in serve_.log.splitlines() if re.search(r" run \d+ success: ", line)]
    assert len(lines) == 2, serve_.log
    assert "2 cluster(s)" in lines[0]
    assert re.search(r", grade [A-F] \(\d+\), \d+ finding", lines[0])
    assert [p["run"] for p in receiver.posts] == [1, 2]


async def test_a_run_that_reaches_no_cluster_is_recorded_and_once_exits_1(
    kube_clusters: list[Any], spawn: Callable[..., Awaitable[Serve]], tmp_path: Path
) -> None:
    config = yaml.safe_load(Path(kube_clusters[0].kubeconfig).read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(yaml.safe_dump(config))
    db = tmp_path / "runs.db"
    serve_ = await spawn("--kubeconfig", str(dead), "--once", "--history", str(db))
    assert await serve_.wait(60) == 1, serve_.log
    with History(str(db)) as history:
        (run,) = history.runs()
        document = history.latest()
    assert run["unreachable"] == 1
    assert document is not None
    assert document["clusters"][0]["reachable"] is False
    assert " failed: 1 cluster(s), 1 unreachable" in serve_.log
