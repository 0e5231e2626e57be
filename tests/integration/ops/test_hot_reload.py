"""ConfigMap and Secret hot reload against real API servers: callbacks on every change of
the data, and a directory kept in sync atomically through an API server restart while
readers in other threads check every version they see is whole."""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.config import load_config
from kubeops.ops.hot_reload import (
    DATA_LINK,
    ConfigData,
    HotReloadError,
    read_snapshot,
    subscribe,
    sync_directory,
)
from kubeops.testenv import Cluster, async_eventually, eventually
from kubeops.transport.breaker import CircuitBreaker


def files_for(version: int) -> dict[str, bytes]:
    """Version ``version`` of the config: every file says which version it belongs to,
    one is large enough that writing it takes a while, and the key set changes."""
    return {
        "version": str(version).encode(),
        "config.yaml": (f"version: {version}\n" + f"line of version {version}\n" * 2000).encode(),
        f"extra-{version % 3}": f"{version}".encode(),
    }


def configmap(version: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config"},
        "data": {k: v.decode() for k, v in files_for(version).items()},
    }


class Readers:
    """Two reader threads: one takes whole snapshots, one opens files through the
    per-key links as an application would; both record anything not whole."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[str] = []
        self.versions: set[int] = set()
        self.snapshots = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._snapshots, daemon=True),
            threading.Thread(target=self._files, daemon=True),
        ]

    def __enter__(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _snapshots(self) -> None:
        while not self._stop.is_set():
            snapshot = read_snapshot(self.directory)
            if snapshot is None:
                self.problems.append("no version published")
                continue
            version = int(snapshot.get("version", b"-1"))
            if snapshot != files_for(version):
                self.problems.append(f"snapshot of version {version} is not that version")
            self.versions.add(version)
            self.snapshots += 1
            time.sleep(0.001)  # poll, but leave the CPU to the writer

    def _files(self) -> None:
        while not self._stop.is_set():
            try:
                text = (self.directory / "config.yaml").read_text()
            except FileNotFoundError:
                self.problems.append("config.yaml missing")
                continue
            version = int(text.split("\n", 1)[0].removeprefix("version: "))
            if text.encode() != files_for(version)["config.yaml"]:
                self.problems.append(f"config.yaml of version {version} half-written")
            time.sleep(0.001)


@pytest.fixture
def member_namespace(kube_clusters: list[Cluster]) -> Iterator[str]:
    admin = kube_clusters[0].admin
    name = f"hot-reload-{uuid.uuid4().hex[:6]}"
    admin.create("/api/v1/namespaces", {"metadata": {"name": name}})
    yield name
    admin.delete(f"/api/v1/namespaces/{name}")


async def test_synced_directory_ends_with_the_latest_data_through_an_api_server_restart(
    kube_clusters: list[Cluster], member_namespace: str, tmp_path: Path
) -> None:
    cluster = kube_clusters[0]
    config = load_config(cluster.kubeconfig, namespace=member_namespace)
    target = tmp_path / "config"
    published: list[int] = []
    # A short breaker cooldown: the subscription reconnects soon after the server is back.
    async with Client(config, breaker=CircuitBreaker(config.server, cooldown=0.5)) as client:

        async def write(version: int) -> None:
            # While the server restarts the write fails (ConnectionFailed): the same again.
            await async_eventually(
                lambda: client.replace(configmap(version)),
                timeout=60,
                message=f"version {version} to be written",
            )

        await client.create(configmap(0))
        subscription = await sync_directory(
            client,
            "configmap",
            "app-config",
            target,
            on_update=lambda data: published.append(int(data.text("version"))),
        )
        try:
            assert read_snapshot(target) == files_for(0)  # in place when sync_directory returns
            with Readers(target) as readers:
                restart = asyncio.get_running_loop().run_in_executor(
                    None, cluster.restart_apiserver
                )
                # Write on through the restart, then until the subscription has
                # delivered live changes again (not just the relist's latest state).
                version, back_at = 0, 0

                async def delivered_live_again() -> bool:
                    nonlocal version, back_at
                    version += 1
                    await write(version)
                    if restart.done() and not back_at:
                        back_at = version
                    return bool(back_at) and sum(p > back_at for p in published) >= 5

                await async_eventually(
                    delivered_live_again,
                    timeout=60,
                    interval=0.02,
                    message="five changes written after the restart to be delivered",
                )
                await restart
                await async_eventually(
                    # on_update runs just after the version is published: wait for both.
                    lambda: (
                        read_snapshot(target) == files_for(version) and published[-1:] == [version]
                    ),
                    timeout=60,
                    message=f"version {version} in the directory",
                )
        finally:
            await subscription.stop()

    assert readers.problems == []
    assert readers.snapshots > 50
    assert len(readers.versions) > 5  # the readers really saw the directory change
    assert published[0] == 0
    assert published[-1] == version
    assert published == sorted(set(published))  # each version once, in order
    # Only the current version and its links remain: old versions and stale keys are gone.
    current = os.readlink(target / DATA_LINK)
    assert sorted(os.listdir(target)) == sorted([DATA_LINK, current, *files_for(version)])
    for key in files_for(version):
        assert os.readlink(target / key) == f"{DATA_LINK}/{key}"


async def test_a_secret_subscription_gets_decoded_data_on_each_change_and_the_deletion(
    client: Client,
) -> None:
    received: list[ConfigData] = []
    deleted = asyncio.Event()

    async def on_change(data: ConfigData) -> None:
        received.append(data)

    subscription = await subscribe(
        client, "secret", "creds", on_change, on_delete=deleted.set, timeout=20
    )
    try:
        assert received == []  # nothing to deliver until the Secret exists
        assert subscription.current is None
        await client.create(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
             "data": {"token": base64.b64encode(b"s3cr\x00t").decode()},
             "stringData": {"settings.json": '{"retries": 3}'}}
        )  # fmt: skip
        await async_eventually(lambda: len(received) == 1, message="the first version")
        first = received[0]
        assert first.kind == "Secret"
        assert first.data == {"token": b"s3cr\x00t", "settings.json": b'{"retries": 3}'}
        assert first.load("settings.json") == {"retries": 3}

        await client.patch("secret", "creds", {"metadata": {"labels": {"team": "a"}}})
        await client.patch("secret", "creds", {"stringData": {"token": "rotated"}})
        await async_eventually(lambda: len(received) == 2, message="the rotated token")
        assert received[1].text("token") == "rotated"  # the label change was not a data change
        assert subscription.current == received[1]

        await client.delete("secret", "creds")
        await asyncio.wait_for(deleted.wait(), 20)
        assert subscription.current is None
    finally:
        await subscription.stop()


def test_the_sync_api_subscribes_and_keeps_a_directory(
    sync_client: SyncClient, tmp_path: Path
) -> None:
    sync_client.create(configmap(1))
    seen: list[int] = []
    with (
        subscribe(sync_client, "cm", "app-config", lambda d: seen.append(int(d.text("version")))),
        sync_directory(sync_client, "configmaps", "app-config", tmp_path / "cfg") as synced,
    ):
        assert seen == [1]
        assert read_snapshot(tmp_path / "cfg") == files_for(1)
        assert (tmp_path / "cfg" / "extra-1").stat().st_mode & 0o777 == 0o644
        sync_client.replace(configmap(2))
        eventually(
            lambda: (
                read_snapshot(tmp_path / "cfg") == files_for(2)
                and seen == [1, 2]
                and synced.current is not None
                and synced.current.text("version") == "2"
            ),
            timeout=20,
            message="version 2 delivered, in the directory and current",
        )
        assert not (tmp_path / "cfg" / "extra-1").exists()  # gone with version 1
    with pytest.raises(HotReloadError, match=r"not deployments\.apps"):
        subscribe(sync_client, "deploy", "web", lambda d: None)
