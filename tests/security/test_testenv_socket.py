"""Findings 3 and 4 of the hardening issue for testenv's supervisor: ``kubeops testenv up``'s
control socket lives in the user's private run directory base, not in shared /tmp, and a
corrupt state file is one error naming it (never a traceback, never a process signalled)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from kubeops.testenv import rundir
from kubeops.testenv.supervisor import socket_path


@pytest.fixture
def shared_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for /tmp (mode 1777), so the per-user base is created under ``tmp_path``."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return shared


def test_the_socket_is_in_the_private_run_directory_base(shared_tmp: Path, tmp_path: Path) -> None:
    path = socket_path(tmp_path / "env")
    assert path.parent == rundir.base_path()
    assert path.parent != shared_tmp
    info = path.parent.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.geteuid()
    assert len(path.name) <= 40  # with /tmp/kubeops-testenv-UID, far below AF_UNIX's ~104 bytes
    assert socket_path(tmp_path / "env") == path  # the CLI finds the supervisor's socket
    assert socket_path(tmp_path / "other") != path


def test_a_base_other_users_can_write_to_is_refused(shared_tmp: Path, tmp_path: Path) -> None:
    base = rundir.base_path()
    base.mkdir(mode=0o700)
    base.chmod(0o777)
    with pytest.raises(rundir.UnsafeDirectory, match="writable by other users"):
        socket_path(tmp_path / "env")


@pytest.mark.parametrize("content", ['{"pid": "x"}', "[1]", "{"])
def test_a_corrupt_state_file_is_one_error_naming_it(tmp_path: Path, content: str) -> None:
    from kubeops.testenv.state import StateFileError
    from kubeops.testenv.supervisor import STATE, running_supervisor

    (tmp_path / STATE).write_text(content)
    with pytest.raises(StateFileError) as info:
        running_supervisor(tmp_path)
    assert str(tmp_path / STATE) in str(info.value)
    assert "\n" not in str(info.value)


def test_the_sweep_leaves_a_run_directory_with_a_corrupt_owner_alone(tmp_path: Path) -> None:
    run = tmp_path / "run-1"
    run.mkdir()
    (run / rundir.OWNER).write_text('{"pid": "not a pid"}')
    assert rundir.sweep(tmp_path) == []
    assert run.is_dir()
