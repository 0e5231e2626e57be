"""Finding 4 of the hardening issue: nothing local can be raced.

Secret files are private from their first byte, history databases and reports are
not world-readable, and testenv's run directories are per-user, checked, and never
lead to signalling a process whose identity is not proven.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeops.config import files
from kubeops.config.kubeconfig import write_kubeconfig
from kubeops.testenv.pki import create_cluster_pki


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Umask 0: a writer that relies on the umask or chmods afterwards shows 0666/0644."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """Every ``os.open`` call (path, flags, mode), still performed for real."""
    calls: list[tuple[str, int, int]] = []
    real = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        calls.append((os.fspath(path), flags, mode))
        return real(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return calls


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _created_private(calls: list[tuple[str, int, int]], target: Path) -> bool:
    """True if ``target`` was created as a new 0600 file (O_CREAT|O_EXCL|O_NOFOLLOW) and renamed."""
    prefix = f".{target.name}."
    return any(
        Path(path).parent == target.parent
        and Path(path).name.startswith(prefix)
        and flags & os.O_CREAT
        and flags & os.O_EXCL
        and flags & os.O_NOFOLLOW
        and mode == 0o600
        for path, flags, mode in calls
    )


def test_write_private_is_0600_from_the_first_byte(
    tmp_path: Path, permissive_umask: None, opens: list[tuple[str, int, int]]
) -> None:
    target = files.write_private(tmp_path / "token", "s3cret\n")
    assert target.read_text() == "s3cret\n"
    assert _mode(target) == 0o600
    assert _created_private(opens, target)
    assert [p.name for p in tmp_path.iterdir()] == ["token"], "no temporary file is left"


def test_write_private_replaces_a_planted_symlink_instead_of_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    link = tmp_path / "admin.kubeconfig"
    link.symlink_to(victim)
    write_kubeconfig(link, {"apiVersion": "v1", "kind": "Config"})
    assert victim.read_text() == "untouched"
    assert not link.is_symlink()
    assert _mode(link) == 0o600


def test_write_private_leaves_no_temporary_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        files.write_private(tmp_path / "key", b"k")
    assert list(tmp_path.iterdir()) == []


def test_kubeconfig_is_0600_from_the_first_byte(
    tmp_path: Path, permissive_umask: None, opens: list[tuple[str, int, int]]
) -> None:
    target = write_kubeconfig(tmp_path / "admin.kubeconfig", {"apiVersion": "v1"})
    assert _mode(target) == 0o600
    assert _created_private(opens, target)
    assert [p.name for p in tmp_path.iterdir()] == ["admin.kubeconfig"]


def test_testenv_pki_keys_are_0600_from_the_first_byte(
    tmp_path: Path, permissive_umask: None, opens: list[tuple[str, int, int]]
) -> None:
    directory = tmp_path / "pki"
    create_cluster_pki(directory, "c1")
    keys = sorted(directory.glob("*.key"))
    assert {k.name for k in keys} >= {"ca.key", "admin.key", "service-account.key"}
    for key in keys:
        assert _mode(key) == 0o600, key.name
        assert _created_private(opens, key), f"{key.name} was not created 0600 by os.open"
    for public in [*directory.glob("*.crt"), directory / "service-account.pub"]:
        assert _mode(public) == 0o644, public.name
    assert _mode(directory) == 0o700
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".")]


# -- history databases and reports -------------------------------------------------


def test_history_database_and_its_journals_are_0600(tmp_path: Path, permissive_umask: None) -> None:
    import asyncio

    from kubeops.inspect.history import History

    database = tmp_path / "history" / "inspect.db"

    async def use() -> None:
        history = await History.open(f"sqlite:///{database}")
        await history.close()

    asyncio.run(use())
    assert database.exists()
    assert _mode(database) == 0o600
    assert _mode(database.parent) == 0o700
    for sibling in database.parent.iterdir():  # -wal and -shm take the database's mode
        assert _mode(sibling) & 0o077 == 0, sibling.name


def test_an_existing_world_readable_history_is_narrowed(tmp_path: Path) -> None:
    import asyncio

    from kubeops.inspect.history import History

    database = tmp_path / "inspect.db"
    database.touch()
    database.chmod(0o644)

    async def use() -> None:
        history = await History.open(f"sqlite:///{database}")
        await history.close()

    asyncio.run(use())
    assert _mode(database) == 0o600


MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: nginx
"""


