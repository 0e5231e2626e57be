"""The compact store holds JSON bytes yet reads as the dict store does; the informer's
batched pops keep the FIFO's per-key rules."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import orjson
import pytest

from kubeops.cache import (
    NAMESPACE_INDEX,
    CompactStore,
    DeltaFIFO,
    Deltas,
    IndexFuncFailed,
    Requeue,
    Store,
    UnstorableObject,
    compact_store,
    make_store,
)
from kubeops.cache.gc_pause import collector_paused
from kubeops.models import parse_selector

from .samples import by_labels, by_node, node, pod


@pytest.fixture
def store() -> CompactStore:
    return CompactStore({"node": by_node})


def test_objects_read_back_equal_to_what_was_stored(store: CompactStore) -> None:
    objs = [pod("b", "ns1", node="n1"), pod("a", "ns2", node="n2"), node("n1")]
    for obj in objs:
        store.add(obj)
    assert store.get_by_key("ns1/b") == objs[0]
    assert store.get(node("n1")) == objs[2]
    assert store.list() == objs
    assert store.list_keys() == ["ns1/b", "ns2/a", "n1"]
    assert len(store) == 3
    assert "ns2/a" in store
    assert isinstance(store.get_by_key("ns2/a"), dict)


def test_objects_are_held_encoded_not_as_the_dicts_given(store: CompactStore) -> None:
    obj = pod("a", "ns1")
    store.add(obj)
    obj["metadata"]["labels"] = {"changed": "after"}  # the caller's dict is not the stored one
    assert "labels" not in (store.get_by_key("ns1/a") or {})["metadata"]
    assert isinstance(store._items["ns1/a"], bytes)


def test_a_recently_read_object_is_the_same_dict_each_time() -> None:
    store = CompactStore(recent=2)
    for name in "abc":
        store.add(pod(name))
    first = store.get_by_key("default/a")
    assert store.get_by_key("default/a") is first
    store.get_by_key("default/b")
    store.get_by_key("default/c")  # a is the least recently used of three: dropped
    assert store.get_by_key("default/a") is not first
    assert store.get_by_key("default/a") == first


def test_an_update_is_read_as_the_new_object(store: CompactStore) -> None:
    store.add(pod("a", "ns1", rv="1"))
    assert store.get_by_key("ns1/a") is not None  # now cached
    newer = pod("a", "ns1", rv="2")
    assert store.put("ns1/a", newer) == pod("a", "ns1", rv="1")
    assert store.get_by_key("ns1/a") == newer


def test_indices_follow_updates_and_deletes(store: CompactStore) -> None:
    store.add(pod("a", "ns1", node="n1"))
    store.add(pod("b", "ns1", node="n1"))
    store.update(pod("a", "ns1", node="n2"))
    assert store.index_keys("node", "n1") == ["ns1/b"]
    assert store.by_index("node", "n2") == [pod("a", "ns1", node="n2")]
    assert store.index("node", pod("x", node="n1")) == [pod("b", "ns1", node="n1")]
    store.delete(pod("b", "ns1"))
    assert store.list_index_values("node") == ["n2"]
    assert store.by_index(NAMESPACE_INDEX, "ns1") == [pod("a", "ns1", node="n2")]


def test_replace_and_added_indexers_see_the_decoded_objects(store: CompactStore) -> None:
    store.add(pod("old", "ns1"))
    store.replace([pod("a", "ns1", labels={"app": "x"}), pod("b", "ns2")], "5")
    assert store.list_keys() == ["ns1/a", "ns2/b"]
    store.add_indexers({"labels": by_labels})
    assert store.index_keys("labels", "app=x") == ["ns1/a"]


def test_a_failing_index_function_leaves_the_store_unchanged() -> None:
    def fussy(obj: dict[str, Any]) -> list[str]:
        if obj["metadata"]["name"] == "bad":
            raise KeyError("nope")
        return ["ok"]

    store = CompactStore({"fussy": fussy})
    store.add(pod("a"))
    with pytest.raises(IndexFuncFailed, match="'default/bad'"):
        store.add(pod("bad"))
    assert store.list_keys() == ["default/a"]


def test_an_object_json_cannot_encode_is_refused_naming_its_key(store: CompactStore) -> None:
    with pytest.raises(UnstorableObject, match="cannot store 'default/a'"):
        store.add(pod("a", extra={1, 2}))
    assert len(store) == 0


def test_repack_keeps_every_object_and_index_entry(store: CompactStore) -> None:
    objs = [pod(f"p{i}", f"ns{i % 3}", node=f"n{i % 2}") for i in range(30)]
    store.replace(objs)
    before = (store.list_keys(), store.index_keys("node", "n1"), store.list_index_values("node"))
    store.repack()
    after = (store.list_keys(), store.index_keys("node", "n1"), store.list_index_values("node"))
    assert after == before
    assert store.list() == objs
    assert store.by_index(NAMESPACE_INDEX, "ns1") == objs[1::3]


def test_make_store_names_the_two_stores() -> None:
    assert type(make_store("dict")) is Store
    assert type(make_store("compact", {"node": by_node})) is CompactStore
    with pytest.raises(ValueError, match="unknown store 'gzip'"):
        make_store("gzip")  # type: ignore[arg-type]


# --- the FIFO's batched pop ------------------------------------------------------------------


class KeyedRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Deltas, bool]] = []

    def __call__(self, key: str, deltas: Deltas, initial: bool) -> None:
        self.calls.append((key, deltas, initial))


async def test_pop_batch_processes_up_to_its_limit_oldest_first_with_keys() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod(name) for name in "abcde"], "1")
    recorder = KeyedRecorder()
    assert await fifo.pop_batch(recorder, limit=3) == 3
    assert [key for key, _, _ in recorder.calls] == ["default/a", "default/b", "default/c"]
    assert all(initial for _, _, initial in recorder.calls)
    assert recorder.calls[0][1][0].object == pod("a")
    assert not fifo.has_synced()
    assert await fifo.pop_batch(recorder, limit=3) == 2
    assert fifo.has_synced()


async def test_pop_batch_stops_at_a_requeue_and_keeps_the_fifo_unsynced() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod("a"), pod("b")], "1")

    def requeue_a(key: str, deltas: Deltas, initial: bool) -> None:
        if key == "default/a":
            raise Requeue

    assert await fifo.pop_batch(requeue_a) == 1
    assert fifo.list_keys() == ["default/b", "default/a"]
    assert not fifo.has_synced()


async def test_pop_batch_raises_a_process_error_after_the_keys_before_it() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod("a"), pod("b"), pod("c")], "1")
    seen: list[str] = []

    def broken_on_b(key: str, deltas: Deltas, initial: bool) -> None:
        seen.append(key)
        if key == "default/b":
            raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError, match="handler bug"):
        await fifo.pop_batch(broken_on_b)
    assert seen == ["default/a", "default/b"]
    assert fifo.list_keys() == ["default/c"]


async def test_pop_batch_waits_for_work_queued_later() -> None:
    fifo = DeltaFIFO()
    recorder = KeyedRecorder()
    task = asyncio.create_task(fifo.pop_batch(recorder))
    await asyncio.sleep(0)
    assert not task.done()
    fifo.add(pod("a"))
    assert await asyncio.wait_for(task, timeout=5) == 1
    assert recorder.calls[0][0] == "default/a"


def test_a_label_selector_decodes_only_the_objects_it_selects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = CompactStore(recent=0)
    for i in range(300):
        store.add(pod(f"p{i}", "a" if i % 2 else "b", labels={"app": "web" if i < 10 else "db"}))
    store.add(pod("bare", "a"))
    decoded: list[bytes] = []
    real_loads = orjson.loads
    monkeypatch.setattr(compact_store.orjson, "loads", lambda b: decoded.append(b) or real_loads(b))
    web = store.select(parse_selector("app=web").matches)
    assert [o["metadata"]["name"] for o in web] == [f"p{i}" for i in range(10)]
    assert len(decoded) == 10
    decoded.clear()
    in_a = store.select(parse_selector("app=web").matches, namespace="a")
    assert [o["metadata"]["name"] for o in in_a] == ["p1", "p3", "p5", "p7", "p9"]
    assert len(decoded) == 5
    assert [o["metadata"]["name"] for o in store.select(parse_selector("!app").matches)] == ["bare"]


def test_kept_labels_follow_updates_deletes_replaces_and_repacks() -> None:
    store = CompactStore()
    store.add(pod("x", labels={"app": "web"}))
    store.add(pod("y", labels={"app": "web"}))
    web = parse_selector("app=web").matches
    assert store._labels["default/x"] is store._labels["default/y"]  # one copy per label set
    store.update(pod("x", labels={"app": "db"}, rv="2"))
    assert [o["metadata"]["name"] for o in store.select(web)] == ["y"]
    store.delete(pod("y"))
    assert store.select(web) == []
    store.replace([pod("z", labels={"app": "web"}), pod("w")])
    store.repack()
    assert [o["metadata"]["name"] for o in store.select(web)] == ["z"]
    assert set(store._labels) == {"default/z"}


def test_a_bulk_read_holds_the_collector_off_only_while_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = CompactStore(recent=0)
    for i in range(300):
        store.add(pod(f"p{i}"))
    seen: list[bool] = []
    real_loads = orjson.loads
    monkeypatch.setattr(
        compact_store.orjson, "loads", lambda b: seen.append(collector_paused()) or real_loads(b)
    )
    thresholds = gc.get_threshold()
    assert len(store.list()) == 300
    assert all(seen)
    assert gc.get_threshold() == thresholds
    seen.clear()
    store.get_by_key("default/p1")
    assert seen == [False]
