"""Which HTTP library should kubeops' transport use?  Measured, not assumed.

Against one API-only testenv cluster holding N ConfigMaps (~1 KiB each), each
candidate does: one LIST of all of them (bytes in, JSON decoded with orjson),
and S sequential GETs of one object.  Medians of R rounds, alternating order.
Run: .venv/bin/python bench/transport_choice.py [N] [S] [R]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import orjson

from kubeops.testenv import Environment
from kubeops.testenv.admin import admin_ssl_context

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
S = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
R = int(sys.argv[3]) if len(sys.argv) > 3 else 5
NS = "/api/v1/namespaces/default/configmaps"


async def populate(server: str, tls: object) -> None:
    payload = "x" * 1000
    conn = aiohttp.TCPConnector(ssl=tls, limit=32)  # type: ignore[arg-type]
    async with aiohttp.ClientSession(server, connector=conn) as session:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with sem:
                body = {"metadata": {"name": f"cm-{i:05d}"}, "data": {"payload": payload}}
                async with session.post(
                    NS, data=orjson.dumps(body), headers={"Content-Type": "application/json"}
                ) as r:
                    assert r.status in (201, 409), await r.text()

        await asyncio.gather(*(one(i) for i in range(N)))


def timed(fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        start = time.perf_counter()
        await fn()
        return time.perf_counter() - start

    return run


async def main() -> None:
    with Environment(api_only=True) as env:
        cluster = env.cluster()
        tls = admin_ssl_context(cluster.pki)
        server = cluster.server
        await populate(server, tls)
        print(f"{N} configmaps created", file=sys.stderr)

        hx1 = httpx.AsyncClient(base_url=server, verify=tls, timeout=60)
        hx2 = httpx.AsyncClient(base_url=server, verify=tls, timeout=60, http2=True)
        aio = aiohttp.ClientSession(server, connector=aiohttp.TCPConnector(ssl=tls))

        async def hx_list(c: httpx.AsyncClient) -> None:
            r = await c.get(NS)
            assert len(orjson.loads(r.content)["items"]) == N

        async def hx_gets(c: httpx.AsyncClient) -> None:
            for _ in range(S):
                r = await c.get(f"{NS}/cm-00001")
                orjson.loads(r.content)

        async def aio_list() -> None:
            async with aio.get(NS) as r:
                assert len(orjson.loads(await r.read())["items"]) == N

        async def aio_gets() -> None:
            for _ in range(S):
                async with aio.get(f"{NS}/cm-00001") as r:
                    orjson.loads(await r.read())

        cases: dict[str, Callable[[], Awaitable[float]]] = {
            "httpx h1 list": timed(lambda: hx_list(hx1)),
            "httpx h2 list": timed(lambda: hx_list(hx2)),
            "aiohttp list": timed(aio_list),
            "httpx h1 gets": timed(lambda: hx_gets(hx1)),
            "httpx h2 gets": timed(lambda: hx_gets(hx2)),
            "aiohttp gets": timed(aio_gets),
        }
        samples: dict[str, list[float]] = {k: [] for k in cases}
        for round_ in range(R + 1):
            order = list(cases) if round_ % 2 else list(reversed(cases))
            for name in order:
                t = await cases[name]()
                if round_:  # round 0 warms connections up
                    samples[name].append(t)
        for name, values in samples.items():
            med = statistics.median(values)
            unit = f"{med * 1e6 / S:.0f} us/req" if "gets" in name else f"{med * 1e3:.0f} ms"
            print(f"{name:<15} median {unit:>12}  (min {min(values):.3f}s max {max(values):.3f}s)")
        await hx1.aclose()
        await hx2.aclose()
        await aio.close()


asyncio.run(main())
