"""Informers against the real API server: sync, live events, late handlers, faults."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.cache import (
    CompactStore,
    DeletedFinalStateUnknown,
    DeltaFIFO,
    Reflector,
    SharedInformer,
    SharedInformerFactory,
    Store,
    StoreKind,
)
from kubeops.cache.gc_pause import collector_paused
from kubeops.config import load_config
from kubeops.errors import NotFound
from kubeops.testenv import Cluster, Environment, async_eventually, eventually


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


@pytest.mark.parametrize("store", ["dict", "compact"])
@pytest.mark.parametrize("watch_list", [True, False], ids=["watch-list", "list-then-watch"])
async def test_informer_syncs_then_follows_changes(
    client: Client, watch_list: bool, store: StoreKind
) -> None:
    for i in range(5):
        await client.create(cm(f"pre-{i}", app="x"))
    events: list[tuple[str, str]] = []
    informer = SharedInformer(
        client, "configmaps", namespace=client.namespace, use_watch_list=watch_list, store=store
    )
    assert isinstance(informer.store, CompactStore) == (store == "compact")
    registration = informer.add_handler(
        on_add=lambda obj, initial: events.append(
            ("add" + ("-initial" if initial else ""), obj["metadata"]["name"])
        ),
        on_update=lambda old, new: events.append(
            ("update", new["metadata"]["name"]) if old.get("data") != new.get("data") else ("", "")
        ),
        on_delete=lambda obj: events.append(("delete", obj["metadata"]["name"])),
    )
    async with informer:
        assert await informer.wait_for_sync(20)
        await async_eventually(registration.has_synced, message="the handler to sync")
        initial = sorted(n for k, n in events if k == "add-initial" and n.startswith("pre-"))
        assert initial == [f"pre-{i}" for i in range(5)]
        lister = informer.lister()
        assert lister.get(client.namespace, "pre-3")["metadata"]["name"] == "pre-3"
        assert len(lister.list("app=x")) == 5
        events.clear()
        await client.create(cm("live"))
        await client.patch("cm", "live", {"data": {"k": "v"}})
        await client.delete("cm", "live")
        await async_eventually(lambda: ("delete", "live") in events, message="the delete event")
        # Only "live": the controller-manager may publish kube-root-ca.crt into the new
        # namespace at any moment, and the informer rightly reports it too.
        assert [e for e in events if e[1] == "live"] == [
            ("add", "live"),
            ("update", "live"),
            ("delete", "live"),
        ]
        with pytest.raises(NotFound, match="live"):
            lister.get(client.namespace, "live")


async def test_a_handler_added_after_start_first_gets_the_current_objects(client: Client) -> None:
    await client.create(cm("one"))
    await client.create(cm("two"))
    async with SharedInformer(client, "configmaps", namespace=client.namespace) as informer:
        assert await informer.wait_for_sync(20)
        seen: list[tuple[str, bool]] = []

        async def on_add(obj: dict[str, Any], initial: bool) -> None:
            seen.append((obj["metadata"]["name"], initial))

        late = informer.add_handler(on_add=on_add)
        await async_eventually(late.has_synced, message="the late handler to sync")
        assert {name for name, initial in seen if initial} >= {"one", "two"}


async def test_a_deletion_missed_while_disconnected_arrives_as_a_tombstone(
    kube_env: Environment, client: Client
) -> None:
    store = Store()
    fifo = DeltaFIFO(known_objects=store)
    deltas: list[tuple[str, Any]] = []

    def process(batch: Any, _initial: bool) -> None:
        for delta in batch:
            deltas.append((str(delta.type), delta.object))
            if delta.type == "Deleted":
                store.delete(delta.object)
            else:
                store.update(delta.object) if store.get(delta.object) else store.add(delta.object)

    async def consume() -> None:
        while True:
            await fifo.pop(process)

    await client.create(cm("doomed"))
    await client.create(cm("kept"))
    reflector = Reflector(client, "configmaps", fifo, namespace=client.namespace)
    consumer = asyncio.create_task(consume())
    run = asyncio.create_task(reflector.run())
    await async_eventually(
        lambda: store.get_by_key(f"{client.namespace}/doomed") is not None,
        message="doomed in the store",
    )
    run.cancel()  # disconnected...
    await asyncio.gather(run, return_exceptions=True)
    await client.delete("cm", "doomed")  # ...while the object goes away
    kube_env.compact()  # and the history that would have told us is compacted
    deltas.clear()
    run = asyncio.create_task(reflector.run())
    try:
        await async_eventually(
            lambda: store.get_by_key(f"{client.namespace}/doomed") is None,
            timeout=40,
            message="doomed gone from the store",
        )
    finally:
        run.cancel()
        consumer.cancel()
        await asyncio.gather(run, consumer, return_exceptions=True)
    tombstones = [obj for kind, obj in deltas if kind == "Deleted"]
    assert len(tombstones) == 1
    assert isinstance(tombstones[0], DeletedFinalStateUnknown)
    assert tombstones[0].obj is not None
    assert tombstones[0].obj["metadata"]["name"] == "doomed"
    assert store.get_by_key(f"{client.namespace}/kept") is not None


async def test_informer_survives_an_api_server_restart(kube_clusters: list[Cluster]) -> None:
    cluster = kube_clusters[0]
    async with Client(load_config(cluster.kubeconfig)) as client:
        names: set[str] = set()
        informer = SharedInformer(client, "namespaces")
        informer.add_handler(on_add=lambda obj, _initial: names.add(obj["metadata"]["name"]))
        async with informer:
            assert await informer.wait_for_sync(20)
            await asyncio.get_running_loop().run_in_executor(None, cluster.restart_apiserver)
            await client.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "after-restart"}}
            )
            await async_eventually(
                lambda: "after-restart" in names, timeout=60, message="the change after the restart"
            )
            assert (
                informer.lister().get(None, "after-restart")["metadata"]["name"] == "after-restart"
            )


async def test_the_factory_shares_one_informer_per_resource(client: Client) -> None:
    factory = SharedInformerFactory(client, namespace=client.namespace)
    first = await factory.informer("deploy")
    assert await factory.informer("deployments.apps") is first
    assert await factory.informer("apps/v1/Deployment", label_selector="a=b") is not first
    await client.create(cm("managed"))
    pods = await factory.informer("configmaps")
    factory.start()
    try:
        synced = await factory.wait_for_cache_sync(20)
        assert set(synced.values()) == {True}
        stored = pods.lister().get(client.namespace, "managed")
        assert "managedFields" not in stored["metadata"]  # dropped by the default transform
    finally:
        await factory.shutdown()


async def test_a_compact_factory_stores_transformed_objects_as_json(client: Client) -> None:
    await client.create(cm("packed", app="y"))
    factory = SharedInformerFactory(client, namespace=client.namespace, store="compact")
    informer = await factory.informer("configmaps", indexers={"app": app_index})
    assert isinstance(informer.store, CompactStore)
    factory.start()
    try:
        assert set((await factory.wait_for_cache_sync(20)).values()) == {True}
        stored = informer.lister().get(client.namespace, "packed")
        assert stored["metadata"]["labels"] == {"app": "y"}
        assert "managedFields" not in stored["metadata"]
        assert [o["metadata"]["name"] for o in informer.store.by_index("app", "y")] == ["packed"]
    finally:
        await factory.shutdown()


def app_index(obj: dict[str, Any]) -> list[str]:
    app = (obj["metadata"].get("labels") or {}).get("app")
    return [app] if app else []


async def test_resyncs_reach_only_handlers_that_asked_for_them(client: Client) -> None:
    await client.create(cm("steady"))
    resynced: list[str] = []
    quiet: list[str] = []
    informer = SharedInformer(client, "configmaps", namespace=client.namespace, resync_period=1.0)
    informer.add_handler(
        on_update=lambda old, new: resynced.append(new["metadata"]["name"]), resync_period=1.0
    )
    informer.add_handler(
        on_update=lambda old, new: quiet.append(new["metadata"]["name"]), resync_period=0
    )
    async with informer:
        assert await informer.wait_for_sync(20)
        await async_eventually(
            lambda: resynced.count("steady") >= 2, timeout=10, message="two resyncs"
        )
    assert quiet == []  # nothing changed, and this handler wanted no resyncs


@pytest.mark.parametrize("store", ["dict", "compact"])
def test_blocking_informer_for_code_without_an_event_loop(
    kube_namespace: str, sync_client: SyncClient, store: StoreKind
) -> None:
    from kubeops.cache import SyncInformer

    sync_client.create(cm("blocking", tier="b"))
    seen: list[str] = []
    informer = SyncInformer(sync_client, "configmaps", namespace=kube_namespace, store=store)
    assert type(informer.store).__name__ == ("CompactStore" if store == "compact" else "Store")
    informer.add_handler(on_add=lambda obj, _initial: seen.append(obj["metadata"]["name"]))
    with informer:
        assert informer.wait_for_sync(20)
        assert [o["metadata"]["name"] for o in informer.lister().list("tier=b")] == ["blocking"]
        eventually(lambda: "blocking" in seen, timeout=10, message="the add handler to run")


@pytest.mark.parametrize("watch_list", [True, False], ids=["watch-list", "list-then-watch"])
async def test_the_collector_is_paused_during_the_fill_only(
    client: Client, watch_list: bool
) -> None:
    for i in range(3):
        await client.create(cm(f"gc-{i}"))
    thresholds = gc.get_threshold()
    seen_paused: list[bool] = []

    def transform(obj: dict[str, Any]) -> dict[str, Any]:
        seen_paused.append(collector_paused())  # the FIFO transforms as it queues the fill
        return obj

    informer = SharedInformer(
        client,
        "configmaps",
        namespace=client.namespace,
        use_watch_list=watch_list,
        transform=transform,
    )
    async with informer:
        assert await informer.wait_for_sync(20)
        filled = len(seen_paused)  # the three and any other ConfigMap the namespace has
        assert filled >= 3
        assert all(seen_paused)
        await async_eventually(
            lambda: not collector_paused() and gc.get_threshold() == thresholds,
            message="the collector's thresholds to be back once synced",
        )
        await client.create(cm("gc-live"))
        await async_eventually(lambda: len(seen_paused) > filled, message="the live add")
        assert seen_paused[filled] is False


async def test_a_failing_fill_does_not_leave_the_collector_paused(client: Client) -> None:
    thresholds = gc.get_threshold()
    # A selector the server refuses: every list fails, and is retried.
    informer = SharedInformer(
        client,
        "configmaps",
        namespace=client.namespace,
        label_selector="a in (",
        use_watch_list=False,
    )
    async with informer:
        await async_eventually(
            lambda: informer.last_error is not None, message="the list to be refused"
        )
        assert not collector_paused()
        assert gc.get_threshold() == thresholds
    assert not collector_paused()
    assert gc.get_threshold() == thresholds


async def test_a_reflector_on_its_own_lets_the_collector_go_at_its_replace(client: Client) -> None:
    await client.create(cm("own-pause"))
    thresholds = gc.get_threshold()
    store = Store()
    reflector = Reflector(client, "configmaps", store, namespace=client.namespace)
    run = asyncio.create_task(reflector.run())
    try:
        key = f"{client.namespace}/own-pause"
        await async_eventually(lambda: key in store, message="the list to be stored")
        assert not reflector.fill_pause.held
        assert gc.get_threshold() == thresholds
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
