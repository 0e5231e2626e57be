"""Runs a measurement in a fresh interpreter: the script text written to a temporary
file and started with kubeops' checkout on ``PYTHONPATH``; its stdout is the result."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def run_child(script: str, args: list[str]) -> str:
    """Run ``script`` with ``args`` in a new Python process; its stdout (it must succeed)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(script)
    try:
        done = subprocess.run(
            [sys.executable, file.name, *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(SRC)},
        )
    finally:
        os.unlink(file.name)
    return done.stdout
