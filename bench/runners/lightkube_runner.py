"""``lightkube``'s AsyncClient (httpx2, lazily decoded models); list + watch into a dict
stands in for an informer, which it does not have."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx2
from _protocol import (
    PAYLOAD,
    LagRecorder,
    Params,
    Result,
    emit,
    main,
    run_async,
    selector_dict,
    settled_rss,
)
from lightkube import ALL_NS, AsyncClient, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Pod

GRACE = 0.3  # after the list, for the watch request to be on the wire


def _client(p: Params) -> AsyncClient:
    return AsyncClient(KubeConfig.from_file(p.kubeconfig), timeout=httpx2.Timeout(120.0))


def _key(obj: Any) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


async def _list_and_watch(
    client: AsyncClient,
    resource: Any,
    on_event: Callable[[str, Any], None] | None = None,
    transform: Callable[[Any], None] | None = None,
    **options: Any,
) -> tuple[dict[str, Any], asyncio.Task[None]]:
    """List into a dict, then keep it current from a watch that starts at the list's version."""
    listing = client.list(resource, **options)
    cache: dict[str, Any] = {}
    async for item in listing:
        if transform is not None:
            transform(item)
        cache[_key(item)] = item
    version = listing.resourceVersion

    async def follow() -> None:
        async for kind, obj in client.watch(resource, resource_version=version, **options):
            if on_event is not None:
                on_event(kind, obj)
            if kind == "DELETED":
                cache.pop(_key(obj), None)
            elif kind in ("ADDED", "MODIFIED"):
                if transform is not None:
                    transform(obj)
                cache[_key(obj)] = obj

    return cache, asyncio.create_task(follow())


async def s1(p: Params) -> Result:
    client = _client(p)
    start = time.perf_counter()
    names = [item.metadata.name async for item in client.list(ConfigMap, namespace=p.namespace)]
    return Result(time.perf_counter() - start, len(names))


async def s2(p: Params) -> Result:
    client = _client(p)
    start = time.perf_counter()
    cache, task = await _list_and_watch(client, ConfigMap, namespace=p.namespace)
    elapsed = time.perf_counter() - start
    task.cancel()
    return Result(elapsed, len(cache))


async def s3(p: Params) -> Result:
    client = _client(p)
    lags = LagRecorder()

    def on_event(kind: str, obj: Any) -> None:
        if kind in ("ADDED", "MODIFIED"):
            lags.record(obj.data)

    _, task = await _list_and_watch(
        client,
        ConfigMap,
        on_event,
        namespace=p.namespace,
        labels=selector_dict(p.label_selector),
    )
    await asyncio.sleep(GRACE)
    lags.collecting = True
    emit({"ready": True})
    start = time.perf_counter()
    await asyncio.sleep(p.duration)
    lags.collecting = False
    elapsed = time.perf_counter() - start
    task.cancel()
    return lags.result(elapsed)


async def s4(p: Params) -> Result:
    client = _client(p)
    next_index = iter(range(p.size))

    async def worker() -> int:
        done = 0
        for i in next_index:
            body = ConfigMap(metadata=ObjectMeta(name=f"bench-s4-{i}"), data={"payload": PAYLOAD})
            await client.create(body, namespace=p.namespace)
            done += 1
        return done

    start = time.perf_counter()
    done = await asyncio.gather(*(worker() for _ in range(p.concurrency)))
    return Result(time.perf_counter() - start, sum(done))


async def s5(p: Params) -> Result:
    client = _client(p)
    start = time.perf_counter()
    for _ in range(p.size):
        await client.get(ConfigMap, p.name, namespace=p.namespace)
    return Result(time.perf_counter() - start, p.size)


async def s6(p: Params) -> Result:
    client = _client(p)

    def drop_managed_fields(pod: Any) -> None:
        pod.metadata.managedFields = None

    start = time.perf_counter()
    cache, task = await _list_and_watch(
        client, Pod, transform=drop_managed_fields, namespace=ALL_NS
    )
    elapsed = time.perf_counter() - start
    result = Result(elapsed, len(cache), {"managed_fields_dropped": True}, settled_rss())
    task.cancel()
    return result


if __name__ == "__main__":
    main(
        {
            k: run_async(v)
            for k, v in {"S1": s1, "S2": s2, "S3": s3, "S4": s4, "S5": s5, "S6": s6}.items()
        }
    )
