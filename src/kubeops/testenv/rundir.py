"""Run directories: who owns one, and cleaning up after an owner that crashed.

A run directory holds etcd's data, the PKI, the logs and a ledger of started
processes.  ``owner.json`` names the process that owns it.  When that owner is
gone, the directory is stale: its processes (still the ones the ledger names,
judged by their kernel start time and owner uid) are ended and the directory is
removed.

Run directories without an explicit place live under a per-user base
(:func:`default_base`): ``$XDG_RUNTIME_DIR/kubeops-testenv`` for an ordinary user,
else ``<tmp>/kubeops-testenv-<uid>``.  It is created 0700 and refused when it is a
symlink, owned by another user, or writable by group or others, so no other local
user can read the keys in it or plant a ledger that the stale-run sweep acts on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from kubeops.config.files import write_private
from kubeops.testenv.errors import ControlPlaneError, EnvironmentBusy
from kubeops.testenv.process import is_same_process, kill_group, read_ledger, start_time
from kubeops.testenv.state import StateFileError, read_owner

OWNER = "owner.json"


class UnsafeDirectory(ControlPlaneError):
    """A run directory base another local user could read or change."""


def base_path() -> Path:
    """Where the current user's run directories go (see the module docstring); not created.

    root does not use ``$XDG_RUNTIME_DIR`` (``/run/user/0``): its PostgreSQL test
    servers run as the ``postgres`` user, which must be able to enter the base.
    """
    uid = os.geteuid()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if uid != 0 and runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return Path(runtime) / "kubeops-testenv"
    return Path(tempfile.gettempdir()) / f"kubeops-testenv-{uid}"


def default_base() -> Path:
    """The current user's private base for run directories, created 0700 and checked.

    Raises :class:`UnsafeDirectory` when it exists as a symlink or a non-directory,
    belongs to another user, or is writable by group or others.
    """
    return ensure_private_dir(base_path())


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) unless it exists, then check it is ours alone."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    problem = None
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symlink"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory"
    elif info.st_uid != os.geteuid():
        problem = f"belongs to uid {info.st_uid}, not to you (uid {os.geteuid()})"
    elif info.st_mode & 0o022:
        problem = f"is writable by other users (mode {stat.S_IMODE(info.st_mode):o})"
    if problem:
        raise UnsafeDirectory(
            f"testenv run directory base {path} {problem}; refusing to use it "
            "(remove it, or give an explicit directory)"
        )
    return path


def allow_group_traverse(base: Path, gid: int) -> None:
    """Let group ``gid`` (and only it) enter ``base`` without listing it (mode 0710).

    For a helper that runs as another system user (PostgreSQL's ``postgres``) and must
    reach its own run directory below the private base.
    """
    info = base.lstat()
    if info.st_gid != gid:
        os.chown(base, -1, gid, follow_symlinks=False)
    if stat.S_IMODE(info.st_mode) != 0o710:
        os.chmod(base, 0o710)


def owner_alive(run_dir: Path) -> int | None:
    """The pid of the live process owning ``run_dir``, or None."""
    owner = read_owner(run_dir / OWNER)
    if owner is None:
        return None
    pid: int = owner["pid"]
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
    killed = sum(kill_group(e.pid, e.started, e.uid) for e in read_ledger(run_dir))
    shutil.rmtree(run_dir, ignore_errors=True)
    return killed


def sweep(base: Path) -> list[tuple[Path, int]]:
    """Clean every stale run directory under ``base``; return what was cleaned."""
    cleaned: list[tuple[Path, int]] = []
    if not base.is_dir():
        return cleaned
    for run_dir in base.iterdir():
        if not run_dir.is_dir() or run_dir.is_symlink() or not (run_dir / OWNER).exists():
            continue
        try:
            stale = owner_alive(run_dir) is None
        except StateFileError:
            continue  # an owner file not as testenv writes it proves nothing: leave it alone
        if stale:
            cleaned.append((run_dir, clean_stale(run_dir)))
    return cleaned
