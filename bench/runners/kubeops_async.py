"""kubeops' async ``Client`` and informers, as an asyncio program would use them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _protocol import (
    PAYLOAD,
    LagRecorder,
    Params,
    Result,
    emit,
    main,
    settled_rss,
    store_option,
)

from kubeops.api import Client
from kubeops.cache import SharedInformer, SharedInformerFactory, strip_managed_fields
from kubeops.config import load_config


def _client(p: Params) -> Client:
    return Client(load_config(p.kubeconfig), qps=-1)  # no client-side rate limit


async def s1(p: Params) -> Result:
    async with _client(p) as client:
        start = time.perf_counter()
        items = (await client.list("configmaps", p.namespace))["items"]
        names = [item["metadata"]["name"] for item in items]
        return Result(time.perf_counter() - start, len(names))


async def s2(p: Params) -> Result:
    async with _client(p) as client:
        option, store = store_option(p, SharedInformer)
        informer = SharedInformer(client, "configmaps", namespace=p.namespace, **option)
        start = time.perf_counter()
        informer.start()
        await informer.wait_for_sync()
        elapsed = time.perf_counter() - start
        count = len(informer.store.list_keys())
        await informer.stop()
        return Result(elapsed, count, {"store": store})


async def s3(p: Params) -> Result:
    async with _client(p) as client:
        option, store = store_option(p, SharedInformer)
        informer = SharedInformer(
            client, "configmaps", namespace=p.namespace, label_selector=p.label_selector, **option
        )
        lags = LagRecorder()

        def on_add(obj: dict[str, Any], initial: bool) -> None:
            if not initial:
                lags.record(obj.get("data"))

        def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
            lags.record(new.get("data"))

        registration = informer.add_handler(on_add, on_update)
        informer.start()
        while not registration.has_synced():
            await asyncio.sleep(0.005)
        lags.collecting = True
        emit({"ready": True})
        start = time.perf_counter()
        await asyncio.sleep(p.duration)
        lags.collecting = False
        elapsed = time.perf_counter() - start
        await informer.stop()
        result = lags.result(elapsed)
        result.extra["store"] = store
        return result


async def s4(p: Params) -> Result:
    async with _client(p) as client:
        next_index = iter(range(p.size))

        async def worker() -> int:
            done = 0
            for i in next_index:
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"bench-s4-{i}"},
                    "data": {"payload": PAYLOAD},
                }
                await client.create(body, p.namespace)
                done += 1
            return done

        start = time.perf_counter()
        done = await asyncio.gather(*(worker() for _ in range(p.concurrency)))
        return Result(time.perf_counter() - start, sum(done))


async def s5(p: Params) -> Result:
    async with _client(p) as client:
        start = time.perf_counter()
        for _ in range(p.size):
            await client.get("configmaps", p.name, p.namespace)
        return Result(time.perf_counter() - start, p.size)


async def s6(p: Params) -> Result:
    async with _client(p) as client:
        option, store = store_option(p, SharedInformerFactory)
        factory = SharedInformerFactory(client, transform=strip_managed_fields, **option)
        informer = await factory.informer("pods")
        start = time.perf_counter()
        factory.start()
        await factory.wait_for_cache_sync()
        elapsed = time.perf_counter() - start
        count = len(informer.store.list_keys())
        result = Result(elapsed, count, {"store": store}, rss_bytes=settled_rss())
        await factory.shutdown()
        return result


def _sync(fn: Any) -> Any:
    return lambda p: asyncio.run(fn(p))


if __name__ == "__main__":
    main(
        {
            name: _sync(fn)
            for name, fn in {"S1": s1, "S2": s2, "S3": s3, "S4": s4, "S5": s5, "S6": s6}.items()
        }
    )
