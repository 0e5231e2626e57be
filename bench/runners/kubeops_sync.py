"""kubeops' blocking ``SyncClient`` and ``SyncInformer``, as threaded code would use them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
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

from kubeops.api import SyncClient
from kubeops.cache import SyncInformer, strip_managed_fields
from kubeops.config import load_config


def _client(p: Params) -> SyncClient:
    return SyncClient(load_config(p.kubeconfig), qps=-1)  # no client-side rate limit


def s1(p: Params) -> Result:
    with _client(p) as client:
        start = time.perf_counter()
        items = client.list("configmaps", p.namespace)["items"]
        names = [item["metadata"]["name"] for item in items]
        return Result(time.perf_counter() - start, len(names))


def s2(p: Params) -> Result:
    with _client(p) as client:
        option, store = store_option(p, SyncInformer)
        informer = SyncInformer(client, "configmaps", namespace=p.namespace, **option)
        start = time.perf_counter()
        informer.start()
        informer.wait_for_sync()
        elapsed = time.perf_counter() - start
        count = len(informer.informer.store.list_keys())
        informer.stop()
        return Result(elapsed, count, {"store": store})


def s3(p: Params) -> Result:
    with _client(p) as client:
        option, store = store_option(p, SyncInformer)
        informer = SyncInformer(
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
            time.sleep(0.005)
        lags.collecting = True
        emit({"ready": True})
        start = time.perf_counter()
        time.sleep(p.duration)
        lags.collecting = False
        elapsed = time.perf_counter() - start
        informer.stop()
        result = lags.result(elapsed)
        result.extra["store"] = store
        return result


def s4(p: Params) -> Result:
    with _client(p) as client:

        def create(i: int) -> None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"bench-s4-{i}"},
                "data": {"payload": PAYLOAD},
            }
            client.create(body, p.namespace)

        with ThreadPoolExecutor(p.concurrency) as pool:
            start = time.perf_counter()
            done = sum(1 for _ in pool.map(create, range(p.size)))
            return Result(time.perf_counter() - start, done)


def s5(p: Params) -> Result:
    with _client(p) as client:
        start = time.perf_counter()
        for _ in range(p.size):
            client.get("configmaps", p.name, p.namespace)
        return Result(time.perf_counter() - start, p.size)


def s6(p: Params) -> Result:
    with _client(p) as client:
        option, store = store_option(p, SyncInformer)
        informer = SyncInformer(client, "pods", transform=strip_managed_fields, **option)
        start = time.perf_counter()
        informer.start()
        informer.wait_for_sync()
        elapsed = time.perf_counter() - start
        count = len(informer.informer.store.list_keys())
        result = Result(elapsed, count, {"store": store}, rss_bytes=settled_rss())
        informer.stop()
        return result


if __name__ == "__main__":
    main({"S1": s1, "S2": s2, "S3": s3, "S4": s4, "S5": s5, "S6": s6})
