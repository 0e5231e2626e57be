"""Finding 8 of the hardening issue: hot reload's publish is all or nothing.

A key whose name is taken by a directory, a regular file or a foreign link in the
synced directory is refused before ``..data`` is switched, with one error naming
it; the previous version stays published and nothing dangles or is replaced.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeops.ops.hot_reload import DATA_LINK, HotReloadError, read_snapshot, write_snapshot


def _dangling(base: Path) -> list[str]:
    return [e.name for e in os.scandir(base) if e.is_symlink() and not os.path.exists(e.path)]


def _versions(base: Path) -> list[str]:
    return sorted(
        e.name
        for e in os.scandir(base)
        if e.name.startswith("..") and e.is_dir(follow_symlinks=False)
    )


@pytest.mark.parametrize("kind", ["directory", "file", "foreign link"])
def test_a_colliding_name_is_refused_before_the_switch(tmp_path: Path, kind: str) -> None:
    write_snapshot(tmp_path, {"a.conf": b"v1"})
    published = os.readlink(tmp_path / DATA_LINK)
    taken = tmp_path / "b.conf"
    if kind == "directory":
        taken.mkdir()
        (taken / "inside").write_bytes(b"mine")
    elif kind == "file":
        taken.write_bytes(b"mine")
    else:
        (tmp_path / "elsewhere").write_bytes(b"mine")
        taken.symlink_to("elsewhere")

    with pytest.raises(HotReloadError) as info:
        write_snapshot(tmp_path, {"a.conf": b"v2", "b.conf": b"new"})

    message = str(info.value)
    assert "'b.conf'" in message
    assert "\n" not in message
    assert os.readlink(tmp_path / DATA_LINK) == published  # not switched
    assert read_snapshot(tmp_path) == {"a.conf": b"v1"}
    assert (tmp_path / "a.conf").read_bytes() == b"v1"
    assert _versions(tmp_path) == [published]  # the new version was never left behind
    assert _dangling(tmp_path) == []
    if kind == "directory":
        assert (taken / "inside").read_bytes() == b"mine"
    elif kind == "file":
        assert not taken.is_symlink()
        assert taken.read_bytes() == b"mine"
    else:
        assert os.readlink(taken) == "elsewhere"


def test_the_first_publish_never_replaces_a_users_file(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_bytes(b"hand-written")
    with pytest.raises(HotReloadError, match=r"app\.yaml"):
        write_snapshot(tmp_path, {"app.yaml": b"from the cluster"})
    assert (tmp_path / "app.yaml").read_bytes() == b"hand-written"
    assert not os.path.lexists(tmp_path / DATA_LINK)
    assert _versions(tmp_path) == []


def test_every_colliding_name_is_named_at_once(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").write_bytes(b"")
    with pytest.raises(HotReloadError) as info:
        write_snapshot(tmp_path, {"x": b"1", "y": b"2", "z": b"3"})
    assert "'x' (a directory)" in str(info.value)
    assert "'y' (a file not written by sync_directory)" in str(info.value)
    assert not os.path.lexists(tmp_path / "z")


def test_its_own_links_are_republished_and_removed_keys_unlinked(tmp_path: Path) -> None:
    assert write_snapshot(tmp_path, {"a": b"1", "b": b"2"})
    assert write_snapshot(tmp_path, {"a": b"3", "c": b"4"})
    assert read_snapshot(tmp_path) == {"a": b"3", "c": b"4"}
    assert (tmp_path / "a").read_bytes() == b"3"
    assert not os.path.lexists(tmp_path / "b")
    assert _dangling(tmp_path) == []
    assert len(_versions(tmp_path)) == 1
    assert not write_snapshot(tmp_path, {"a": b"3", "c": b"4"})  # unchanged: nothing published
