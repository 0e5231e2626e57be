"""Writing a kubeconfig: private from its first byte, whole or not at all, never a stray file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubeops.config import files as files_module
from kubeops.config import load_kubeconfig
from kubeops.config.kubeconfig import write_kubeconfig

from .samples import simple_doc


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away, so only the writer's own mode keeps others out."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    """An empty directory of its own (the config tests' home sits in ``tmp_path``)."""
    path = tmp_path / "kube"
    path.mkdir()
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_is_private_from_its_first_byte(
    directory: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    modes_while_writing: list[int] = []
    real_write = os.write

    def write(descriptor: int, data: bytes | memoryview) -> int:
        modes_while_writing.append(stat.S_IMODE(os.fstat(descriptor).st_mode))
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", write)
    document = simple_doc(user={"token": "SECRET"})
    path = write_kubeconfig(directory / "deep" / "config", document)
    monkeypatch.undo()

    assert path == directory / "deep" / "config"
    assert modes_while_writing  # the content was written, all of it while private
    assert set(modes_while_writing) == {0o600}
    assert mode(path) == 0o600
    assert yaml.safe_load(path.read_text()) == document
    assert load_kubeconfig(path).users["u"].fields["token"] == "SECRET"
    assert sorted(p.name for p in path.parent.iterdir()) == ["config"]  # no temporary left


def test_an_existing_file_is_replaced_whole(directory: Path, open_umask: None) -> None:
    path = directory / "config"
    path.write_text(yaml.safe_dump(simple_doc(user={"token": "OLD"})))
    path.chmod(0o644)
    old_inode = path.stat().st_ino
    with path.open() as reader:  # a reader of the old file keeps reading the old file
        write_kubeconfig(path, simple_doc(user={"token": "NEW"}))
        assert yaml.safe_load(reader.read())["users"][0]["user"]["token"] == "OLD"
    assert path.stat().st_ino != old_inode  # renamed over, not truncated and rewritten
    assert mode(path) == 0o600  # the old file's wider mode is not inherited
    assert yaml.safe_load(path.read_text())["users"][0]["user"]["token"] == "NEW"
    assert sorted(p.name for p in directory.iterdir()) == ["config"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = directory / "config"
    write_kubeconfig(path, simple_doc(user={"token": "OLD"}))

    def fsync(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left"):
        write_kubeconfig(path, simple_doc(user={"token": "NEW"}))
    monkeypatch.undo()
    assert yaml.safe_load(path.read_text())["users"][0]["user"]["token"] == "OLD"
    assert sorted(p.name for p in directory.iterdir()) == ["config"]


def test_a_temporary_name_in_use_is_never_opened(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer holds the first name drawn: its file is left alone and a new name drawn.
    names = iter(["taken", "free"])
    monkeypatch.setattr(files_module.secrets, "token_hex", lambda _n: next(names))
    other = directory / ".config.taken.tmp"
    other.write_text("another writer's data")
    path = write_kubeconfig(directory / "config", simple_doc(user={"token": "T"}))
    assert other.read_text() == "another writer's data"
    assert yaml.safe_load(path.read_text())["users"][0]["user"]["token"] == "T"
    assert sorted(p.name for p in directory.iterdir()) == [".config.taken.tmp", "config"]
