"""The official ``kubernetes`` client (blocking, typed models; its own SharedInformer)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _protocol import PAYLOAD, LagRecorder, Params, Result, emit, main, settled_rss
from kubernetes import client, config, informer, watch

GRACE = 0.3  # after the list, for the informer's watch request to be on the wire


def _api(p: Params, pool: int = 0) -> client.CoreV1Api:
    configuration = client.Configuration()
    config.load_kube_config(config_file=p.kubeconfig, client_configuration=configuration)
    if pool:
        configuration.connection_pool_maxsize = pool  # one connection per thread, as asked
    return client.CoreV1Api(client.ApiClient(configuration))


def _synced_informer(
    list_func: Any, expected: int, on_added: Any = None, **options: Any
) -> tuple[informer.SharedInformer, threading.Event]:
    """The informer has no has_synced: synced is when the first list's ADDED events are all in."""
    shared = informer.SharedInformer(list_func, **options)
    synced = threading.Event()
    seen = 0

    def added(obj: Any) -> None:
        nonlocal seen
        if on_added is not None:
            on_added(obj)
        seen += 1
        if seen >= expected:
            synced.set()

    shared.add_event_handler(informer.ADDED, added)
    if expected == 0:
        synced.set()
    return shared, synced


def s1(p: Params) -> Result:
    v1 = _api(p)
    start = time.perf_counter()
    items = v1.list_namespaced_config_map(p.namespace).items
    names = [item.metadata.name for item in items]
    return Result(time.perf_counter() - start, len(names))


def s2(p: Params) -> Result:
    v1 = _api(p)
    shared, synced = _synced_informer(v1.list_namespaced_config_map, p.size, namespace=p.namespace)
    start = time.perf_counter()
    shared.start()
    synced.wait()
    elapsed = time.perf_counter() - start
    # No stop(): it joins a thread blocked reading an idle watch; the daemon ends with us.
    return Result(elapsed, len(shared.cache.list_keys()))


def s3(p: Params) -> Result:
    v1 = _api(p)
    shared, synced = _synced_informer(
        v1.list_namespaced_config_map,
        p.size,
        namespace=p.namespace,
        label_selector=p.label_selector,
    )
    lags = LagRecorder()
    shared.add_event_handler(informer.MODIFIED, lambda obj: lags.record(obj.data))
    shared.start()
    synced.wait()
    time.sleep(GRACE)
    lags.collecting = True
    emit({"ready": True})
    start = time.perf_counter()
    time.sleep(p.duration)
    lags.collecting = False
    elapsed = time.perf_counter() - start
    return lags.result(elapsed)  # the informer's daemon thread ends with the process


def s4(p: Params) -> Result:
    v1 = _api(p, pool=p.concurrency)

    def create(i: int) -> None:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"bench-s4-{i}"), data={"payload": PAYLOAD}
        )
        v1.create_namespaced_config_map(p.namespace, body)

    with ThreadPoolExecutor(p.concurrency) as pool:
        start = time.perf_counter()
        done = sum(1 for _ in pool.map(create, range(p.size)))
        return Result(time.perf_counter() - start, done)


def s5(p: Params) -> Result:
    v1 = _api(p)
    start = time.perf_counter()
    for _ in range(p.size):
        v1.read_namespaced_config_map(p.name, p.namespace)
    return Result(time.perf_counter() - start, p.size)


def s6(p: Params) -> Result:
    v1 = _api(p)

    def drop_managed_fields(pod: Any) -> None:
        pod.metadata.managed_fields = None  # no transform hook: the cached model is edited

    shared, synced = _synced_informer(
        v1.list_pod_for_all_namespaces, p.size, on_added=drop_managed_fields
    )
    start = time.perf_counter()
    shared.start()
    synced.wait()
    elapsed = time.perf_counter() - start
    count = len(shared.cache.list_keys())
    return Result(elapsed, count, {"managed_fields_dropped": True}, rss_bytes=settled_rss())


def s9(p: Params) -> Result:
    """The loop a user writes instead of a respond rule: watch the ConfigMaps, and for a
    modified probe post the same webhook kubeops' notify action posts.  Runs until the
    harness stops it (SIGTERM), re-watching when the server closes the watch."""
    import json

    import urllib3

    v1 = _api(p)
    http = urllib3.PoolManager()
    headers = {"Content-Type": "application/json"}
    emit({"ready": True})
    while True:
        for event in watch.Watch().stream(v1.list_namespaced_config_map, p.namespace):
            obj = event["object"]
            data = obj.data or {}
            if event["type"] == "MODIFIED" and data.get("kind") == "probe":
                body = {
                    "rule": "s9-probe",
                    "message": data.get("seq", ""),
                    "object": {"kind": "ConfigMap", "name": obj.metadata.name,
                               "namespace": obj.metadata.namespace, "uid": obj.metadata.uid},
                }  # fmt: skip
                http.request("POST", p.url, body=json.dumps(body).encode(), headers=headers)


def s10(p: Params) -> Result:
    """The sync loop a user writes by hand today: watch the source's Deployments and, for
    each event, apply the object (server-side, marks as the engine's) to every target in
    turn, or delete it.  A failed write is logged and skipped, as such loops do: nothing
    remembers it.  Runs until the harness stops it (SIGTERM)."""
    import sys

    from _s10 import desired, ready_then_wait

    def apps(kubeconfig: str) -> client.AppsV1Api:
        configuration = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        return client.AppsV1Api(client.ApiClient(configuration))

    source = apps(p.kubeconfig)
    targets = [apps(path) for path in p.targets]
    ready_then_wait()
    while True:
        for event in watch.Watch().stream(source.list_namespaced_deployment, p.namespace):
            obj = source.api_client.sanitize_for_serialization(event["object"])
            name = obj["metadata"]["name"]
            for target in targets:
                try:
                    if event["type"] == "DELETED":
                        target.delete_namespaced_deployment(name, p.namespace)
                    else:
                        target.patch_namespaced_deployment(
                            name,
                            p.namespace,
                            desired(obj, p.source_cluster),
                            field_manager="s10-hand-written",
                            force=True,
                            _content_type="application/apply-patch+yaml",
                        )
                except Exception as err:
                    print(f"{name}: {type(err).__name__}: {err}"[:300], file=sys.stderr)


if __name__ == "__main__":
    main({"S1": s1, "S2": s2, "S3": s3, "S4": s4, "S5": s5, "S6": s6, "S9": s9, "S10": s10})
