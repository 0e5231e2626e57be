"""One control-plane process: started in its own process group, logged to a
file, awaited until ready, and stopped with its whole group.

Each process records itself (pid and kernel start time) in a ledger file of the
run directory, so a later run can find and end what a crashed run left behind
without ever signalling an unrelated process that reused the pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubeops.config.files import write_private
from kubeops.testenv.errors import ComponentFailed

LEDGER = "processes.json"
_ledger_lock = threading.Lock()
_PR_SET_PDEATHSIG = 1


def start_time(pid: int) -> int | None:
    """The process' start time in clock ticks since boot, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are fixed.
    return int(stat.rsplit(")", 1)[1].split()[19])


def process_uid(pid: int) -> int | None:
    """The uid owning the live process ``pid`` (that of its /proc entry), or None."""
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def is_same_process(pid: int, started: int | None) -> bool:
    """True if ``pid`` is alive and is the process that started at ``started``."""
    now = start_time(pid)
    return now is not None and (started is None or now == started) and not _is_zombie(pid)


def is_proven(pid: int, started: int | None, uid: int | None) -> bool:
    """True only if ``pid`` is alive, started at ``started`` and is owned by ``uid``.

    The identity a ledger records before anything may be signalled: an entry without
    a start time or an owner, or a pid now held by another process or user, is
    never proven.
    """
    if started is None or uid is None:
        return False
    return is_same_process(pid, started) and process_uid(pid) == uid


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the parent dies, so a killed test run leaves nothing."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class LedgerEntry:
    """A started process: its pid, kernel start time and owner uid (its identity)."""

    name: str
    pid: int
    started: int | None
    uid: int | None = None


def read_ledger(run_dir: Path) -> list[LedgerEntry]:
    """The processes a run directory records as started (empty when unreadable)."""
    try:
        raw = json.loads((run_dir / LEDGER).read_text())
    except (OSError, ValueError):
        return []
    entries = []
    for e in raw if isinstance(raw, list) else []:
        try:
            entry = LedgerEntry(str(e["name"]), int(e["pid"]), e.get("started"), e.get("uid"))
        except (TypeError, KeyError, ValueError):
            continue  # not an entry testenv wrote: nothing to act on
        if isinstance(entry.started, int) and isinstance(entry.uid, int):
            entries.append(entry)
        else:
            entries.append(LedgerEntry(entry.name, entry.pid, None, None))
    return entries


def _write_ledger(run_dir: Path, entries: list[LedgerEntry]) -> None:
    write_private(run_dir / LEDGER, json.dumps([e.__dict__ for e in entries]))


def kill_group(pid: int, started: int | None, uid: int | None, timeout: float = 10.0) -> bool:
    """End the process group led by ``pid`` if that leader is proven to be the same
    process (same start time and owner, see :func:`is_proven`); else signal nothing."""
    if pid <= 1 or not is_proven(pid, started, uid):
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_same_process(pid, started):
                return True
            time.sleep(0.05)
    return not is_same_process(pid, started)


class Process:
    """A long-running binary with a log file, a readiness probe and a clean stop."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log_file: Path,
        run_dir: Path,
        cluster: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log_file = log_file
        self.run_dir = run_dir
        self.cluster = cluster
        self.env = env
        self._popen: subprocess.Popen[bytes] | None = None
        self._started: int | None = None

    @property
    def pid(self) -> int | None:
        """The process id once started, else None."""
        return self._popen.pid if self._popen else None

    def start(self) -> None:
        """Start the process, logging to its file; it dies with its parent."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        # Only the main thread may use PDEATHSIG: it fires when the *thread* that
        # forked exits, which would kill a child started from a short-lived thread.
        tie = threading.current_thread() is threading.main_thread()
        with self.log_file.open("ab") as log:
            self._popen = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
                preexec_fn=_die_with_parent if tie else None,  # noqa: PLW1509
            )
        self._started = start_time(self._popen.pid)
        with _ledger_lock:
            entries = [e for e in read_ledger(self.run_dir) if e.name != self.name]
            entries.append(
                LedgerEntry(self.name, self._popen.pid, self._started, process_uid(self._popen.pid))
            )
            _write_ledger(self.run_dir, entries)

    def exit_code(self) -> int | None:
        """The exit code once it exited, else None."""
        return self._popen.poll() if self._popen else None

    def alive(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._popen is not None and self._popen.poll() is None

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last ``lines`` lines of the process's log, for error messages."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 64 * 1024))
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()][-lines:]

    def failure(self, reason: str) -> ComponentFailed:
        """A ComponentFailed for this process, with ``reason`` and the tail of its log."""
        return ComponentFailed(self.name, self.cluster, reason, self.log_tail())

    def wait_ready(self, probe: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
        """Poll ``probe`` until it is true; fail fast if the process exits meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            code = self.exit_code()
            if code is not None:
                raise self.failure(f"exited with code {code} while starting")
            if probe():
                return
            if time.monotonic() > deadline:
                raise self.failure(f"did not become ready within {timeout:.0f}s")
            time.sleep(interval)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
        popen = self._popen
        if popen is None:
            return
        if popen.poll() is None:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(popen.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    popen.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # The leader may be gone while a grandchild in its group lingers.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        with _ledger_lock:
            _write_ledger(
                self.run_dir,
                [
                    e
                    for e in read_ledger(self.run_dir)
                    if not (e.name == self.name and e.pid == popen.pid)
                ],
            )
        self._popen = None
