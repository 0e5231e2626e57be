"""Run directories: who owns one, and cleaning up after an owner that crashed.

A run directory holds etcd's data, the PKI, the logs and a ledger of started
processes.  ``owner.json`` names the process that owns it.  When that owner is
gone, the directory is stale: its processes (still the ones the ledger names,
judged by their kernel start time) are ended and the directory is removed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from kubeops.config.files import write_private
from kubeops.testenv.errors import EnvironmentBusy
from kubeops.testenv.process import is_same_process, kill_group, read_ledger, start_time

OWNER = "owner.json"


def default_base() -> Path:
    """Where environments without an explicit directory keep their run directories."""
    return Path(tempfile.gettempdir()) / "kubeops-testenv"


def owner_alive(run_dir: Path) -> int | None:
    """The pid of the live process owning ``run_dir``, or None."""
    try:
        owner = json.loads((run_dir / OWNER).read_text())
    except (OSError, ValueError):
        return None
    pid = int(owner["pid"])
    return pid if is_same_process(pid, owner.get("started")) else None


def claim(run_dir: Path) -> None:
    """Make the current process the owner of ``run_dir``, cleaning a stale one first.

    Raises :class:`EnvironmentBusy` when a live process owns it already.
    """
    pid = owner_alive(run_dir)
    if pid is not None and pid != os.getpid():
        raise EnvironmentBusy(
            f"{run_dir} is in use by a running testenv (pid {pid}); stop it first "
            "(`kubeops testenv down --dir ...` for a detached one) or choose another directory"
        )
    clean_stale(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    write_private(run_dir / OWNER, json.dumps({"pid": me, "started": start_time(me)}))


def release(run_dir: Path, remove: bool) -> None:
    """Give up ownership of a run directory, and remove it when ``remove``."""
    (run_dir / OWNER).unlink(missing_ok=True)
    if remove:
        shutil.rmtree(run_dir, ignore_errors=True)


def clean_stale(run_dir: Path) -> int:
    """End the processes of a run directory whose owner is dead; remove it. Return the count."""
    if not run_dir.exists() or owner_alive(run_dir) is not None:
        return 0
    killed = sum(kill_group(e.pid, e.started) for e in read_ledger(run_dir))
    shutil.rmtree(run_dir, ignore_errors=True)
    return killed


def sweep(base: Path) -> list[tuple[Path, int]]:
    """Clean every stale run directory under ``base``; return what was cleaned."""
    cleaned: list[tuple[Path, int]] = []
    if not base.is_dir():
        return cleaned
    for run_dir in base.iterdir():
        if run_dir.is_dir() and (run_dir / OWNER).exists() and owner_alive(run_dir) is None:
            cleaned.append((run_dir, clean_stale(run_dir)))
    return cleaned
