"""``kubernetes_asyncio``: the generated typed client on aiohttp; list + watch into a dict
stands in for an informer, which it does not have."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _protocol import PAYLOAD, LagRecorder, Params, Result, emit, main, run_async, settled_rss
from kubernetes_asyncio import client, config, watch

GRACE = 0.3  # after the list, for the watch request to be on the wire


async def _api(p: Params) -> client.CoreV1Api:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=p.kubeconfig, client_configuration=configuration)
    configuration.connection_pool_maxsize = max(100, p.concurrency)
    return client.CoreV1Api(client.ApiClient(configuration))


def _key(obj: Any) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


async def _list_and_watch(
    list_func: Callable[..., Awaitable[Any]],
    on_event: Callable[[str, Any], None] | None = None,
    transform: Callable[[Any], None] | None = None,
    **options: Any,
) -> tuple[dict[str, Any], asyncio.Task[None]]:
    """List into a dict, then keep it current from a watch that starts at the list's version."""
    listed = await list_func(**options)
    cache: dict[str, Any] = {}
    for item in listed.items:
        if transform is not None:
            transform(item)
        cache[_key(item)] = item

    async def follow() -> None:
        stream = watch.Watch().stream(
            list_func, resource_version=listed.metadata.resource_version, **options
        )
        async for event in stream:
            obj = event["object"]
            if on_event is not None:
                on_event(event["type"], obj)
            if event["type"] == "DELETED":
                cache.pop(_key(obj), None)
            elif event["type"] in ("ADDED", "MODIFIED"):
                if transform is not None:
                    transform(obj)
                cache[_key(obj)] = obj

    return cache, asyncio.create_task(follow())


async def s1(p: Params) -> Result:
    v1 = await _api(p)
    start = time.perf_counter()
    items = (await v1.list_namespaced_config_map(p.namespace)).items
    names = [item.metadata.name for item in items]
    return Result(time.perf_counter() - start, len(names))


async def s2(p: Params) -> Result:
    v1 = await _api(p)
    start = time.perf_counter()
    cache, task = await _list_and_watch(v1.list_namespaced_config_map, namespace=p.namespace)
    elapsed = time.perf_counter() - start
    task.cancel()
    return Result(elapsed, len(cache))


async def s3(p: Params) -> Result:
    v1 = await _api(p)
    lags = LagRecorder()

    def on_event(kind: str, obj: Any) -> None:
        if kind in ("ADDED", "MODIFIED"):
            lags.record(obj.data)

    _, task = await _list_and_watch(
        v1.list_namespaced_config_map,
        on_event,
        namespace=p.namespace,
        label_selector=p.label_selector,
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
    v1 = await _api(p)
    next_index = iter(range(p.size))

    async def worker() -> int:
        done = 0
        for i in next_index:
            body = client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"bench-s4-{i}"), data={"payload": PAYLOAD}
            )
            await v1.create_namespaced_config_map(p.namespace, body)
            done += 1
        return done

    start = time.perf_counter()
    done = await asyncio.gather(*(worker() for _ in range(p.concurrency)))
    return Result(time.perf_counter() - start, sum(done))


async def s5(p: Params) -> Result:
    v1 = await _api(p)
    start = time.perf_counter()
    for _ in range(p.size):
        await v1.read_namespaced_config_map(p.name, p.namespace)
    return Result(time.perf_counter() - start, p.size)


async def s6(p: Params) -> Result:
    v1 = await _api(p)

    def drop_managed_fields(pod: Any) -> None:
        pod.metadata.managed_fields = None

    start = time.perf_counter()
    cache, task = await _list_and_watch(
        v1.list_pod_for_all_namespaces, transform=drop_managed_fields
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
