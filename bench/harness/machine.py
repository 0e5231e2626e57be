"""What the numbers were measured on: the machine, its load, and every tool's version."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    memory = int(meminfo[meminfo.index("MemTotal:") + 1]) * 1024
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def load() -> dict[str, Any]:
    """Load averages now; the machine is shared, so a busy one is noted in the report."""
    one, five, fifteen = os.getloadavg()
    return {"loadavg_1m": one, "loadavg_5m": five, "loadavg_15m": fifteen}


def command_output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except OSError as err:
        return f"unavailable ({err.strerror})"
    return (done.stdout or done.stderr).strip()


def curl_version() -> str:
    words = command_output(["curl", "--version"]).split()
    return words[1] if len(words) > 1 else "unknown"


def go_version() -> str:
    return command_output(["go", "version"]).removeprefix("go version ")


def git_commit(repo: Path) -> str:
    commit = command_output(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = command_output(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"]
    )
    return commit + (" + uncommitted changes" if dirty else "")
