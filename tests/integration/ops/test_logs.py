"""Container logs through ``pods/{name}/log``, checked against ``kubectl logs`` on the same Pods.

testenv's kwok nodes serve every container's log from ``Cluster.container_log_file``;
the tests append lines to it (the file is shared by the whole session, so each
test looks for lines of its own, and compares with kubectl at the same moment).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.cli import logs as cli_logs
from kubeops.errors import BadRequest, NotFound
from kubeops.ops.logs import LogLine, label_selector, logs, pods_for
from kubeops.testenv import Cluster, async_eventually, ensure_assets


@pytest.fixture(scope="module")
def kubectl_path() -> Path:
    return ensure_assets(["kubectl"]).path("kubectl")


def kubectl(kubectl_path: Path, cluster: Cluster, namespace: str, *args: str) -> list[str]:
    done = subprocess.run(
        [str(kubectl_path), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def pod(name: str, *containers: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}, "annotations": annotations},
        "spec": {"containers": [{"name": c, "image": f"{c}:1"} for c in containers or ("app",)]},
    }


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "app:1"}]}}},
    }  # fmt: skip


async def running(client: Client, name: str, timeout: float = 30) -> None:
    async def started() -> bool:
        status = (await client.get("pods", name)).get("status", {})
        states = [c.get("state", {}) for c in status.get("containerStatuses") or []]
        # A finished container keeps its log (kwok completes a Job's Pod at once).
        assert states, f"pod {name} has no container status: {status}"
        assert all("running" in s or "terminated" in s for s in states), status
        return True

    await async_eventually(started, timeout=timeout, message=f"pod {name} to be running")


async def running_pods(client: Client, kind: str, name: str, count: int) -> list[str]:
    async def enough() -> list[Any]:
        pods = await pods_for(client, kind, name)
        assert len(pods) >= count, f"{kind}/{name} has {len(pods)} pods, not {count}"
        return pods

    pods = await async_eventually(enough, message=f"{count} pods of {kind}/{name}")
    names = [p["metadata"]["name"] for p in pods]
    for pod_name in names:
        await running(client, pod_name)
    return names


async def collect(lines: AsyncIterator[LogLine]) -> list[LogLine]:
    return [line async for line in lines]


def marker() -> str:
    return f"line-{uuid.uuid4().hex[:8]}"


async def test_a_pods_log_matches_kubectl_with_tail_timestamps_and_since(
    client: Client, kube_cluster: Cluster, kube_namespace: str, kubectl_path: Path
) -> None:
    await client.create(pod("one"))
    await running(client, "one")
    recent, old = marker(), marker()
    kube_cluster.append_container_log(recent)
    two_hours_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    kube_cluster.append_container_log(old, at=two_hours_ago)

    everything = await collect(logs(client, "pod", "one"))
    assert [line.text for line in everything] == kubectl(
        kubectl_path, kube_cluster, kube_namespace, "logs", "one"
    )
    assert [line.text for line in everything[-2:]] == [recent, old]
    assert {(line.pod, line.container, line.namespace) for line in everything} == {
        ("one", "app", kube_namespace)
    }

    tail = await collect(logs(client, "po", "one", tail=2))
    assert [line.text for line in tail] == [recent, old]
    assert [line.text for line in tail] == kubectl(
        kubectl_path, kube_cluster, kube_namespace, "logs", "pod/one", "--tail=2"
    )

    stamped = await collect(logs(client, "pods", "one", tail=1, timestamps=True))
    assert [line.format() for line in stamped] == kubectl(
        kubectl_path, kube_cluster, kube_namespace, "logs", "one", "--tail=1", "--timestamps"
    )
    assert stamped[0].text == old
    assert stamped[0].timestamp is not None
    assert stamped[0].timestamp.startswith(two_hours_ago.strftime("%Y-%m-%dT%H:%M:%S"))

    since = await collect(logs(client, "pod", "one", since=datetime.timedelta(hours=1)))
    texts = [line.text for line in since]
    assert recent in texts
    assert old not in texts
    assert texts == kubectl(kubectl_path, kube_cluster, kube_namespace, "logs", "one", "--since=1h")
    since_time = two_hours_ago + datetime.timedelta(minutes=30)
    later = await collect(logs(client, "pod", "one", since_time=since_time))
    assert [line.text for line in later] == texts


async def test_the_container_is_chosen_like_kubectl_and_checked_by_the_server(
    client: Client, kube_cluster: Cluster, kube_namespace: str, kubectl_path: Path
) -> None:
    await client.create(pod("two", "main", "sidecar"))
    await client.create(
        pod(
            "annotated", "main", "sidecar", **{"kubectl.kubernetes.io/default-container": "sidecar"}
        )
    )
    await running(client, "two")
    await running(client, "annotated")
    kube_cluster.append_container_log(marker())

    assert {line.container for line in await collect(logs(client, "pod", "two"))} == {"main"}
    chosen = await collect(logs(client, "pod", "two", container="sidecar", tail=3))
    assert {line.container for line in chosen} == {"sidecar"}
    assert [line.text for line in chosen] == kubectl(
        kubectl_path, kube_cluster, kube_namespace, "logs", "two", "-c", "sidecar", "--tail=3"
    )
    default = await collect(logs(client, "pod", "annotated", tail=1))
    assert [line.container for line in default] == ["sidecar"]

    with pytest.raises(BadRequest, match="nope"):
        await collect(logs(client, "pod", "two", container="nope"))
    with pytest.raises(NotFound):
        await collect(logs(client, "pod", "missing"))


async def test_a_deployments_pods_each_give_their_lines(
    client: Client, kube_cluster: Cluster, kube_namespace: str, kubectl_path: Path
) -> None:
    await client.create(deployment("web", 2))
    names = await running_pods(client, "deploy", "web", 2)
    kube_cluster.append_container_log(marker())

    lines = await collect(logs(client, "deployment", "web", tail=2))
    assert [line.pod for line in lines] == [names[0]] * 2 + [names[1]] * 2
    ours = sorted(line.format(prefix=True) for line in lines)
    theirs = kubectl(
        kubectl_path, kube_cluster, kube_namespace, "logs", "-l", "app=web", "--prefix", "--tail=2"
    )
    assert ours == sorted(theirs)
    assert lines[0].prefix == f"[pod/{names[0]}/app]"


async def test_a_job_resolves_to_its_pod(client: Client, kube_cluster: Cluster) -> None:
    await client.create(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
         "spec": {"template": {"spec": {"restartPolicy": "Never",
                                        "containers": [{"name": "work", "image": "work:1"}]}}}}
    )  # fmt: skip
    (name,) = await running_pods(client, "job", "batch", 1)
    text = marker()
    kube_cluster.append_container_log(text)
    lines = await collect(logs(client, "jobs", "batch", tail=1))
    assert [(line.pod, line.container, line.text) for line in lines] == [(name, "work", text)]


async def test_follow_streams_appended_lines_from_every_pod(
    client: Client, kube_cluster: Cluster
) -> None:
    await client.create(deployment("tailed", 2))
    names = await running_pods(client, "deploy", "tailed", 2)
    first, second = marker(), marker()
    kube_cluster.append_container_log(first)

    seen: list[LogLine] = []
    stream = logs(client, "deploy", "tailed", follow=True, tail=1)

    async def read_until(text: str, count: int) -> None:
        async for line in stream:
            seen.append(line)
            if sum(s.text == text for s in seen) == count:
                return

    await asyncio.wait_for(read_until(first, 2), 20)
    kube_cluster.append_container_log(second)
    await asyncio.wait_for(read_until(second, 2), 20)
    await stream.aclose()  # type: ignore[attr-defined]
    assert sorted(line.pod for line in seen if line.text == second) == names


def test_the_sync_client_follows_a_pod(kube_cluster: Cluster, kube_namespace: str) -> None:
    with SyncClient.from_kubeconfig(kube_cluster.kubeconfig, namespace=kube_namespace) as client:
        client.create(pod("synced"))
        client.run(running(client.client, "synced"))
        first, text = marker(), marker()
        kube_cluster.append_container_log(first)
        lines = logs(client, "pod", "synced", follow=True, tail=1)
        assert next(lines).text == first  # the stream is open now
        kube_cluster.append_container_log(text)
        line = next(lines)
        assert (line.pod, line.text) == ("synced", text)
        lines.close()  # type: ignore[attr-defined]
        assert [line.text for line in logs(client, "pod", "synced", tail=1)] == [text]


def test_the_cli_prints_lines_and_prefixes_several_pods(
    kube_cluster: Cluster, kube_namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="kubeops")
    cli_logs.register(parser.add_subparsers())
    with SyncClient.from_kubeconfig(kube_cluster.kubeconfig, namespace=kube_namespace) as client:
        client.create(deployment("cli", 2))
        names = client.run(running_pods(client.client, "deploy", "cli", 2))
    text = marker()
    kube_cluster.append_container_log(text)
    common = ["--kubeconfig", str(kube_cluster.kubeconfig), "-n", kube_namespace]

    args = parser.parse_args(["logs", names[0], "--tail", "1", *common])
    assert args.handler(args) == 0
    assert capsys.readouterr().out == f"{text}\n"

    args = parser.parse_args(["logs", "deploy/cli", "--tail=1", "--since", "1h", *common])
    assert args.handler(args) == 0
    assert capsys.readouterr().out.splitlines() == [f"[pod/{n}/app] {text}" for n in names]

    assert cli_logs.duration("1h30m") == 5400
    with pytest.raises(argparse.ArgumentTypeError):
        cli_logs.duration("5 minutes")


def test_label_selectors_are_written_as_queries() -> None:
    selector = {
        "matchLabels": {"app": "web", "tier": "front"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "stage"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["a"]},
            {"key": "team", "operator": "Exists"},
        ],
    }
    assert label_selector(selector) == (
        "app=web,tier=front,env in (prod,stage),!canary,zone notin (a),team"
    )
