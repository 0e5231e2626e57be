"""``kubeops inspect serve`` as a daemon through the soak, and the check that its
schedule lost no run and ran none twice while the API server went away under it.

Runs fall on a grid (start + k x interval); a run that outlasts its slot skips the
slots it missed (kubeops.inspect.serve.schedule).  So each run starts within one
interval of the end of the run before it (else a slot was lost), and never within
the same slot (else a run was duplicated).  A run that fails (the cluster
unreachable) is recorded like any other, so every completed run is in the history
except those counted as ``error``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from kubeops.inspect.serve.metrics import timestamp
from kubeops.testenv.ports import free_port

# Timestamps are whole seconds and a loaded machine wakes late: the grid is checked to this.
SLACK = 2.0


@dataclass(frozen=True)
class Run:
    """One recorded run: its id, the epoch second it was generated (its end) and its length."""

    id: int
    generated: float
    seconds: float


def schedule_differences(runs: list[Run], interval: float) -> list[str]:
    """Each lost or duplicated run among ``runs`` (oldest first), in words."""
    found = []
    for before, after in itertools.pairwise(runs):
        if after.id != before.id + 1:
            found.append(f"run {before.id} is followed by run {after.id}: a run went missing")
        gap = (after.generated - after.seconds) - (before.generated - before.seconds)
        wait = (after.generated - after.seconds) - before.generated
        if gap < interval - SLACK:
            found.append(
                f"run {after.id} started {gap:.1f}s after run {before.id}: twice in a slot"
            )
        elif wait > interval + SLACK:
            found.append(
                f"run {after.id} started {wait:.1f}s after run {before.id} ended: a slot was lost"
            )
    return found


class ServeProcess:
    """``kubeops inspect serve`` on a short interval, with its own SQLite history."""

    def __init__(self, kubeconfig: Path, namespace: str, directory: Path, interval: int) -> None:
        self.interval = interval
        self.port = free_port()
        self.database = directory / "inspect.db"
        self.log = directory / "serve.log"
        self.argv = [
            sys.executable,
            "-m",
            "kubeops",
            "inspect",
            "serve",
            "--kubeconfig",
            str(kubeconfig),
            "-n",
            namespace,
            "--interval",
            f"{interval}s",
            "--history",
            f"sqlite:///{self.database}",
            "--listen",
            f"127.0.0.1:{self.port}",
        ]
        self.returncode: int | None = None
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the daemon; it runs at once, then on the grid."""
        with self.log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    @property
    def running(self) -> bool:
        """Whether the daemon is still up (a fault must not end it)."""
        return self._process is not None and self._process.returncode is None

    async def completed(self) -> tuple[int, int]:
        """Runs completed (``/healthz``) and runs that left no document (``/metrics``)."""
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as http:
            health = (await http.get("/healthz", timeout=10)).json()
            metrics = (await http.get("/metrics", timeout=10)).text
        errors = re.search(r'^kubeops_inspect_runs_total\{result="error"\} (\S+)$', metrics, re.M)
        return int(health["runs"]), int(float(errors.group(1))) if errors else 0

    async def stop(self) -> int | None:
        """Stop as a service manager does (SIGTERM); returns the exit status."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
        self.returncode = process.returncode
        return self.returncode

    def recorded(self) -> list[Run]:
        """The history's runs, oldest first."""
        with sqlite3.connect(self.database) as db:
            rows = db.execute(
                "SELECT id, generated, seconds FROM kubeops_inspect_runs ORDER BY id"
            ).fetchall()
        runs = []
        for run_id, generated, seconds in rows:
            moment = timestamp(generated)
            assert moment is not None, f"run {run_id}: generated {generated!r}"
            runs.append(Run(int(run_id), moment, float(seconds or 0.0)))
        return runs
