"""Builds a Go program pinned by a ``go.mod`` into kubeops' cache, once.

The one owner of "build pinned Go code": the control plane (:mod:`.assets`),
testenv's extra servers (Alertmanager, metrics-server) and the benchmark's Go
programs all build through :func:`run_go` and :func:`cached_program`.  Builds are
CGO-free, ``-trimpath`` and ``-mod=readonly`` (the committed ``go.sum`` is the
pin; a build never rewrites it), with the local toolchain only.  A cached program
lives in ``<parent>/<name>-<key>/<name>``, where the key hashes the build flags,
``go.mod``, ``go.sum`` and every ``*.go`` file of the module: an edit rebuilds,
nothing else does.  A file lock makes concurrent first calls build once, and a
build appears only by renaming its finished directory, so nobody ever runs a
half-written binary.  Long builds report progress every 30 seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kubeops.testenv.errors import AssetsError

Progress = Callable[[str], None]

GO_ENV = {
    "GOTOOLCHAIN": "local",
    "CGO_ENABLED": "0",
    # -buildvcs=false: a binary must not depend on the checkout's git state.
    "GOFLAGS": "-mod=readonly -buildvcs=false",
}
_HEARTBEAT_SECONDS = 30.0
# Builds under way in this process, so an interrupted caller can end them all.
_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()


def stop_builds() -> None:
    """Kill every ``go`` command this process is running (their callers then fail)."""
    with _running_lock:
        for proc in _running:
            proc.kill()


@dataclass(frozen=True)
class GoProgram:
    """One program to build: its module directory, main package and link flags."""

    name: str
    module: Path
    package: str = "."
    ldflags: str = "-s -w"
    tags: str = ""  # build tags, comma-separated

    def build_args(self) -> list[str]:
        """``go build`` arguments after ``-o``'s operand: the flags and the package."""
        tags = ["-tags", self.tags] if self.tags else []
        return ["-trimpath", *tags, "-ldflags", self.ldflags, self.package]

    def key(self) -> str:
        """16 hex digits of SHA-256 over the build flags and the module's sources."""
        digest = hashlib.sha256("\0".join(self.build_args()).encode())
        sources = [
            self.module / "go.mod",
            self.module / "go.sum",
            *sorted(self.module.rglob("*.go")),
        ]
        for path in sources:
            if path.is_file():
                digest.update(b"\0" + str(path.relative_to(self.module)).encode() + b"\0")
                digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


def required_version(gomod: Path, module: str) -> str:
    """The version of ``module`` that ``gomod`` requires (``v0.31.1``)."""
    try:
        text = gomod.read_text()
    except OSError as err:
        raise AssetsError(f"cannot read {gomod}: {err.strerror or err}") from err
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.MULTILINE)
    if match is None:
        raise AssetsError(f"{gomod} does not require {module}")
    return match.group(1)


def go_command(missing: str) -> str:
    """The ``go`` on PATH; without one, AssetsError(``missing``)."""
    go = shutil.which("go")
    if go is None:
        raise AssetsError(missing)
    return go


def go_version(go: str) -> str:
    """``go1.26.8``: the toolchain a build used, for manifests and progress lines."""
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "go (unknown version)"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) across processes."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_program(
    program: GoProgram,
    parent: Path,
    progress: Progress = lambda _: None,
    *,
    missing_go: str | None = None,
) -> Path:
    """The built ``program`` under ``parent``, building it first if the cache lacks it."""
    final = parent / f"{program.name}-{program.key()}"
    executable = final / program.name
    if executable.is_file():
        return executable
    parent.mkdir(parents=True, exist_ok=True)
    with locked(parent / f"{final.name}.lock"):
        if not executable.is_file():  # another process may have built it while we waited
            go = go_command(
                missing_go
                or f"cannot build {program.name} from {program.module}: `go` is not on PATH; "
                "install Go (the version its go.mod names, or newer)"
            )
            _build(go, program, final, progress)
    return executable


def _build(go: str, program: GoProgram, final: Path, progress: Progress) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f"{final.name}.building-", dir=final.parent))
    started = time.monotonic()
    progress(f"building {program.name} with {go_version(go)}; first run only, cached in {final}")
    try:
        args = ["build", "-o", str(staging / program.name), *program.build_args()]
        run_go(go, args, program.module, program.name, progress, started)
        shutil.rmtree(final, ignore_errors=True)  # a leftover without its binary
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"built {program.name} in {time.monotonic() - started:.0f}s")


def run_go(
    go: str, args: list[str], cwd: Path, what: str, progress: Progress, started: float
) -> str:
    """Run ``go args`` in ``cwd``; its stdout, or AssetsError with the compiler's last lines."""
    progress(f"go {args[0]}: {what}")
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            [go, *args],
            cwd=cwd,
            env={**os.environ, **GO_ENV},
            stdout=subprocess.PIPE,
            stderr=output,
        )
        with _running_lock:
            _running.add(proc)
        try:
            stdout = wait_reporting(proc, f"building {what}", progress, started).decode()
        finally:
            with _running_lock:
                _running.discard(proc)
        if proc.returncode != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace").strip().splitlines()[-25:]
            raise AssetsError(
                f"building {what} failed (go {args[0]} in {cwd}, exit code "
                f"{proc.returncode}):\n" + "\n".join(f"    {line}" for line in tail)
            )
    return stdout


def wait_reporting(
    proc: subprocess.Popen[bytes], doing: str, progress: Progress, started: float
) -> bytes:
    """Wait for ``proc`` (reading its stdout if piped), saying every 30 seconds that it is
    still ``doing``; an interrupted wait kills it.  The one wait of testenv's long
    set-up commands (Go builds, Maven, the image)."""
    try:
        while True:
            try:
                stdout, _ = proc.communicate(timeout=_HEARTBEAT_SECONDS)
                return stdout or b""
            except subprocess.TimeoutExpired:
                progress(f"still {doing} ({time.monotonic() - started:.0f}s so far)")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