@pytest.mark.parametrize("where", ["--out", "--output-dir"])
def test_inspect_reports_are_0600(tmp_path: Path, where: str) -> None:
    import subprocess
    import sys

    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    if where == "--out":
        args, report = ["-o", "json", "--out", "r.json"], tmp_path / "r.json"
    else:
        args, report = ["-o", "json", "--output-dir", "out"], tmp_path / "out/inspect-report.json"
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", "inspect", "-f", "m.yaml", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.umask(0),
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")},
    )
    assert done.returncode == 0, done.stderr
    assert report.read_text().startswith("{")
    assert _mode(report) == 0o600
    assert not [p.name for p in report.parent.iterdir() if p.name.endswith(".tmp")]


# -- testenv's run directories and the stale-run sweep -------------------------------


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for /tmp, so the per-user base is created under ``tmp_path``."""
    import tempfile

    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return shared


def test_the_run_directory_base_is_per_user_and_0700(private_tmp: Path) -> None:
    from kubeops.testenv import rundir

    base = rundir.default_base()
    assert base == private_tmp / f"kubeops-testenv-{os.geteuid()}"
    assert _mode(base) == 0o700
    assert base.lstat().st_uid == os.geteuid()


def test_a_base_created_by_another_user_is_refused(private_tmp: Path) -> None:
    import pwd

    from kubeops.testenv import rundir

    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    planted = private_tmp / f"kubeops-testenv-{os.geteuid()}"
    planted.mkdir(mode=0o700)
    nobody = pwd.getpwnam("nobody")
    os.chown(planted, nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(rundir.UnsafeDirectory, match=r"belongs to uid \d+, not to you"):
        rundir.default_base()
    with pytest.raises(rundir.UnsafeDirectory):
        rundir.sweep(rundir.default_base())


@pytest.mark.parametrize("kind", ["symlink", "world-writable", "group-writable"])
def test_an_unsafe_base_is_refused(private_tmp: Path, kind: str) -> None:
    from kubeops.testenv import rundir

    planted = private_tmp / f"kubeops-testenv-{os.geteuid()}"
    if kind == "symlink":
        elsewhere = private_tmp / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        planted.symlink_to(elsewhere)
        expected = "is a symlink"
    else:
        planted.mkdir()
        planted.chmod(0o777 if kind == "world-writable" else 0o770)
        expected = "is writable by other users"
    with pytest.raises(rundir.UnsafeDirectory, match=expected) as raised:
        rundir.default_base()
    assert "\n" not in str(raised.value)


def _stale_run(base: Path, entry: dict[str, Any]) -> Path:
    import json
    import subprocess

    run_dir = base / "env-crashed"
    run_dir.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run_dir / "owner.json").write_text(json.dumps({"pid": dead.pid, "started": None}))
    (run_dir / "processes.json").write_text(json.dumps([{"name": "etcd", **entry}]))
    return run_dir


@pytest.mark.parametrize("forged", ["start time", "owner", "no owner recorded", "no start time"])
def test_the_sweep_never_signals_a_process_whose_identity_is_not_proven(
    tmp_path: Path, forged: str
) -> None:
    import subprocess

    from kubeops.testenv import rundir
    from kubeops.testenv.process import is_same_process, start_time

    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        started = start_time(bystander.pid)
        assert started is not None
        entry: dict[str, Any] = {"pid": bystander.pid, "started": started, "uid": os.geteuid()}
        if forged == "start time":
            entry["started"] = started - 1
        elif forged == "owner":
            entry["uid"] = os.geteuid() + 1
        elif forged == "no owner recorded":
            del entry["uid"]
        else:
            entry["started"] = None
        run_dir = _stale_run(tmp_path, entry)
        assert rundir.sweep(tmp_path) == [(run_dir, 0)]
        assert is_same_process(bystander.pid, started), "the bystander was signalled"
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_the_sweep_ends_a_process_whose_identity_is_proven(tmp_path: Path) -> None:
    import subprocess

    from kubeops.testenv import rundir
    from kubeops.testenv.process import start_time

    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    entry = {"pid": leftover.pid, "started": start_time(leftover.pid), "uid": os.geteuid()}
    run_dir = _stale_run(tmp_path, entry)
    assert rundir.sweep(tmp_path) == [(run_dir, 1)]
    assert leftover.wait(5) == -15


def test_the_ledger_records_start_time_and_owner(tmp_path: Path) -> None:
    from kubeops.testenv.process import Process, read_ledger, start_time

    process = Process("sleeper", ["sleep", "300"], tmp_path / "sleeper.log", tmp_path)
    process.start()
    try:
        (entry,) = read_ledger(tmp_path)
        assert entry.pid == process.pid
        assert entry.started == start_time(entry.pid)
        assert entry.uid == os.geteuid()
        assert _mode(tmp_path / "processes.json") == 0o600
    finally:
        process.stop()
    assert read_ledger(tmp_path) == []
