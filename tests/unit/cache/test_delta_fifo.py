"""The delta FIFO follows client-go's DeltaFIFO rules (and kubeops' documented changes)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from kubeops.cache import (
    DeletedFinalStateUnknown,
    Delta,
    DeltaFIFO,
    Deltas,
    DeltaType,
    FIFOClosed,
    Requeue,
    Store,
    strip_managed_fields,
)
from kubeops.testenv import async_eventually

from .samples import pod

ADDED, UPDATED, DELETED = DeltaType.ADDED, DeltaType.UPDATED, DeltaType.DELETED
REPLACED, SYNC = DeltaType.REPLACED, DeltaType.SYNC


class Recorder:
    """A ``process`` function that records what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Deltas, bool]] = []

    def __call__(self, deltas: Deltas, initial: bool) -> None:
        self.calls.append((deltas, initial))


def types(deltas: Deltas) -> list[DeltaType]:
    return [d.type for d in deltas]


async def pop(fifo: DeltaFIFO) -> Deltas:
    return await asyncio.wait_for(fifo.pop(lambda deltas, initial: None), timeout=5)


async def drain(fifo: DeltaFIFO) -> dict[str, Deltas]:
    """Everything queued, by key, in pop order."""
    popped: dict[str, Deltas] = {}
    while len(fifo):
        keys = fifo.list_keys()
        popped[keys[0]] = await pop(fifo)
    return popped


def known(*objects: dict[str, Any]) -> Store:
    store = Store()
    for obj in objects:
        store.add(obj)
    return store


# --- ordering ---------------------------------------------------------------------------------


async def test_deltas_of_a_key_are_delivered_together_in_order() -> None:
    fifo = DeltaFIFO()
    a1, a2 = pod("a", rv="1"), pod("a", rv="2")
    fifo.add(a1)
    fifo.update(a2)
    deltas = await pop(fifo)
    assert deltas == [Delta(ADDED, a1), Delta(UPDATED, a2)]


async def test_keys_are_popped_oldest_first_and_a_new_change_does_not_move_a_key() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    fifo.add(pod("b"))
    fifo.update(pod("a", rv="2"))
    fifo.add(pod("c"))
    assert fifo.list_keys() == ["default/a", "default/b", "default/c"]
    popped = await drain(fifo)
    assert list(popped) == ["default/a", "default/b", "default/c"]
    assert types(popped["default/a"]) == [ADDED, UPDATED]


async def test_a_key_changed_after_its_pop_goes_to_the_back() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    fifo.add(pod("b"))
    await pop(fifo)
    fifo.update(pod("a", rv="2"))
    assert fifo.list_keys() == ["default/b", "default/a"]


async def test_pop_passes_the_deltas_to_process_and_returns_them() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    recorder = Recorder()
    returned = await fifo.pop(recorder)
    assert recorder.calls == [(returned, False)]
    assert len(fifo) == 0
    assert fifo.get_by_key("default/a") is None


def test_get_by_key_returns_a_copy_of_the_queued_deltas() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    copy = fifo.get_by_key("default/a")
    assert copy is not None
    copy.clear()
    assert types(fifo.get_by_key("default/a") or []) == [ADDED]


# --- deletions --------------------------------------------------------------------------------


def test_two_deletions_in_a_row_keep_the_older() -> None:
    fifo = DeltaFIFO()
    older, newer = pod("a", rv="1"), pod("a", rv="2")
    fifo.add(pod("a"))
    fifo.delete(older)
    fifo.delete(newer)
    assert fifo.get_by_key("default/a") == [Delta(ADDED, pod("a")), Delta(DELETED, older)]


def test_a_deletion_after_a_tombstone_replaces_the_tombstone() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a")))
    tombstone = DeletedFinalStateUnknown("default/a", None)
    fifo.delete(tombstone)
    fifo.delete(pod("a", rv="9"))
    assert fifo.get_by_key("default/a") == [Delta(DELETED, pod("a", rv="9"))]


def test_a_tombstone_after_a_deletion_is_dropped() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a")))
    fifo.delete(pod("a", rv="9"))
    fifo.delete(DeletedFinalStateUnknown("default/a", pod("a", rv="1")))
    assert fifo.get_by_key("default/a") == [Delta(DELETED, pod("a", rv="9"))]


