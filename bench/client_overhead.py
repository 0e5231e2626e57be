"""kubeops' own overhead over the client floor (raw aiohttp GET + orjson decode of the
same bytes), for a LIST of N ConfigMaps and for S sequential GETs.

The issue's targets: LIST costs at most 10% more than the floor; per-GET overhead
is judged against client-go in the benchmark suite.  Medians of R alternating rounds.
Run: .venv/bin/python bench/client_overhead.py [N] [S] [R]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.testenv import Environment
from kubeops.testenv.admin import admin_ssl_context

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
S = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
R = int(sys.argv[3]) if len(sys.argv) > 3 else 5
NS = "/api/v1/namespaces/default/configmaps"


async def main() -> None:
    with Environment(api_only=True) as env:
        cluster = env.cluster()
        tls = admin_ssl_context(cluster.pki)
        async with Client(load_config(cluster.kubeconfig), qps=-1) as client:
            gate = asyncio.Semaphore(32)

            async def make(i: int) -> None:
                async with gate:
                    body = {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": f"cm-{i:05d}"},
                        "data": {"payload": "x" * 1000},
                    }
                    await client.create(body)

            await asyncio.gather(*(make(i) for i in range(N)))
            raw = aiohttp.ClientSession(cluster.server, connector=aiohttp.TCPConnector(ssl=tls))

            async def floor_list() -> None:
                async with raw.get(NS) as r:
                    assert len(orjson.loads(await r.read())["items"]) == N

            async def kubeops_list() -> None:
                assert len((await client.list("configmaps", page_size=None))["items"]) == N

            async def kubeops_list_paged() -> None:
                assert len((await client.list("configmaps"))["items"]) == N

            async def floor_gets() -> None:
                for _ in range(S):
                    async with raw.get(f"{NS}/cm-00001") as r:
                        orjson.loads(await r.read())

            async def kubeops_gets() -> None:
                for _ in range(S):
                    await client.get("configmaps", "cm-00001")

            cases: dict[str, Callable[[], Awaitable[None]]] = {
                "floor list": floor_list,
                "kubeops list (one page)": kubeops_list,
                "kubeops list (500/page)": kubeops_list_paged,
                "floor gets": floor_gets,
                "kubeops gets": kubeops_gets,
            }
            samples: dict[str, list[float]] = {k: [] for k in cases}
            for round_ in range(R + 1):
                for name in list(cases) if round_ % 2 else list(reversed(cases)):
                    start = time.perf_counter()
                    await cases[name]()
                    if round_:
                        samples[name].append(time.perf_counter() - start)
            await raw.close()
    med = {k: statistics.median(v) for k, v in samples.items()}
    for name, value in med.items():
        unit = f"{value * 1e6 / S:.0f} us/req" if "gets" in name else f"{value * 1e3:.0f} ms"
        print(f"{name:<24} {unit:>12}")
    print(
        f"list overhead (one page): {med['kubeops list (one page)'] / med['floor list']:.2f}x the floor"
    )
    print(f"get overhead: {med['kubeops gets'] / med['floor gets']:.2f}x the floor")


asyncio.run(main())
