"""The spool keeps order, holds its bound, survives a reopen and a torn last record,
and lets go of a record only when it is acknowledged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeops.bus.spool import Spool, SpoolError


def values(spool: Spool) -> list[bytes]:
    return [r.value for r in spool.peek(spool.head, 1_000_000)]


def test_records_come_out_in_order_with_their_keys(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(10):
        assert spool.append(b"k%d" % (i % 3), b"v%d" % i)
    got = spool.peek(0, 100)
    assert [r.seq for r in got] == list(range(10))
    assert [r.value for r in got] == [b"v%d" % i for i in range(10)]
    assert got[4].key == b"k1"
    assert [r.value for r in spool.peek(7, 2)] == [b"v7", b"v8"]
    assert len(spool) == 10
    assert spool.oldest() == got[0].time


def test_the_head_moves_only_on_ack(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(5):
        spool.append(b"", b"v%d" % i)
    spool.peek(0, 3)  # reading is not acknowledging
    assert (spool.head, len(spool)) == (0, 5)
    spool.ack(3)
    assert values(spool) == [b"v3", b"v4"]
    spool.ack(2)  # behind the head: nothing
    assert spool.head == 3
    spool.close()
    reopened = Spool(tmp_path, max_bytes=1 << 20)
    assert values(reopened) == [b"v3", b"v4"]
    reopened.ack(reopened.tail)
    assert len(reopened) == 0
    assert reopened.size == 0
    assert reopened.oldest() is None


def test_the_bound_refuses_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1000)
    accepted = sum(spool.append(b"k", b"x" * 100) for _ in range(20))
    assert 0 < accepted < 20
    assert spool.refused == 20 - accepted
    assert spool.size <= 1000
    spool.ack(spool.head + 2)  # room again
    assert spool.append(b"k", b"x" * 100)


def test_a_torn_last_record_is_cut_off_on_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(3):
        spool.append(b"k", b"value-%d" % i)
    spool.close()
    segment = sorted(tmp_path.glob("*.seg"))[-1]
    whole = segment.read_bytes()
    segment.write_bytes(whole + whole[:20])  # a crash mid-append of a fourth record
    reopened = Spool(tmp_path, max_bytes=1 << 20)
    assert values(reopened) == [b"value-0", b"value-1", b"value-2"]
    assert reopened.truncated == 1
    assert segment.read_bytes() == whole
    reopened.append(b"k", b"value-3")
    reopened.close()
    assert values(Spool(tmp_path, max_bytes=1 << 20)) == [b"value-%d" % i for i in range(4)]


def test_a_corrupt_record_ends_its_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    for i in range(3):
        spool.append(b"k", b"value-%d" % i)
    spool.close()
    segment = sorted(tmp_path.glob("*.seg"))[-1]
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert values(Spool(tmp_path, max_bytes=1 << 20)) == [b"value-0", b"value-1"]


def test_segments_roll_and_acknowledged_ones_are_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200)
    for i in range(40):
        spool.append(b"k", b"v" * 30 + b"%d" % i)
    assert len(list(tmp_path.glob("*.seg"))) > 5
    spool.ack(35)
    assert len(list(tmp_path.glob("*.seg"))) <= 2
    spool.close()
    reopened = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200)
    assert [v[-2:] for v in values(reopened)] == [b"%d" % i for i in range(35, 40)]


def test_one_process_per_spool(tmp_path: Path) -> None:
    Spool(tmp_path, max_bytes=1 << 20)
    with pytest.raises(SpoolError, match="in use by another process"):
        Spool(tmp_path, max_bytes=1 << 20)


def test_an_unusable_directory_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SpoolError, match=r"^spool .*file/x: cannot open: "):
        Spool(tmp_path / "file" / "x", max_bytes=1 << 20)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.binary(max_size=50)),
            st.tuples(st.just("ack"), st.integers(0, 5)),
            st.tuples(st.just("reopen"), st.none()),
        ),
        max_size=40,
    )
)
def test_the_spool_is_a_queue_across_reopens(operations: list[tuple[str, object]]) -> None:
    """Against a list as the model: what is pending is exactly what was appended and
    not acknowledged, in order, whatever the reopens and segment rolls."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        spool = Spool(directory, max_bytes=1 << 20, segment_bytes=64)
        model: list[bytes] = []
        for operation, argument in operations:
            if operation == "append":
                assert isinstance(argument, bytes)
                spool.append(b"", argument)
                model.append(argument)
            elif operation == "ack":
                assert isinstance(argument, int)
                spool.ack(spool.head + argument)
                del model[:argument]
            else:
                spool.close()
                spool = Spool(directory, max_bytes=1 << 20, segment_bytes=64)
            assert values(spool) == model
        spool.close()
        assert os.listdir(directory)