def test_deletions_apart_are_both_kept() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a")))
    fifo.delete(pod("a", rv="1"))
    fifo.add(pod("a", rv="2"))
    fifo.delete(pod("a", rv="3"))
    assert types(fifo.get_by_key("default/a") or []) == [DELETED, ADDED, DELETED]


def test_delete_of_an_object_nobody_knows_is_ignored() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("other")))
    fifo.delete(pod("a"))
    assert len(fifo) == 0


def test_delete_without_known_objects_needs_the_key_queued() -> None:
    fifo = DeltaFIFO()
    fifo.delete(pod("a"))
    assert len(fifo) == 0
    fifo.add(pod("a"))
    fifo.delete(pod("a"))
    assert types(fifo.get_by_key("default/a") or []) == [ADDED, DELETED]


def test_delete_of_a_known_object_is_queued() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a")))
    fifo.delete(pod("a", rv="2"))
    assert fifo.get_by_key("default/a") == [Delta(DELETED, pod("a", rv="2"))]


# --- replace ----------------------------------------------------------------------------------


def test_replace_queues_replaced_for_each_listed_object() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod("a"), pod("b")], "10")
    assert fifo.list_keys() == ["default/a", "default/b"]
    assert fifo.get_by_key("default/a") == [Delta(REPLACED, pod("a"))]


def test_replace_queues_sync_when_replaced_is_not_emitted() -> None:
    fifo = DeltaFIFO(emit_replaced=False)
    fifo.replace([pod("a")], "10")
    assert types(fifo.get_by_key("default/a") or []) == [SYNC]


def test_replace_appends_to_deltas_already_queued() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a", rv="1"))
    fifo.replace([pod("a", rv="2")], "10")
    assert types(fifo.get_by_key("default/a") or []) == [ADDED, REPLACED]


def test_replace_tombstones_known_objects_missing_from_the_list() -> None:
    last_known = pod("gone", rv="5")
    fifo = DeltaFIFO(known_objects=known(pod("kept"), last_known))
    fifo.replace([pod("kept", rv="6")], "10")
    assert fifo.get_by_key("default/gone") == [
        Delta(DELETED, DeletedFinalStateUnknown("default/gone", last_known))
    ]
    assert types(fifo.get_by_key("default/kept") or []) == [REPLACED]


def test_replace_tombstones_queued_keys_missing_from_the_list_with_their_newest_object() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a", rv="1")))
    fifo.update(pod("a", rv="2"))
    fifo.add(pod("b", rv="3"))
    fifo.replace([], "10")
    # The queued state is newer than the known one, so the tombstone carries it.
    assert fifo.get_by_key("default/a") == [
        Delta(UPDATED, pod("a", rv="2")),
        Delta(DELETED, DeletedFinalStateUnknown("default/a", pod("a", rv="2"))),
    ]
    assert fifo.get_by_key("default/b") == [
        Delta(ADDED, pod("b", rv="3")),
        Delta(DELETED, DeletedFinalStateUnknown("default/b", pod("b", rv="3"))),
    ]


def test_replace_unwraps_a_queued_tombstone_for_the_new_one() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a")))
    fifo.add(pod("a", rv="2"))
    fifo.delete(DeletedFinalStateUnknown("default/a", pod("a", rv="2")))
    fifo.add(pod("a", rv="3"))
    fifo.delete(DeletedFinalStateUnknown("default/a", pod("a", rv="3")))
    fifo.replace([], "10")
    deltas = fifo.get_by_key("default/a") or []
    # The new tombstone replaced the old one (dedup keeps the newer of two tombstones)
    # and carries the object, not the old tombstone.
    assert deltas[-1] == Delta(DELETED, DeletedFinalStateUnknown("default/a", pod("a", rv="3")))
    assert types(deltas) == [ADDED, DELETED, ADDED, DELETED]


def test_replace_does_not_repeat_a_queued_deletion() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a")))
    fifo.delete(pod("a", rv="2"))
    fifo.replace([], "10")
    assert fifo.get_by_key("default/a") == [Delta(DELETED, pod("a", rv="2"))]


