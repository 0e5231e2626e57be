"""One measurement = one process.  The harness times its whole life (wall) and takes its
peak RSS from the kernel (``wait4`` → ``ru_maxrss``, through :mod:`harness.spawner`);
the runner reports the scenario's own time on its final JSON line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPAWNER = Path(__file__).resolve().parent / "spawner.py"


@dataclass
class Outcome:
    """A finished process: what it printed last, and what the OS measured."""

    returncode: int
    wall_seconds: float
    peak_rss_bytes: int
    final: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    cpu_seconds: float = 0.0  # user + system, the kernel's (wait4)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.final.get("ok"))

    @property
    def error(self) -> str:
        if self.final.get("error"):
            return str(self.final["error"])
        if self.returncode != 0:
            return f"exit code {self.returncode}: {self.stderr_tail[-500:]}"
        return "no final line"


class Spawner:
    """The long-lived small parent of every measured process (one request at a time)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SPAWNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait()

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        on_ready: Callable[[], None] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        read_lines: bool = True,
        stdout: Path | None = None,
    ) -> Outcome:
        """Run ``argv``; call ``on_ready`` (in a thread) when it prints ``{"ready": true}``.

        With ``read_lines`` false the output is discarded (CLI scenarios: the printed
        table is not the harness' business) and ``final`` stays empty, unless
        ``stdout`` names a file to keep it in (S11 counts the failures found).
        """
        with self._lock, tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
            fifo, stderr_path = Path(tmp, "stdout"), Path(tmp, "stderr")
            os.mkfifo(fifo)
            if stdout is not None:
                stdout.write_text(
                    ""
                )  # the spawner opens it for writing, neither creating nor truncating
            request = {
                "argv": list(argv),
                "env": dict(env if env is not None else os.environ),
                "cwd": str(cwd) if cwd else None,
                "stdout": str(fifo) if read_lines else str(stdout or os.devnull),
                "stderr": str(stderr_path),
            }
            assert self._proc.stdin is not None
            assert self._proc.stdout is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            pid = json.loads(self._proc.stdout.readline())["pid"]
            killed = threading.Event()

            def kill() -> None:
                killed.set()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

            timer = threading.Timer(timeout, kill)
            timer.start()
            final: dict[str, Any] = {}
            helpers: list[threading.Thread] = []
            try:
                if read_lines:
                    with fifo.open() as lines:
                        for line in lines:
                            message = _message(line)
                            if message.get("ready") and on_ready is not None:
                                helper = threading.Thread(target=on_ready, daemon=True)
                                helper.start()
                                helpers.append(helper)
                            elif "ok" in message:
                                final = message
                done = json.loads(self._proc.stdout.readline())
            finally:
                timer.cancel()
            for helper in helpers:
                helper.join()
            tail = stderr_path.read_text(errors="replace")[-4000:] if stderr_path.exists() else ""
        if killed.is_set():
            final = {"ok": False, "error": f"timed out after {timeout:.0f}s"}
        return Outcome(
            done["status"],
            done["wall"],
            done["maxrss_kb"] * 1024,
            final,
            tail,
            done.get("cpu", 0.0),
        )


def _message(line: str) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}
