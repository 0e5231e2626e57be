"""``kr8s`` (async API, httpx, objects wrapping the raw dicts).  Its list always pages by
100 and its get is a list with a name field selector: kr8s' own choices, measured as
users get them.  List + watch into a dict stands in for an informer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import kr8s
import kr8s.asyncio
from _protocol import PAYLOAD, LagRecorder, Params, Result, emit, main, run_async, settled_rss
from kr8s.asyncio.objects import ConfigMap, Pod

GRACE = 0.3  # after the list, for the watch request to be on the wire


async def _api(p: Params) -> Any:
    return await kr8s.asyncio.api(kubeconfig=p.kubeconfig)


def _key(obj: Any) -> str:
    meta = obj.raw["metadata"]
    return f"{meta.get('namespace')}/{meta['name']}"


async def _list_and_watch(
    api: Any,
    resource: Any,
    on_event: Callable[[str, Any], None] | None = None,
    transform: Callable[[Any], None] | None = None,
    **options: Any,
) -> tuple[dict[str, Any], asyncio.Task[None]]:
    """List into a dict, then watch from the newest listed version.

    kr8s does not expose the list's resourceVersion; the newest item's is the
    closest it offers (enough on a quiet namespace).
    """
    cache: dict[str, Any] = {}
    newest = 0
    async for item in api.get(resource, **options):
        if transform is not None:
            transform(item)
        cache[_key(item)] = item
        newest = max(newest, int(item.raw["metadata"]["resourceVersion"]))

    async def follow() -> None:
        async for kind, obj in api.watch(resource, since=str(newest), **options):
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
    api = await _api(p)
    start = time.perf_counter()
    names = [obj.name async for obj in api.get(ConfigMap, namespace=p.namespace)]
    return Result(time.perf_counter() - start, len(names))


async def s2(p: Params) -> Result:
    api = await _api(p)
    start = time.perf_counter()
    cache, task = await _list_and_watch(api, ConfigMap, namespace=p.namespace)
    elapsed = time.perf_counter() - start
    task.cancel()
    return Result(elapsed, len(cache))


async def s3(p: Params) -> Result:
    api = await _api(p)
    lags = LagRecorder()

    def on_event(kind: str, obj: Any) -> None:
        if kind in ("ADDED", "MODIFIED"):
            lags.record(obj.raw.get("data"))

    _, task = await _list_and_watch(
        api, ConfigMap, on_event, namespace=p.namespace, label_selector=p.label_selector
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
    api = await _api(p)
    next_index = iter(range(p.size))

    async def worker() -> int:
        done = 0
        for i in next_index:
            body = {"metadata": {"name": f"bench-s4-{i}"}, "data": {"payload": PAYLOAD}}
            await ConfigMap(body, namespace=p.namespace, api=api).create()
            done += 1
        return done

    start = time.perf_counter()
    done = await asyncio.gather(*(worker() for _ in range(p.concurrency)))
    return Result(time.perf_counter() - start, sum(done))


async def s5(p: Params) -> Result:
    api = await _api(p)
    start = time.perf_counter()
    for _ in range(p.size):
        await ConfigMap.get(p.name, namespace=p.namespace, api=api)
    return Result(time.perf_counter() - start, p.size)


async def s6(p: Params) -> Result:
    api = await _api(p)

    def drop_managed_fields(pod: Any) -> None:
        pod.raw["metadata"].pop("managedFields", None)

    start = time.perf_counter()
    cache, task = await _list_and_watch(api, Pod, transform=drop_managed_fields, namespace=kr8s.ALL)
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
