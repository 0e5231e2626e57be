"""The peers' virtualenvs: one per pinned requirements file, outside the repository,
named by a hash of the pins and the interpreter so a changed pin builds a new one."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"
MARKER = ".kubeops-bench-complete"


def root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "kubeops" / "bench" / "venvs"


def base_python() -> str:
    """The interpreter behind the running venv, so peers run on the same Python as kubeops."""
    return getattr(sys, "_base_executable", None) or sys.executable


def path_for(name: str) -> Path:
    pins = (REQUIREMENTS / f"{name}.txt").read_bytes()
    digest = hashlib.sha256(pins + sys.version.encode()).hexdigest()[:12]
    return root() / f"{name}-{digest}"


def ensure(name: str, progress: Callable[[str], None]) -> Path:
    """The venv's python for ``bench/requirements/<name>.txt``, created on first use."""
    target = path_for(name)
    python = target / "bin" / "python"
    if (target / MARKER).exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / MARKER).exists():
            return python
        shutil.rmtree(target, ignore_errors=True)  # a half-built one from a crash
        progress(f"creating venv {target.name}")
        subprocess.run([base_python(), "-m", "venv", str(target)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS / f"{name}.txt"),
            ],
            check=True,
        )
        (target / MARKER).write_text("ok\n")
    return python


def installed(python: Path, distribution: str) -> str:
    """A distribution's version inside a venv."""
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()
