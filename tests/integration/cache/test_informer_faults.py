"""Informers under real faults: a write soak through API server restarts and etcd
compactions, a slow handler beside a fast one, a handler added late, a custom
resource defined only after its informer started, and an index function that fails.

The soak is the test to run after changing anything in ``kubeops.cache``.  Writer
tasks create, update and delete a few thousand ConfigMaps while the API server is
restarted and etcd compacted under them; afterwards the informer's store must equal
a fresh LIST object by object, and the last event each handler got for an object
must carry that object's final state.  Its figures go to stdout (``pytest -s``);
``KUBEOPS_SOAK_OBJECTS`` and ``KUBEOPS_SOAK_RUNS`` scale it up for a longer soak.
Its writers, handlers and checks live in tests/informer_soak.py, shared with the
fault soak of tests/soak (``make soak``: rounds of random faults, ``kubeops watch``
and ``inspect serve`` checked too).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from informer_soak import (
    Obj,
    Recorder,
    Soak,
    await_quiescence,
    cm,
    last_event_differences,
    soak_clients,
    store_differences,
    writer_differences,
)
from kubeops.api import Client
from kubeops.cache import (
    ReflectorBackoff,
    SharedInformer,
    SharedInformerFactory,
    object_key,
)
from kubeops.config import load_config
from kubeops.testenv import Cluster, Environment, async_eventually

SOAK_OBJECTS = int(os.environ.get("KUBEOPS_SOAK_OBJECTS", "1250"))  # per run
SOAK_RUNS = int(os.environ.get("KUBEOPS_SOAK_RUNS", "2"))
WRITERS = 24  # requests in flight
# What happens to the control plane once this fraction of a run's writes is done.
FAULTS = [
    (0.08, "restart"),
    (0.20, "restart"),
    (0.32, "compact"),
    (0.44, "restart"),
    (0.56, "restart"),
    (0.68, "compact"),
    (0.80, "restart"),
]


@dataclass
class Figures:
    runs: int = 0
    modes: list[str] = field(default_factory=list)
    objects: int = 0
    writes: int = 0
    retries: int = 0
    readbacks: int = 0
    restarts: int = 0
    compactions: int = 0
    events: Counter[str] = field(default_factory=Counter)
    tombstones_stale: int = 0
    unseen: int = 0
    mismatches: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    catch_up: float = 0.0
    seconds: float = 0.0

    def summary(self) -> str:
        return "\n".join(
            [
                "informer soak:",
                f"  runs {self.runs} ({', '.join(self.modes)}), objects {self.objects}, writes {self.writes} "
                f"(retried {self.retries}, read back {self.readbacks}; errors {dict(self.errors)})",
                f"  faults: {self.restarts} API server restarts, {self.compactions} etcd "
                "compactions (each with a restart of its own)",
                f"  events to the first handler: {dict(self.events)}",
                f"  tombstones with an older last-known state: {self.tombstones_stale}; "
                f"objects created and deleted unseen: {self.unseen}",
                f"  slowest catch-up after the writes: {self.catch_up:.1f}s; "
                f"total {self.seconds:.1f}s",
                f"  mismatches: {len(self.mismatches)}",
                *(f"    {m}" for m in self.mismatches[:20]),
            ]
        )


async def inflict_faults(
    soak: Soak, planned: int, kube_env: Environment, kube_cluster: Cluster, figures: Figures
) -> None:
    loop = asyncio.get_running_loop()
    for fraction, fault in FAULTS:
        await async_eventually(
            lambda: soak.writes >= fraction * planned,  # noqa: B023 (awaited in this iteration)
            timeout=300,
            interval=0.05,
            message=f"{fraction:.0%} of the writes before the {fault}",
        )
        # Blocking calls, in a thread, so that the writers and the informer keep going.
        if fault == "compact":
            await loop.run_in_executor(None, kube_env.compact)
            figures.compactions += 1
        else:
            await loop.run_in_executor(None, kube_cluster.restart_apiserver)
            figures.restarts += 1


async def soak_run(
    number: int, kube_env: Environment, kube_cluster: Cluster, namespace: str, figures: Figures
) -> None:
    config = load_config(kube_cluster.kubeconfig, namespace=namespace)
    writer_client, informer_client = soak_clients(config, WRITERS)
    async with writer_client, informer_client:
        factory = SharedInformerFactory(informer_client, namespace=namespace, resync_period=1.0)
        informer = await factory.informer("configmaps")
        informer.reflector.backoff = ReflectorBackoff(cap=4.0)
        # Even runs stream the initial state (watch-list, the default where the server
        # has it); odd runs list, then watch.
        watch_list = number % 2 == 0
        informer.reflector.use_watch_list = None if watch_list else False
        figures.modes.append("watch-list" if watch_list else "list+watch")
        first, resyncing, late = (
            Recorder("first"),
            Recorder("resync", resync=True),
            Recorder("late"),
        )
        registrations = [
            informer.add_handler(first.on_add, first.on_update, first.on_delete, resync_period=0),
            informer.add_handler(resyncing.on_add, resyncing.on_update, resyncing.on_delete),
        ]
        factory.start()
        try:
            assert set((await factory.wait_for_cache_sync(60)).values()) == {True}
            soak = Soak(writer_client, f"soak{number}", SOAK_OBJECTS, random.Random(number))
            planned = soak.plan()
            names = list(soak.plans)
            faults = asyncio.create_task(
                inflict_faults(soak, planned, kube_env, kube_cluster, figures)
            )
            writers = asyncio.gather(*(soak.writer(names[i::WRITERS]) for i in range(WRITERS)))
            try:
                # A handler joins mid-run, after the first fault, while the writes go on.
                await async_eventually(
                    lambda: soak.writes >= 0.2 * planned or writers.done(),
                    timeout=300,
                    interval=0.05,
                    message="a fifth of the writes before the late handler joins",
                )
                registrations.append(
                    informer.add_handler(
                        late.on_add, late.on_update, late.on_delete, resync_period=0
                    )
                )
                await writers
                await faults
            finally:
                writers.cancel()  # after a failure: no writer or fault outlives the run
                faults.cancel()
            written = time.monotonic()

            # Quiescence: the store equals a fresh LIST and no handler has anything left.
            await await_quiescence(informer, registrations, soak, timeout=90)
            figures.catch_up = max(figures.catch_up, time.monotonic() - written)
            await asyncio.sleep(1.0)  # anything still in flight would arrive now
            listed = await soak.fresh_list()

            mismatches = store_differences(informer, listed)
            mismatches += writer_differences(soak, listed)
            for recorder in (first, resyncing, late):
                found, stale, unseen = last_event_differences(recorder, informer, listed, soak)
                mismatches += recorder.problems + found
                if recorder is first:
                    figures.tombstones_stale += stale
                    figures.unseen += unseen

            figures.runs += 1
            figures.objects += len(soak.plans)
            figures.writes += soak.writes
            figures.retries += soak.retries
            figures.readbacks += soak.readbacks
            figures.errors.update(soak.errors)
            figures.events.update(first.events)
            figures.events["resync (second handler)"] += resyncing.events["resync"]
            figures.mismatches += mismatches
        finally:
            await factory.shutdown()


async def test_informer_stays_exact_through_api_server_restarts_and_compaction() -> None:
    # An environment of its own: a dozen restarts and compactions must not disturb the
    # shared session cluster, whose controllers later tests rely on.
    env = Environment(["soak"], api_only=True)
    env.start()
    cluster = env.cluster()
    cluster.admin.create("/api/v1/namespaces", {"metadata": {"name": "soak"}})
    started = time.monotonic()
    figures = Figures()
    try:
        # Later runs start their informer over the objects earlier runs left behind.
        for number in range(SOAK_RUNS):
            await soak_run(number, env, cluster, "soak", figures)
    finally:
        figures.seconds = time.monotonic() - started
        print("\n" + figures.summary())
        env.stop()
    assert figures.runs == SOAK_RUNS
    assert figures.restarts + figures.compactions == len(FAULTS) * SOAK_RUNS
    assert not figures.mismatches, figures.summary()


# -- handlers ---------------------------------------------------------------------------------


async def test_a_slow_handler_does_not_hold_up_the_store_or_other_handlers(
    client: Client,
) -> None:
    fast: set[str] = set()
    slow: list[str] = []

    async def slow_add(obj: Obj, _initial: bool) -> None:
        await asyncio.sleep(0.5)
        slow.append(obj["metadata"]["name"])

    def fast_add(obj: Obj, _initial: bool) -> None:
        fast.add(obj["metadata"]["name"])

    factory = SharedInformerFactory(client, namespace=client.namespace)
    informer = await factory.informer("configmaps")
    informer.add_handler(on_add=slow_add)
    informer.add_handler(on_add=fast_add)
    factory.start()
    try:
        assert set((await factory.wait_for_cache_sync(30)).values()) == {True}
        fast.clear()
        slow.clear()
        names = [f"burst-{i:02d}" for i in range(20)]
        created = await asyncio.gather(*(client.create(cm(n)) for n in names))
        # Delivered one at a time the slow handler alone would take 10 s.
        await async_eventually(
            lambda: set(names) <= fast, timeout=5, message="the fast handler sees all 20"
        )
        behind = len([n for n in slow if n in names])
        assert behind <= 12, f"the slow handler kept pace ({behind} of 20): nothing was slow"
        for obj in created:
            stored = informer.store.get_by_key(object_key(obj))
            assert stored is not None
            assert stored["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
        # Slow is not lost: it gets there, in order of arrival.
        await async_eventually(
            lambda: set(names) <= set(slow), timeout=30, message="the slow handler sees all 20"
        )
    finally:
        await factory.shutdown()


async def test_a_handler_added_late_gets_each_existing_object_exactly_once(
    client: Client,
) -> None:
    existing = [f"old-{i:02d}" for i in range(40)]
    await asyncio.gather(*(client.create(cm(n, {"v": "0"})) for n in existing))
    factory = SharedInformerFactory(client, namespace=client.namespace)
    informer = await factory.informer("configmaps")
    factory.start()
    adds: Counter[str] = Counter()
    initial: set[str] = set()
    order: list[tuple[str, str]] = []

    def on_add(obj: Obj, is_initial: bool) -> None:
        adds[obj["metadata"]["name"]] += 1
        order.append(("add", obj["metadata"]["name"]))
        if is_initial:
            initial.add(obj["metadata"]["name"])

    def on_update(_old: Obj, new: Obj) -> None:
        order.append(("update", new["metadata"]["name"]))

    churned = 0

    async def churn(stop: asyncio.Event) -> None:
        # Changes and new objects flowing while the handler joins.
        nonlocal churned
        i = 0
        while not stop.is_set():
            churned = i = i + 1
            await client.patch("cm", existing[i % len(existing)], {"data": {"v": str(i)}})
            if i % 5 == 0:
                await client.create(cm(f"new-{i:03d}"))

    try:
        assert set((await factory.wait_for_cache_sync(30)).values()) == {True}
        stop = asyncio.Event()
        writes = asyncio.create_task(churn(stop))
        await async_eventually(lambda: churned >= 10, message="changes flowing before the join")
        registration = informer.add_handler(on_add=on_add, on_update=on_update)
        await async_eventually(
            registration.has_synced, timeout=20, message="the late handler has its initial adds"
        )
        joined = churned
        await async_eventually(
            lambda: churned >= joined + 10, message="changes flowing after the join"
        )
        stop.set()
        await writes
        listed = await client.list("configmaps")
        keys = {item["metadata"]["name"] for item in listed["items"]}
        await async_eventually(
            lambda: keys <= adds.keys(), timeout=20, message="the late handler sees every object"
        )
        await async_eventually(
            registration.queue.empty, timeout=20, message="the late handler is idle"
        )
    finally:
        await factory.shutdown()
    assert set(existing) <= initial
    assert {name: n for name, n in adds.items() if n != 1} == {}
    seen: set[str] = set()
    for kind, name in order:
        assert kind == "add" or name in seen, f"update of {name} before its add"
        seen.add(name)


# -- faults at the edges ----------------------------------------------------------------------


def widget_crd(group: str) -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


async def test_an_informer_started_before_its_custom_resource_exists_syncs_once_it_does(
    client: Client, kube_cluster: Cluster
) -> None:
    # An operator and its CRD are often applied together; the informer must keep trying.
    group = f"{client.namespace[-6:]}.faults.kubeops.dev"
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}"
    errors: list[BaseException] = []
    informer = SharedInformer(client, f"widgets.{group}", namespace=client.namespace)
    informer.set_watch_error_handler(errors.append)
    informer.start()
    try:
        await async_eventually(
            lambda: bool(errors), timeout=20, message="the informer reports the unknown kind"
        )
        assert not informer.has_synced()
        kube_cluster.admin.create(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd(group)
        )
        assert await informer.wait_for_sync(60), f"never synced; errors: {errors[-3:]}"
        widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}}
        await client.create(widget)
        await async_eventually(
            lambda: informer.store.get_by_key(f"{client.namespace}/w") is not None,
            timeout=20,
            message="the informer sees the widget",
        )
    finally:
        await informer.stop()
        if kube_cluster.admin.exists(crd_path):
            kube_cluster.admin.delete(crd_path)


async def test_a_failing_index_function_does_not_stop_the_informer(client: Client) -> None:
    def by_owner(obj: Obj) -> list[str]:
        labels = obj["metadata"].get("labels") or {}
        if labels.get("owner") == "broken":
            raise ValueError("cannot index this one")
        return [labels.get("owner", "")]

    informer = SharedInformer(client, "configmaps", namespace=client.namespace)
    informer.store.add_indexers({"owner": by_owner})
    async with informer:
        assert await informer.wait_for_sync(30)
        bad = cm("bad")
        bad["metadata"]["labels"] = {"owner": "broken"}
        await client.create(bad)
        good = cm("good")
        good["metadata"]["labels"] = {"owner": "team-a"}
        await client.create(good)
        # The object the index refuses is left out (the store stays as it was, as
        # documented); the objects after it still arrive.
        await async_eventually(
            lambda: informer.store.get_by_key(f"{client.namespace}/good") is not None,
            timeout=20,
            message="an object changed after the failing one reaches the store",
        )
        assert [o["metadata"]["name"] for o in informer.store.by_index("owner", "team-a")] == [
            "good"
        ]
        assert informer.store.get_by_key(f"{client.namespace}/bad") is None
