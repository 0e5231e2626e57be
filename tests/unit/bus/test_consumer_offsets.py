"""The consumer's offset bookkeeping: a partition commits only past its unbroken run
of handled messages, whatever order they finish in, and a partition that moves away
and comes back starts afresh."""

from __future__ import annotations

from kubeops.bus.consumer import OffsetBook, PartitionProgress

A0 = ("orders", 0)
A1 = ("orders", 1)


def test_out_of_order_completion_commits_only_the_contiguous_run() -> None:
    progress = PartitionProgress()
    assert all(progress.start(offset) for offset in (10, 11, 12, 13))
    assert progress.to_commit() is None
    progress.finish(12)
    progress.finish(13)
    assert progress.to_commit() is None  # 10 and 11 still running
    assert progress.in_flight == 2
    progress.finish(10)
    assert progress.to_commit() == 11
    progress.finish(11)
    assert progress.to_commit() == 14
    assert progress.in_flight == 0


def test_offset_gaps_are_no_holes_and_a_commit_is_offered_once() -> None:
    progress = PartitionProgress()
    for offset in (3, 7, 8):  # 4-6 compacted away or transaction markers
        progress.start(offset)
    progress.finish(7)
    progress.finish(3)
    assert progress.to_commit() == 8
    progress.committed = 8
    assert progress.to_commit() is None
    progress.finish(8)
    assert progress.to_commit() == 9


def test_a_redelivered_offset_within_an_assignment_is_not_started_twice() -> None:
    progress = PartitionProgress()
    assert progress.start(5)
    assert not progress.start(5)
    assert not progress.start(4)
    assert progress.start(6)


def test_the_book_commits_what_moved_and_revocation_hands_back_the_rest() -> None:
    book = OffsetBook()
    book.assign([A0, A1])
    p0, p1 = book.progress(A0), book.progress(A1)
    assert p0 is not None
    assert p1 is not None
    for offset in range(3):
        p0.start(offset)
        p1.start(offset)
    p0.finish(0)
    p1.finish(1)  # 0 still running: nothing for A1
    assert book.to_commit() == {A0: 1}
    book.committed({A0: 1})
    assert book.to_commit() == {}
    p0.finish(1)
    # Revoked with 2 of A0 and 0 of A1 unfinished: commit A0 up to 2, drop the rest.
    assert book.revoke([A0, A1]) == {A0: 2}
    assert book.owned() == []
    assert book.progress(A0) is None


def test_a_partition_assigned_again_starts_afresh_and_old_completions_go_nowhere() -> None:
    book = OffsetBook()
    book.assign([A0])
    old = book.progress(A0)
    assert old is not None
    old.start(0)
    old.start(1)
    book.revoke([A0])
    book.assign([A0])  # back again: the group re-delivers from the last commit (0)
    new = book.progress(A0)
    assert new is not None
    assert new is not old
    old.finish(0)
    old.finish(1)
    assert book.to_commit() == {}
    assert new.start(0)  # re-delivered: runs again (the ledger makes its actions no-ops)
    new.finish(0)
    assert book.to_commit() == {A0: 1}
    book.assign([A0])  # still owned: progress kept
    assert book.progress(A0) is new
    book.committed({A1: 9})  # not owned: ignored
    assert book.owned() == [A0]
