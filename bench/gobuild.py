"""Builds the benchmark suite's Go programs and caches them.

``binary("clientgo")`` is the client-go runner (``bench/clientgo``), ``binary("popeye")``
is Popeye at the version ``bench/popeye/go.mod`` pins, ``binary("conftest")`` conftest at
the version ``bench/conftest/go.mod`` pins (S11's peer).  Each is built through testenv's
one owner of pinned Go builds (:mod:`kubeops.testenv.gotools`): CGO-free,
``go build -trimpath``, into ``<cache>/bench/<name>-<key>/<name>``, where ``<cache>`` is
testenv's cache root (``~/.cache/kubeops`` unless ``KUBEOPS_CACHE_DIR`` or
``XDG_CACHE_HOME`` say otherwise) and ``<key>`` hashes the module's ``go.mod``,
``go.sum``, ``*.go`` files and the build flags: an edit rebuilds, nothing else does.
A file lock makes concurrent first calls build once, and the binary appears only by
renaming a finished build directory, so nobody ever runs a half-written file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kubeops.testenv.assets import cache_root
from kubeops.testenv.gotools import GoProgram, cached_program, required_version

BENCH_DIR = Path(__file__).resolve().parent

# What each module builds: its main package.
_PACKAGES: dict[str, str] = {
    "clientgo": ".",
    "popeye": "github.com/derailed/popeye",
    "conftest": "github.com/open-policy-agent/conftest",
}
_POPEYE = "github.com/derailed/popeye"
_CONFTEST = "github.com/open-policy-agent/conftest"


def binary(name: str, progress: Callable[[str], None] | None = None) -> Path:
    """The path of the built program ``name`` ("clientgo", "popeye" or "conftest"), building it
    first if the cache lacks it.  Raises AssetsError if ``go`` is missing or fails."""
    if name not in _PACKAGES:
        raise ValueError(f"unknown Go program {name!r}; expected one of {sorted(_PACKAGES)}")
    return cached_program(_program(name), cache_root() / "bench", progress or _quiet)


def _program(name: str) -> GoProgram:
    module = BENCH_DIR / name
    ldflags = "-s -w"
    if name == "popeye":
        # Popeye reports "dev" unless its release stamps the version in.
        ldflags += f" -X {_POPEYE}/cmd.version={required_version(module / 'go.mod', _POPEYE)}"
    elif name == "conftest":  # likewise "dev" without the release's stamp
        version = required_version(module / "go.mod", _CONFTEST)
        ldflags += f" -X {_CONFTEST}/internal/version.Version={version}"
    return GoProgram(name, module, _PACKAGES[name], ldflags)


def _quiet(_: str) -> None:
    pass


if __name__ == "__main__":
    import sys

    for program in sys.argv[1:] or sorted(_PACKAGES):
        print(binary(program, progress=lambda line: print(line, file=sys.stderr)))
