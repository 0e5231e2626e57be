"""The clients under comparison and how each is started: Python runners in the repo's
venv (kubeops, floors) or in a pinned venv of their own (peers), client-go through the
Go program that ``bench/gobuild.py`` builds."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import venvs

BENCH = Path(__file__).resolve().parent.parent
RUNNERS = BENCH / "runners"
LIBRARY = ("S1", "S2", "S3", "S4", "S5", "S6", "S6-scale")
COMPACT = {"store": "compact"}


@dataclass
class Client:
    """One contender: ``group`` is kubeops, peer (a Python peer), go or floor."""

    name: str
    label: str
    group: str
    scenarios: tuple[str, ...] = LIBRARY
    runner: str = ""  # file in bench/runners, for Python clients
    venv: str | None = None  # requirements name, for peers
    distribution: str = ""  # whose version to report
    params: dict[str, Any] = field(default_factory=dict)  # merged into every PARAMS_JSON
    argv_prefix: list[str] = field(default_factory=list)
    version: str = ""
    unavailable: str = ""  # why it cannot run here, if it cannot

    def argv(self, scenario: str, params: str) -> list[str]:
        return [*self.argv_prefix, scenario, params]


CLIENTS: list[Client] = [
    Client(
        "kubeops-async",
        "kubeops (async, compact)",
        "kubeops",
        runner="kubeops_async.py",
        params=COMPACT,
    ),
    Client(
        "kubeops-async-dict",
        "kubeops (async, dict)",
        "kubeops",
        ("S6", "S6-scale"),
        runner="kubeops_async.py",
        params={"store": "dict"},
    ),
    Client(
        "kubeops-sync",
        "kubeops (sync, compact)",
        "kubeops",
        runner="kubeops_sync.py",
        params=COMPACT,
    ),
    Client(
        "kubeops-respond",
        "kubeops respond (daemon)",
        "kubeops",
        ("S9",),
        runner="kubeops_respond.py",
    ),
    Client(
        "kubeops-sync-run",
        "kubeops sync run (engine)",
        "kubeops",
        ("S10",),
        runner="kubeops_sync_run.py",
    ),
    Client("client-go", "client-go", "go"),
    Client(
        "kubernetes",
        "kubernetes",
        "peer",
        (*LIBRARY, "S9", "S10"),
        runner="kubernetes_runner.py",
        venv="kubernetes",
        distribution="kubernetes",
    ),
    Client(
        "kubernetes_asyncio",
        "kubernetes_asyncio",
        "peer",
        runner="kubernetes_asyncio_runner.py",
        venv="kubernetes_asyncio",
        distribution="kubernetes_asyncio",
    ),
    Client(
        "lightkube",
        "lightkube (async)",
        "peer",
        runner="lightkube_runner.py",
        venv="lightkube",
        distribution="lightkube",
    ),
    Client(
        "kr8s", "kr8s (async)", "peer", runner="kr8s_runner.py", venv="kr8s", distribution="kr8s"
    ),
    Client("floor-python", "floor: aiohttp + orjson", "floor", runner="floor_python.py"),
    Client("floor-server", "floor: curl (server)", "floor", ("S1", "S5"), runner="floor_curl.py"),
    Client(
        "floor-sync",
        "floor: the same applies, no engine",
        "floor",
        ("S10",),
        runner="s10_floor.py",
    ),
]


def go_binary(name: str) -> Path:
    """``bench/gobuild.py``'s ``binary(name)``: builds once, then cached."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    gobuild = importlib.import_module("gobuild")
    return Path(gobuild.binary(name))


def prepare(selected: list[str], progress: Callable[[str], None]) -> list[Client]:
    """Resolve each selected client's command line, building venvs and Go programs as needed."""
    chosen = [c for c in CLIENTS if c.name in selected]
    for client in chosen:
        try:
            if client.group == "go":
                progress("building the client-go runner (bench/gobuild.py)")
                client.argv_prefix = [str(go_binary("clientgo"))]
                client.version = _go_module_version(
                    BENCH / "clientgo" / "go.mod", "k8s.io/client-go"
                )
            elif client.venv is not None:
                python = venvs.ensure(client.venv, progress)
                client.argv_prefix = [str(python), str(RUNNERS / client.runner)]
                client.version = venvs.installed(python, client.distribution)
            else:
                client.argv_prefix = [sys.executable, str(RUNNERS / client.runner)]
                client.version = _local_version(client)
        except Exception as err:  # reported per client; the others still run
            client.unavailable = f"{type(err).__name__}: {err}"
            progress(f"{client.name} not available: {client.unavailable}")
    return chosen


def _local_version(client: Client) -> str:
    from importlib import metadata

    if client.group == "kubeops" or client.name == "floor-sync":
        return metadata.version("kubeops")
    if client.name == "floor-python":
        return f"aiohttp {metadata.version('aiohttp')}, orjson {metadata.version('orjson')}"
    return "curl"


def _go_module_version(go_mod: Path, module: str) -> str:
    for line in go_mod.read_text().splitlines():
        parts = line.split()
        if module in parts:
            return parts[parts.index(module) + 1]
    return "unknown"