def test_replace_with_a_known_key_missing_from_the_known_store_carries_no_object() -> None:
    class Forgetful(Store):
        def get_by_key(self, key: str) -> dict[str, Any] | None:
            return None

    store = Forgetful()
    store.add(pod("ghost"))
    fifo = DeltaFIFO(known_objects=store)
    fifo.replace([], "10")
    assert fifo.get_by_key("default/ghost") == [
        Delta(DELETED, DeletedFinalStateUnknown("default/ghost", None))
    ]


def test_replace_ignores_its_resource_version() -> None:
    one, other = DeltaFIFO(), DeltaFIFO()
    one.replace([pod("a")], "1")
    other.replace([pod("a")])
    assert one.get_by_key("default/a") == other.get_by_key("default/a")


# --- resync -----------------------------------------------------------------------------------


def test_resync_queues_sync_with_the_stored_object_for_each_known_key() -> None:
    a, b = pod("a"), pod("b")
    fifo = DeltaFIFO(known_objects=known(a, b))
    fifo.resync()
    assert fifo.list_keys() == ["default/a", "default/b"]
    deltas = fifo.get_by_key("default/a") or []
    assert deltas == [Delta(SYNC, a)]
    assert deltas[0].object is a


def test_resync_skips_keys_with_queued_deltas() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a", rv="1"), pod("b")))
    fifo.update(pod("a", rv="2"))
    fifo.resync()
    assert fifo.get_by_key("default/a") == [Delta(UPDATED, pod("a", rv="2"))]
    assert types(fifo.get_by_key("default/b") or []) == [SYNC]


def test_resync_without_known_objects_does_nothing() -> None:
    fifo = DeltaFIFO()
    fifo.resync()
    assert len(fifo) == 0


# --- requeue and failures ---------------------------------------------------------------------


async def test_requeue_puts_the_deltas_back_at_the_end() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    fifo.add(pod("b"))
    seen: list[Deltas] = []

    def fail_once(deltas: Deltas, initial: bool) -> None:
        seen.append(deltas)
        if len(seen) == 1:
            raise Requeue

    first = await fifo.pop(fail_once)
    assert fifo.list_keys() == ["default/b", "default/a"]
    assert fifo.get_by_key("default/a") == first
    await pop(fifo)
    again = await fifo.pop(fail_once)
    assert again == first
    assert len(fifo) == 0


async def test_requeued_deltas_come_before_changes_queued_while_processing() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a", rv="1"))

    def change_then_requeue(deltas: Deltas, initial: bool) -> None:
        fifo.update(pod("a", rv="2"))
        raise Requeue

    await fifo.pop(change_then_requeue)
    assert types(fifo.get_by_key("default/a") or []) == [ADDED, UPDATED]


async def test_other_process_errors_propagate_and_drop_the_deltas() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))

    def broken(deltas: Deltas, initial: bool) -> None:
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError, match="handler bug"):
        await fifo.pop(broken)
    assert len(fifo) == 0


# --- has_synced -------------------------------------------------------------------------------


def test_not_synced_before_anything_arrives() -> None:
    assert not DeltaFIFO().has_synced()


def test_synced_at_once_when_a_change_comes_before_any_list() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    assert fifo.has_synced()


def test_resync_alone_does_not_make_the_fifo_synced() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("a")))
    fifo.resync()
    assert not fifo.has_synced()


def test_empty_first_list_is_synced_at_once() -> None:
    fifo = DeltaFIFO()
    fifo.replace([], "1")
    assert fifo.has_synced()


async def test_synced_once_every_item_and_deletion_of_the_first_list_is_processed() -> None:
    fifo = DeltaFIFO(known_objects=known(pod("gone")))
    fifo.replace([pod("a"), pod("b")], "1")
    assert len(fifo) == 3
    for _ in range(3):
        assert not fifo.has_synced()
        await pop(fifo)
    assert fifo.has_synced()


async def test_last_initial_item_counts_only_after_it_is_processed() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod("a")], "1")
    during: list[bool] = []
    await fifo.pop(lambda deltas, initial: during.append(fifo.has_synced()))
    assert during == [False]
    assert fifo.has_synced()


