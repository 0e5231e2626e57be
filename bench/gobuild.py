"""Builds the benchmark suite's Go programs and caches them.

``binary("clientgo")`` is the client-go runner (``bench/clientgo``), ``binary("popeye")``
is Popeye at the version ``bench/popeye/go.mod`` pins.  Each is built CGO-free with
``go build -trimpath`` into ``<cache>/bench/<name>-<key>/<name>``, where ``<cache>`` is
testenv's cache root (``~/.cache/kubeops`` unless ``KUBEOPS_CACHE_DIR`` or
``XDG_CACHE_HOME`` say otherwise) and ``<key>`` hashes the module's ``go.mod``,
``go.sum``, ``*.go`` files and the build flags: an edit rebuilds, nothing else does.
A file lock makes concurrent first calls build once, and the binary appears only by
renaming a finished build directory, so nobody ever runs a half-written file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kubeops.testenv.assets import cache_root

BENCH_DIR = Path(__file__).resolve().parent

# What each module builds: its main package.
_PACKAGES: dict[str, str] = {
    "clientgo": ".",
    "popeye": "github.com/derailed/popeye",
}
_POPEYE = "github.com/derailed/popeye"
_HEARTBEAT_SECONDS = 30.0


def binary(name: str, progress: Callable[[str], None] | None = None) -> Path:
    """The path of the built program ``name`` ("clientgo" or "popeye"), building it
    first if the cache lacks it.  Raises RuntimeError if ``go`` is missing or fails."""
    if name not in _PACKAGES:
        raise ValueError(f"unknown Go program {name!r}; expected one of {sorted(_PACKAGES)}")
    module = BENCH_DIR / name
    args = _build_args(name, module)
    final = cache_root() / "bench" / f"{name}-{_key(module, args)}"
    executable = final / name
    if executable.is_file():
        return executable
    final.parent.mkdir(parents=True, exist_ok=True)
    with _locked(final.parent / f"{final.name}.lock"):
        if not executable.is_file():  # another process may have built it while we waited
            _build(name, module, args, final, progress or _quiet)
    return executable


def _build_args(name: str, module: Path) -> list[str]:
    """``go build`` arguments after ``-o``'s operand: the flags and the package."""
    ldflags = "-s -w"
    if name == "popeye":
        # Popeye reports "dev" unless its release stamps the version in.
        ldflags += f" -X {_POPEYE}/cmd.version={_required_version(module / 'go.mod', _POPEYE)}"
    return ["-trimpath", "-ldflags", ldflags, _PACKAGES[name]]


def _required_version(gomod: Path, module: str) -> str:
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", gomod.read_text(), re.M)
    if match is None:
        raise RuntimeError(f"{gomod} does not require {module}")
    return match.group(1)


def _key(module: Path, args: list[str]) -> str:
    """16 hex digits of SHA-256 over go.mod, go.sum, every *.go file and the build flags."""
    digest = hashlib.sha256("\0".join(args).encode())
    sources = [module / "go.mod", module / "go.sum", *sorted(module.rglob("*.go"))]
    for path in sources:
        if path.is_file():
            digest.update(b"\0" + str(path.relative_to(module)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(
    name: str, module: Path, args: list[str], final: Path, progress: Callable[[str], None]
) -> None:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(
            f"cannot build {name} from {module}: `go` is not on PATH; install Go 1.26 or newer"
        )
    staging = Path(tempfile.mkdtemp(prefix=f"{final.name}.building-", dir=final.parent))
    command = [go, "build", "-o", str(staging / name), *args]
    # -mod=readonly: the committed go.sum is the pin, a build must never rewrite it.
    # -buildvcs=false: the binary must not depend on the checkout's git state.
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=readonly -buildvcs=false",
    }
    started = time.monotonic()
    progress(f"building {name} from {module} (first run only, cached in {final})")
    try:
        with tempfile.TemporaryFile() as output:
            proc = subprocess.Popen(
                command, cwd=module, env=env, stdout=output, stderr=subprocess.STDOUT
            )
            _wait(proc, name, started, progress)
            if proc.returncode != 0:
                output.seek(0)
                tail = output.read().decode(errors="replace").strip().splitlines()[-6:]
                shown = "CGO_ENABLED=0 " + shlex.join(["go", *command[1:]])
                raise RuntimeError(
                    f"building {name} from {module} failed: `{shown}` exited "
                    f"{proc.returncode}: " + " | ".join(line.strip() for line in tail)
                )
        shutil.rmtree(final, ignore_errors=True)  # a leftover without its binary
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"built {name} in {time.monotonic() - started:.0f}s")


def _wait(
    proc: subprocess.Popen[bytes], name: str, started: float, progress: Callable[[str], None]
) -> None:
    try:
        while True:
            try:
                proc.wait(timeout=_HEARTBEAT_SECONDS)
                return
            except subprocess.TimeoutExpired:
                progress(f"still building {name} ({time.monotonic() - started:.0f}s so far)")
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def _quiet(_: str) -> None:
    pass


if __name__ == "__main__":
    import sys

    for program in sys.argv[1:] or sorted(_PACKAGES):
        print(binary(program, progress=lambda line: print(line, file=sys.stderr)))
