"""The indexed store: CRUD, index upkeep on every change, queries, replace, and many writers."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kubeops.cache import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    IndexConflict,
    IndexFuncFailed,
    Store,
    UnknownIndex,
    index_by_namespace,
)

from .samples import by_labels, by_node, node, pod


@pytest.fixture
def store() -> Store:
    return Store({"node": by_node})


def test_added_object_is_found_by_key(store: Store) -> None:
    obj = pod("a", "ns1")
    store.add(obj)
    assert store.get_by_key("ns1/a") is obj
    assert store.get(pod("a", "ns1")) is obj
    assert "ns1/a" in store
    assert len(store) == 1


def test_missing_key_gives_none(store: Store) -> None:
    assert store.get_by_key("ns1/nope") is None


def test_update_replaces_the_stored_object(store: Store) -> None:
    store.add(pod("a", "ns1", rv="1"))
    newer = pod("a", "ns1", rv="2")
    store.update(newer)
    assert store.get_by_key("ns1/a") is newer
    assert len(store) == 1


def test_add_of_an_existing_key_acts_as_update(store: Store) -> None:
    store.add(pod("a", "ns1", node="n1"))
    store.add(pod("a", "ns1", node="n2"))
    assert store.index_keys("node", "n1") == []
    assert store.index_keys("node", "n2") == ["ns1/a"]


def test_delete_removes_the_object(store: Store) -> None:
    store.add(pod("a", "ns1"))
    store.delete(pod("a", "ns1"))
    assert store.get_by_key("ns1/a") is None
    assert len(store) == 0


def test_delete_accepts_a_tombstone(store: Store) -> None:
    store.add(pod("a", "ns1"))
    store.delete(DeletedFinalStateUnknown("ns1/a", None))
    assert store.list_keys() == []


def test_delete_of_a_missing_object_is_a_no_op(store: Store) -> None:
    store.add(pod("a", "ns1"))
    store.delete(pod("b", "ns1"))
    store.delete_key("nope")
    assert store.list_keys() == ["ns1/a"]


def test_list_and_list_keys_return_everything_in_insertion_order(store: Store) -> None:
    objs = [pod("b", "ns1"), pod("a", "ns2"), node("n1")]
    for obj in objs:
        store.add(obj)
    assert store.list() == objs
    assert store.list_keys() == ["ns1/b", "ns2/a", "n1"]


def test_list_is_a_copy_the_caller_may_change(store: Store) -> None:
    store.add(pod("a", "ns1"))
    listed = store.list()
    listed.clear()
    assert len(store.list()) == 1


def test_namespace_index_is_present_by_default() -> None:
    store = Store()
    store.add(pod("a", "ns1"))
    store.add(pod("b", "ns2"))
    store.add(node("n1"))
    assert store.by_index(NAMESPACE_INDEX, "ns1") == [pod("a", "ns1")]
    assert store.index_keys(NAMESPACE_INDEX, "") == ["n1"]
    assert sorted(store.list_index_values(NAMESPACE_INDEX)) == ["", "ns1", "ns2"]


def test_passing_the_namespace_index_func_under_its_name_is_accepted() -> None:
    store = Store({NAMESPACE_INDEX: index_by_namespace, "node": by_node})
    assert set(store.indexers) == {NAMESPACE_INDEX, "node"}


def test_another_function_under_the_namespace_index_name_is_rejected() -> None:
    with pytest.raises(IndexConflict, match="'namespace'"):
        Store({NAMESPACE_INDEX: by_node})


def test_by_index_returns_objects_filed_under_the_value(store: Store) -> None:
    store.add(pod("a", "ns1", node="n1"))
    store.add(pod("b", "ns2", node="n1"))
    store.add(pod("c", "ns1", node="n2"))
    assert [o["metadata"]["name"] for o in store.by_index("node", "n1")] == ["a", "b"]
    assert store.index_keys("node", "n2") == ["ns1/c"]


def test_unknown_value_gives_empty_result(store: Store) -> None:
    store.add(pod("a", "ns1", node="n1"))
    assert store.by_index("node", "n9") == []
    assert store.index_keys("node", "n9") == []


def test_unknown_index_name_is_an_error_naming_the_known_ones(store: Store) -> None:
    with pytest.raises(UnknownIndex, match=r"'nodes'.*\['namespace', 'node'\]"):
        store.by_index("nodes", "n1")
    with pytest.raises(UnknownIndex):
        store.index_keys("nodes", "n1")
    with pytest.raises(UnknownIndex):
        store.list_index_values("nodes")
    with pytest.raises(UnknownIndex):
        store.index("nodes", pod("a"))


def test_update_moves_the_key_between_index_values(store: Store) -> None:
    store.add(pod("a", "ns1", node="n1"))
    store.update(pod("a", "ns1", node="n2"))
    assert store.index_keys("node", "n1") == []
    assert store.index_keys("node", "n2") == ["ns1/a"]


def test_empty_value_sets_are_removed(store: Store) -> None:
    store.add(pod("a", "ns1", node="n1"))
    store.update(pod("a", "ns1", node="n2"))
    assert store.list_index_values("node") == ["n2"]
    store.delete(pod("a", "ns1"))
    assert store.list_index_values("node") == []
    assert store.list_index_values(NAMESPACE_INDEX) == []


def test_update_to_no_values_unfiles_the_object(store: Store) -> None:
    store.add(pod("a", "ns1", node="n1"))
    store.update(pod("a", "ns1"))
    assert store.list_index_values("node") == []


def test_multi_valued_index_keeps_shared_values_on_update() -> None:
    store = Store({"labels": by_labels})
    store.add(pod("a", labels={"app": "web", "tier": "front"}))
    store.update(pod("a", labels={"app": "web", "tier": "back"}))
    assert store.index_keys("labels", "app=web") == ["default/a"]
    assert store.index_keys("labels", "tier=back") == ["default/a"]
    assert store.index_keys("labels", "tier=front") == []


def test_delete_removes_index_entries(store: Store) -> None:
    store.add(pod("a", "ns1", node="n1"))
    store.add(pod("b", "ns1", node="n1"))
    store.delete(pod("a", "ns1"))
    assert store.index_keys("node", "n1") == ["ns1/b"]
    assert store.index_keys(NAMESPACE_INDEX, "ns1") == ["ns1/b"]


def test_index_returns_the_union_over_an_objects_values() -> None:
    store = Store({"labels": by_labels})
    store.add(pod("a", labels={"app": "web"}))
    store.add(pod("b", labels={"tier": "db"}))
    store.add(pod("c", labels={"app": "web", "tier": "db"}))
    store.add(pod("d", labels={"app": "other"}))
    probe = pod("probe", labels={"app": "web", "tier": "db"})
    assert [o["metadata"]["name"] for o in store.index("labels", probe)] == ["a", "c", "b"]


def test_replace_swaps_the_content_and_rebuilds_every_index(store: Store) -> None:
    store.add(pod("old", "ns1", node="n1"))
    store.replace([pod("a", "ns2", node="n2"), pod("b", "ns2", node="n3")], "42")
    assert store.list_keys() == ["ns2/a", "ns2/b"]
    assert store.index_keys("node", "n1") == []
    assert store.index_keys(NAMESPACE_INDEX, "ns1") == []
    assert sorted(store.list_index_values("node")) == ["n2", "n3"]
    assert store.index_keys(NAMESPACE_INDEX, "ns2") == ["ns2/a", "ns2/b"]


def test_replace_with_nothing_empties_the_store(store: Store) -> None:
    store.add(pod("a", "ns1", node="n1"))
    store.replace([], "1")
    assert store.list() == []
    assert store.list_index_values("node") == []


def test_resync_changes_nothing(store: Store) -> None:
    store.add(pod("a", "ns1"))
    store.resync()
    assert store.list_keys() == ["ns1/a"]


def test_add_indexers_indexes_existing_objects() -> None:
    store = Store()
    store.add(pod("a", "ns1", node="n1"))
    store.add(pod("b", "ns1", node="n2"))
    store.add_indexers({"node": by_node})
    assert store.index_keys("node", "n1") == ["ns1/a"]
    store.update(pod("a", "ns1", node="n2"))
    assert store.index_keys("node", "n2") == ["ns1/b", "ns1/a"]


def test_add_indexers_rejects_a_taken_name_and_adds_none(store: Store) -> None:
    with pytest.raises(IndexConflict, match="'node'"):
        store.add_indexers({"labels": by_labels, "node": by_labels})
    assert set(store.indexers) == {NAMESPACE_INDEX, "node"}


def test_failing_index_function_leaves_the_store_unchanged() -> None:
    def fussy(obj: dict[str, Any]) -> list[str]:
        if obj["metadata"]["name"] == "bad":
            raise RuntimeError("boom")
        return ["ok"]

    store = Store({"fussy": fussy})
    store.add(pod("good"))
    with pytest.raises(IndexFuncFailed, match=r"'fussy'.*'default/bad'.*RuntimeError: boom"):
        store.add(pod("bad"))
    with pytest.raises(IndexFuncFailed):
        store.replace([pod("good"), pod("bad")])
    assert store.list_keys() == ["default/good"]
    assert store.index_keys("fussy", "ok") == ["default/good"]


def test_index_function_returning_a_str_is_rejected() -> None:
    store = Store({"wrong": lambda obj: obj["metadata"]["name"]})
    with pytest.raises(IndexFuncFailed, match="not a list of str"):
        store.add(pod("a"))
    assert len(store) == 0


def test_failing_index_function_in_add_indexers_adds_nothing() -> None:
    store = Store()
    store.add(pod("a"))
    with pytest.raises(IndexFuncFailed):
        store.add_indexers({"broken": lambda obj: [obj["spec"]["missing"]]})
    assert set(store.indexers) == {NAMESPACE_INDEX}


@pytest.fixture
def fast_switching() -> Iterator[None]:
    # Make threads switch often so unsynchronised updates would interleave.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _index_from_scratch(store: Store, name: str) -> dict[str, set[str]]:
    func = store.indexers[name]
    expected: dict[str, set[str]] = {}
    for key in store.list_keys():
        obj = store.get_by_key(key)
        assert obj is not None
        for value in func(obj):
            expected.setdefault(value, set()).add(key)
    return expected


def _index_as_stored(store: Store, name: str) -> dict[str, set[str]]:
    return {value: set(store.index_keys(name, value)) for value in store.list_index_values(name)}


@pytest.mark.usefixtures("fast_switching")
def test_concurrent_writers_keep_items_and_indices_consistent() -> None:
    store = Store({"node": by_node, "labels": by_labels})
    # Writers share keys, so an unguarded update would unfile a stale old state.
    writers, rounds, names = 4, 4000, 10
    start = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            start.wait()
            for i in range(rounds):
                name = f"p{i % names}"
                namespace = f"ns{i % 3}"
                obj = pod(name, namespace, node=f"n{(i + worker) % 5}", labels={"w": str(i % 4)})
                if i % 7 == 6:
                    store.delete(obj)
                else:
                    store.update(obj)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    def read() -> None:
        try:
            start.wait()
            for _ in range(rounds):
                for obj in store.by_index("node", "n1"):
                    assert by_node(obj) == ["n1"]
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers - 1)]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(store) > 0
    for name in (NAMESPACE_INDEX, "node", "labels"):
        assert _index_as_stored(store, name) == _index_from_scratch(store, name)
