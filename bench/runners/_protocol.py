"""The runner protocol every client implements: ``<runner> SCENARIO PARAMS_JSON``.

Standard library only: it is imported by runners living in the peers' own
virtualenvs, which must not see kubeops.  A runner prints JSON lines on stdout
(S3 first ``{"ready": true}``), then exactly one final line ``{"ok": true,
"seconds": ..., "count": ..., "rss_bytes": ...}`` or ``{"ok": false, "error":
...}`` with exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

PAYLOAD = "x" * 1024  # S4's 1 KiB of data under the key "payload"


@dataclass(frozen=True)
class Params:
    """PARAMS_JSON; a scenario reads only the keys it needs."""

    kubeconfig: str
    namespace: str = "default"
    size: int = 0
    concurrency: int = 1
    duration: float = 0.0
    name: str = ""
    label_selector: str | None = None
    store: str = ""  # kubeops' informer store ("compact" or "dict"); others ignore it
    url: str = ""  # S9: the webhook the action posts to
    listen: str = ""  # S9: where kubeops' daemon serves (host:port)
    targets: tuple[str, ...] = ()  # S10: the targets' kubeconfigs (kubeconfig is the source's)
    source_cluster: str = ""  # S10: the source's name, for the ownership marks
    workers: int = 4  # S10: writers per target (the engine's default)


@dataclass
class Result:
    """What a scenario measured; ``extra`` is merged into the final line."""

    seconds: float
    count: int
    extra: dict[str, Any] = field(default_factory=dict)
    rss_bytes: int | None = None  # measured by the scenario itself while its cache is alive


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def rss_bytes() -> int:
    """This process's resident set (VmRSS) now, as the kernel counts it."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def settled_rss() -> int:
    """RSS once garbage is collected and freed heap is handed back to the OS.

    The Python counterpart of the Go runner's ``runtime.GC(); debug.FreeOSMemory()``
    and one-second pause, so every client's cache is measured the same way.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    time.sleep(1.0)
    return rss_bytes()


def store_option(p: Params, informer_type: Callable[..., Any]) -> tuple[dict[str, Any], str]:
    """The ``store=`` keyword for ``informer_type`` and the store's name for the results:
    a kubeops (or an informer type) without the option uses its default store."""
    if p.store and "store" in inspect.signature(informer_type).parameters:
        return {"store": p.store}, p.store
    return {}, "default (no store option)"


def selector_dict(selector: str | None) -> dict[str, str]:
    """``a=b,c=d`` as a dict, for clients that take label selectors as mappings."""
    if not selector:
        return {}
    return dict(part.split("=", 1) for part in selector.split(","))


class LagRecorder:
    """S3's samples: ms from the writer's ``data["ts"]`` to the handler, only while open."""

    def __init__(self) -> None:
        self.collecting = False
        self.lags_ms: list[float] = []
        self.unstamped = 0

    def record(self, data: dict[str, str] | None) -> None:
        now = time.time()  # first: the handler's arrival time is what is measured
        if not self.collecting:
            return
        try:
            ts = float((data or {})["ts"])
        except (KeyError, TypeError, ValueError):
            self.unstamped += 1
            return
        self.lags_ms.append(now * 1e3 - ts * 1e3)

    def result(self, seconds: float) -> Result:
        extra: dict[str, Any] = {"lags_ms": [round(v, 2) for v in self.lags_ms]}
        if self.unstamped:
            extra["unstamped_events"] = self.unstamped
        return Result(seconds, len(self.lags_ms), extra)


Scenario = Callable[[Params], Result]


def run_async(fn: Callable[[Params], Awaitable[Result]]) -> Callable[[Params], Result]:
    """A scenario of an asyncio client, run in its own loop; the client's leftover
    background tasks (watches, pools) are cancelled before the loop closes."""

    async def scenario(p: Params) -> Result:
        result = await fn(p)
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
        return result

    return lambda p: asyncio.run(scenario(p))


def main(scenarios: dict[str, Scenario]) -> None:
    """Parse argv, run the scenario, print the final line; errors become ``ok: false``."""
    try:
        if len(sys.argv) != 3:
            raise ValueError("usage: RUNNER SCENARIO PARAMS_JSON")
        name, raw = sys.argv[1], sys.argv[2]
        if name not in scenarios:
            raise ValueError(f"scenario {name!r} is not supported by this runner")
        params = Params(**json.loads(raw))
        result = scenarios[name](params)
        emit(
            {
                "ok": True,
                "seconds": result.seconds,
                "count": result.count,
                "rss_bytes": result.rss_bytes or rss_bytes(),
                **result.extra,
            }
        )
    except BaseException as err:  # report everything, even KeyboardInterrupt, as one line
        traceback.print_exc(file=sys.stderr)
        emit({"ok": False, "error": f"{type(err).__name__}: {err}"})
        _exit(1)
    _exit(0)


def _exit(code: int) -> None:
    """Leave at once: daemon threads still blocked in a socket read (some peers' watch
    threads) can abort the interpreter's shutdown, and the result is already out."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
