"""The Python client floor: raw aiohttp requests and orjson decoding of the same bytes,
with nothing a client adds (no models, no retries, no limiter).  No kubeops import:
the floor must not share the code it judges."""

from __future__ import annotations

import asyncio
import base64
import ssl
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from _protocol import PAYLOAD, LagRecorder, Params, Result, emit, main, settled_rss

GRACE = 0.3  # after the list, for the watch request to be on the wire


def _connection(kubeconfig: str) -> tuple[str, ssl.SSLContext]:
    """Server and TLS context of the kubeconfig's current context (inline data, as testenv writes)."""
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    context = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])["context"]
    cluster = next(c for c in doc["clusters"] if c["name"] == context["cluster"])["cluster"]
    user = next(u for u in doc["users"] if u["name"] == context["user"])["user"]
    tls = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "cert"), Path(tmp, "key")
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        tls.load_cert_chain(cert, key)
    return cluster["server"], tls


def _session(p: Params) -> aiohttp.ClientSession:
    server, tls = _connection(p.kubeconfig)
    return aiohttp.ClientSession(server, connector=aiohttp.TCPConnector(ssl=tls, limit=100))


def _configmaps(p: Params) -> str:
    return f"/api/v1/namespaces/{p.namespace}/configmaps"


async def _get(session: aiohttp.ClientSession, path: str, **params: str) -> Any:
    async with session.get(path, params=params) as response:
        response.raise_for_status()
        return orjson.loads(await response.read())


async def _list_and_watch(
    session: aiohttp.ClientSession,
    path: str,
    on_event: Callable[[str, Any], None] | None = None,
    transform: Callable[[Any], None] | None = None,
    params: dict[str, str] | None = None,
) -> tuple[dict[str, Any], asyncio.Task[None]]:
    params = params or {}
    listed = await _get(session, path, **params)
    cache: dict[str, Any] = {}
    for item in listed["items"]:
        if transform is not None:
            transform(item)
        cache[f"{item['metadata'].get('namespace')}/{item['metadata']['name']}"] = item
    version = listed["metadata"]["resourceVersion"]

    async def follow() -> None:
        watch = {**params, "watch": "1", "resourceVersion": version}
        async with session.get(path, params=watch, timeout=aiohttp.ClientTimeout()) as response:
            async for line in response.content:
                event = orjson.loads(line)
                obj = event["object"]
                if on_event is not None:
                    on_event(event["type"], obj)
                key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
                if event["type"] == "DELETED":
                    cache.pop(key, None)
                elif event["type"] in ("ADDED", "MODIFIED"):
                    if transform is not None:
                        transform(obj)
                    cache[key] = obj

    return cache, asyncio.create_task(follow())


async def s1(p: Params) -> Result:
    async with _session(p) as session:
        start = time.perf_counter()
        items = (await _get(session, _configmaps(p)))["items"]
        names = [item["metadata"]["name"] for item in items]
        return Result(time.perf_counter() - start, len(names))


async def s2(p: Params) -> Result:
    async with _session(p) as session:
        start = time.perf_counter()
        cache, task = await _list_and_watch(session, _configmaps(p))
        elapsed = time.perf_counter() - start
        task.cancel()
        return Result(elapsed, len(cache))


async def s3(p: Params) -> Result:
    async with _session(p) as session:
        lags = LagRecorder()

        def on_event(kind: str, obj: Any) -> None:
            if kind in ("ADDED", "MODIFIED"):
                lags.record(obj.get("data"))

        params = {"labelSelector": p.label_selector} if p.label_selector else {}
        _, task = await _list_and_watch(session, _configmaps(p), on_event, params=params)
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
    async with _session(p) as session:
        next_index = iter(range(p.size))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}

        async def worker() -> int:
            done = 0
            for i in next_index:
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"bench-s4-{i}"},
                    "data": {"payload": PAYLOAD},
                }
                async with session.post(
                    _configmaps(p), data=orjson.dumps(body), headers=headers
                ) as response:
                    response.raise_for_status()
                    orjson.loads(await response.read())
                done += 1
            return done

        start = time.perf_counter()
        done = await asyncio.gather(*(worker() for _ in range(p.concurrency)))
        return Result(time.perf_counter() - start, sum(done))


async def s5(p: Params) -> Result:
    async with _session(p) as session:
        path = f"{_configmaps(p)}/{p.name}"
        start = time.perf_counter()
        for _ in range(p.size):
            await _get(session, path)
        return Result(time.perf_counter() - start, p.size)


async def s6(p: Params) -> Result:
    async with _session(p) as session:

        def drop_managed_fields(pod: Any) -> None:
            pod["metadata"].pop("managedFields", None)

        start = time.perf_counter()
        cache, task = await _list_and_watch(session, "/api/v1/pods", transform=drop_managed_fields)
        elapsed = time.perf_counter() - start
        result = Result(elapsed, len(cache), {"managed_fields_dropped": True}, settled_rss())
        task.cancel()
        return result


def _run(fn: Callable[[Params], Coroutine[Any, Any, Result]]) -> Callable[[Params], Result]:
    return lambda p: asyncio.run(fn(p))


if __name__ == "__main__":
    main(
        {
            k: _run(v)
            for k, v in {"S1": s1, "S2": s2, "S3": s3, "S4": s4, "S5": s5, "S6": s6}.items()
        }
    )