async def test_initial_flag_marks_only_items_of_the_first_list() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod("a"), pod("b")], "1")
    fifo.add(pod("c"))
    fifo.update(pod("a", rv="2"))
    recorder = Recorder()
    for _ in range(3):
        await fifo.pop(recorder)
    assert [initial for _, initial in recorder.calls] == [True, True, False]
    fifo.replace([pod("d")], "2")
    await fifo.pop(recorder)
    assert recorder.calls[-1][1] is False


async def test_a_requeued_initial_item_keeps_the_fifo_unsynced() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod("a")], "1")
    fifo.add(pod("b"))

    def requeue(deltas: Deltas, initial: bool) -> None:
        raise Requeue

    await fifo.pop(requeue)
    await pop(fifo)  # b, which is not part of the first list
    assert not fifo.has_synced()
    recorder = Recorder()
    await fifo.pop(recorder)
    assert recorder.calls[0][1] is True
    assert fifo.has_synced()


async def test_an_initial_item_whose_processing_failed_counts_as_processed() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod("a")], "1")

    def broken(deltas: Deltas, initial: bool) -> None:
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError):
        await fifo.pop(broken)
    assert fifo.has_synced()


async def test_a_later_list_does_not_unsync() -> None:
    fifo = DeltaFIFO()
    fifo.replace([pod("a")], "1")
    await pop(fifo)
    fifo.replace([pod("a"), pod("b")], "2")
    assert fifo.has_synced()


# --- transform --------------------------------------------------------------------------------


def shout(obj: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "transformed": True}


def test_transform_applies_to_added_updated_deleted_and_listed_objects() -> None:
    fifo = DeltaFIFO(transform=shout)
    fifo.add(pod("a"))
    fifo.update(pod("a"))
    fifo.delete(pod("a"))
    fifo.replace([pod("b")], "1")
    for key in ("default/a", "default/b"):
        for delta in fifo.get_by_key(key) or []:
            assert isinstance(delta.object, dict)
            assert delta.object["transformed"] is True


def test_transform_applies_to_listed_objects_emitted_as_sync() -> None:
    fifo = DeltaFIFO(transform=shout, emit_replaced=False)
    fifo.replace([pod("b")], "1")
    (delta,) = fifo.get_by_key("default/b") or []
    assert delta.type is SYNC
    assert isinstance(delta.object, dict)
    assert delta.object["transformed"] is True


def test_transform_skips_tombstones_and_resync_deltas() -> None:
    calls: list[dict[str, Any]] = []

    def counting(obj: dict[str, Any]) -> dict[str, Any]:
        calls.append(obj)
        return obj

    fifo = DeltaFIFO(known_objects=known(pod("a"), pod("b")), transform=counting)
    fifo.resync()
    fifo.delete(DeletedFinalStateUnknown("default/c", pod("c")))
    fifo.replace([], "1")  # queues tombstones for a and b, which are not transformed either
    assert types(fifo.get_by_key("default/a") or []) == [SYNC, DELETED]
    assert calls == []


def test_failing_transform_queues_nothing() -> None:
    def broken(obj: dict[str, Any]) -> dict[str, Any]:
        if obj["metadata"]["name"] == "bad":
            raise ValueError("cannot transform")
        return obj

    fifo = DeltaFIFO(transform=broken)
    with pytest.raises(ValueError, match="cannot transform"):
        fifo.replace([pod("good"), pod("bad")], "1")
    with pytest.raises(ValueError, match="cannot transform"):
        fifo.add(pod("bad"))
    assert len(fifo) == 0
    assert not fifo.has_synced()


def test_strip_managed_fields_drops_them_without_touching_the_input() -> None:
    original = pod("a", managedFields=[{"manager": "kubectl"}])
    stripped = strip_managed_fields(original)
    assert "managedFields" not in stripped["metadata"]
    assert stripped["metadata"]["name"] == "a"
    assert stripped["spec"] is original["spec"]
    assert original["metadata"]["managedFields"] == [{"manager": "kubectl"}]


def test_strip_managed_fields_is_idempotent() -> None:
    plain = pod("a")
    assert strip_managed_fields(plain) is plain
    once = strip_managed_fields(pod("a", managedFields=[]))
    assert strip_managed_fields(once) == once


def test_strip_managed_fields_as_the_fifo_transform() -> None:
    fifo = DeltaFIFO(transform=strip_managed_fields)
    fifo.add(pod("a", managedFields=[{"manager": "kubectl"}]))
    (delta,) = fifo.get_by_key("default/a") or []
    assert isinstance(delta.object, dict)
    assert "managedFields" not in delta.object["metadata"]


