"""A run directory whose owner died is found, its processes ended, and removed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kubeops.testenv import EnvironmentBusy, rundir
from kubeops.testenv.process import is_same_process, start_time


def _stale_dir(base: Path, leftover: subprocess.Popen[bytes]) -> Path:
    run_dir = base / "env-crashed"
    run_dir.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run_dir / "owner.json").write_text(json.dumps({"pid": dead.pid, "started": None}))
    ledger = [
        {
            "name": "etcd",
            "pid": leftover.pid,
            "started": start_time(leftover.pid),
            "uid": os.geteuid(),
        }
    ]
    (run_dir / "processes.json").write_text(json.dumps(ledger))
    return run_dir


def test_sweep_ends_leftover_processes_of_a_dead_owner(tmp_path: Path) -> None:
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    run_dir = _stale_dir(tmp_path, leftover)
    cleaned = rundir.sweep(tmp_path)
    assert cleaned == [(run_dir, 1)]
    assert leftover.wait(5) == -15
    assert not run_dir.exists()


def test_sweep_never_signals_a_process_that_reused_the_pid(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    run_dir = _stale_dir(tmp_path, bystander)
    ledger = json.loads((run_dir / "processes.json").read_text())
    ledger[0]["started"] -= 1  # same pid, different process
    (run_dir / "processes.json").write_text(json.dumps(ledger))
    assert rundir.sweep(tmp_path) == [(run_dir, 0)]
    assert is_same_process(bystander.pid, start_time(bystander.pid))
    bystander.kill()
    bystander.wait()


def test_a_directory_owned_by_a_live_process_is_busy(tmp_path: Path) -> None:
    owner = subprocess.Popen(["sleep", "300"])
    try:
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        (run_dir / "owner.json").write_text(
            json.dumps({"pid": owner.pid, "started": start_time(owner.pid)})
        )
        with pytest.raises(
            EnvironmentBusy, match=rf"in use by a running testenv \(pid {owner.pid}\)"
        ):
            rundir.claim(run_dir)
        assert rundir.sweep(tmp_path) == []
    finally:
        owner.kill()
        owner.wait()