# --- waiting and closing ----------------------------------------------------------------------


async def test_pop_waits_for_an_item_queued_later_in_the_same_loop() -> None:
    fifo = DeltaFIFO()
    waiting = asyncio.create_task(pop(fifo))
    await async_eventually(lambda: len(fifo._waiters) == 1, message="the pop to wait")
    assert not waiting.done()
    fifo.add(pod("a"))
    assert types(await waiting) == [ADDED]


async def test_pop_wakes_for_an_item_queued_from_another_thread() -> None:
    fifo = DeltaFIFO()
    waiting = asyncio.create_task(pop(fifo))
    await async_eventually(lambda: len(fifo._waiters) == 1, message="the pop to wait")
    producer = threading.Thread(target=fifo.add, args=(pod("a"),))
    producer.start()
    deltas = await waiting
    producer.join()
    assert types(deltas) == [ADDED]


async def test_close_unblocks_a_waiting_pop_with_fifo_closed() -> None:
    fifo = DeltaFIFO()
    waiting = asyncio.create_task(pop(fifo))
    await async_eventually(lambda: len(fifo._waiters) == 1, message="the pop to wait")
    fifo.close()
    with pytest.raises(FIFOClosed):
        await waiting
    assert fifo.closed


async def test_close_from_another_thread_unblocks_pop() -> None:
    fifo = DeltaFIFO()
    waiting = asyncio.create_task(pop(fifo))
    await async_eventually(lambda: len(fifo._waiters) == 1, message="the pop to wait")
    closer = threading.Thread(target=fifo.close)
    closer.start()
    with pytest.raises(FIFOClosed):
        await waiting
    closer.join()


async def test_pop_after_close_drains_queued_items_first() -> None:
    fifo = DeltaFIFO()
    fifo.add(pod("a"))
    fifo.close()
    assert types(await pop(fifo)) == [ADDED]
    with pytest.raises(FIFOClosed):
        await pop(fifo)


async def test_every_waiting_pop_is_woken_and_each_item_goes_to_one() -> None:
    fifo = DeltaFIFO()
    waiting = [asyncio.create_task(pop(fifo)) for _ in range(3)]
    await async_eventually(lambda: len(fifo._waiters) == 3, message="three pops to wait")
    fifo.add(pod("a"))
    fifo.add(pod("b"))
    await async_eventually(
        lambda: sum(task.done() for task in waiting) == 2, interval=0.001, message="two pops"
    )
    # The third, woken too, found nothing and waits again.
    await async_eventually(lambda: len(fifo._waiters) == 1, message="the third pop to wait again")
    done = [task for task in waiting if task.done()]
    assert len(done) == 2
    assert sorted(t.result()[0].object["metadata"]["name"] for t in done) == ["a", "b"]  # type: ignore[index]
    fifo.close()
    (last,) = [task for task in waiting if not task.done()]
    with pytest.raises(FIFOClosed):
        await last


async def test_producers_in_many_threads_lose_and_reorder_nothing() -> None:
    fifo = DeltaFIFO()
    producers, changes = 3, 200

    def produce(worker: int) -> None:
        for rv in range(changes):
            fifo.update(pod(f"p{worker}", rv=str(rv)))

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(producers)]
    for thread in threads:
        thread.start()
    seen: dict[str, list[int]] = {}
    while sum(map(len, seen.values())) < producers * changes:
        for delta in await pop(fifo):
            assert isinstance(delta.object, dict)
            name = delta.object["metadata"]["name"]
            seen.setdefault(name, []).append(int(delta.object["metadata"]["resourceVersion"]))
    for thread in threads:
        thread.join()
    assert seen == {f"p{w}": list(range(changes)) for w in range(producers)}


async def test_cancelled_pop_leaves_no_waiter_behind() -> None:
    fifo = DeltaFIFO()
    waiting = asyncio.create_task(fifo.pop(Recorder()))
    await async_eventually(lambda: len(fifo._waiters) == 1, message="the pop to wait")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert fifo._waiters == []
    fifo.add(pod("a"))
    assert types(await pop(fifo)) == [ADDED]
