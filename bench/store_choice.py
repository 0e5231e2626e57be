"""Which store an informer keeps its objects in: memory and access time, measured.

Candidates (each in a fresh subprocess, so RSS is that candidate's alone):

* ``dict``: the decoded dicts, as orjson produced them (kubeops.cache.Store).
* ``interned``: the same dicts with every string value interned, so the values
  all Pods repeat (phase, image, node, condition types) are held once.
* ``compact``: orjson bytes, decoded on read (kubeops.cache.CompactStore).

The objects are shaped like Pods a kwok cluster runs (API server defaults,
status with conditions and container statuses, managedFields dropped) and
arrive as an informer gets them: a list body decoded in pages of 500 and fed
through the informer's delta FIFO into the store.  Reported per candidate:
RSS after the fill above that of the process before it (gc + malloc_trim, as
bench/runners settle it; tracemalloc is not used, its own bookkeeping would
double the figure), and the CPU time (process time: the machine may be shared) of a fill, a lister get (cold and hot), a
lister list (all, by a label selector, by namespace, by both) and an update.

    .venv/bin/python bench/store_choice.py [--sizes 10000,100000] [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import random
import subprocess
import sys
import time
from typing import Any

import orjson

CANDIDATES = ("dict", "interned", "compact")
PAGE = 500
PER_NAMESPACE = 100
NODES = 100


def kwok_pod(i: int) -> dict[str, Any]:
    """Pod ``i`` as the API server returns it once kwok has run it (managedFields dropped)."""
    app = f"app-{i % 50}"
    ns = f"bench-pods-{i // PER_NAMESPACE}"
    node = f"kwok-node-{i % NODES}"
    stamp = f"2026-12-04T21:{i // 3600 % 60:02d}:{i // 60 % 60:02d}Z"
    ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    uid = f"{i:08x}-1c2d-4e5f-8a9b-{random.getrandbits(48):012x}"
    ready = {"lastProbeTime": None, "lastTransitionTime": stamp, "status": "True"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"pod-{i}",
            "namespace": ns,
            "uid": uid,
            "resourceVersion": str(100000 + i),
            "creationTimestamp": stamp,
            "labels": {"app": app, "pod-template-hash": "5d4b8c7f9", "tier": "backend"},
            "annotations": {"bench.kubeops.dev/index": str(i)},
        },
        "spec": {
            "volumes": [
                {
                    "name": f"kube-api-access-{uid[-5:]}",
                    "projected": {
                        "sources": [
                            {
                                "serviceAccountToken": {
                                    "expirationSeconds": 3607,
                                    "path": "token",
                                }
                            },
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {
                                                "apiVersion": "v1",
                                                "fieldPath": "metadata.namespace",
                                            },
                                        }
                                    ]
                                }
                            },
                        ],
                        "defaultMode": 420,
                    },
                }
            ],
            "containers": [
                {
                    "name": "app",
                    "image": f"registry.example/{app}:1.2.3",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "env": [{"name": "APP", "value": app}, {"name": "LOG_LEVEL", "value": "info"}],
                    "resources": {
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                    },
                    "volumeMounts": [
                        {
                            "name": f"kube-api-access-{uid[-5:]}",
                            "readOnly": True,
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        }
                    ],
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                        "timeoutSeconds": 1,
                        "periodSeconds": 10,
                        "successThreshold": 1,
                        "failureThreshold": 3,
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "nodeName": node,
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"},
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": kind, **ready}
                for kind in (
                    "Initialized",
                    "Ready",
                    "ContainersReady",
                    "PodScheduled",
                    "PodReadyToStartContainers",
                )
            ],
            "hostIP": f"10.0.{i % NODES // 256}.{i % NODES % 256}",
            "hostIPs": [{"ip": f"10.0.{i % NODES // 256}.{i % NODES % 256}"}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": stamp,
            "containerStatuses": [
                {
                    "name": "app",
                    "state": {"running": {"startedAt": stamp}},
                    "lastState": {},
                    "ready": True,
                    "restartCount": 0,
                    "image": f"registry.example/{app}:1.2.3",
                    "imageID": "",
                    "started": True,
                }
            ],
            "qosClass": "Burstable",
        },
    }


def _intern(value: Any) -> Any:
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, dict):
        return {sys.intern(k): _intern(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_intern(v) for v in value]
    return value


def _settled_rss() -> int:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as statm:
        import os

        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _best(fn: Any, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


async def _fill(candidate: str, pages: list[bytes]) -> Any:
    """Feed the pages through an informer's FIFO and handler into the candidate store."""
    from kubeops.cache import DeltaFIFO, SharedInformer, strip_managed_fields
    from kubeops.cache.store import make_store

    informer = SharedInformer.__new__(SharedInformer)  # no client: only the delta path runs
    informer.store = make_store("dict" if candidate == "interned" else candidate)  # type: ignore[arg-type]
    transform = (
        (lambda obj: _intern(strip_managed_fields(obj)))
        if candidate == "interned"
        else strip_managed_fields
    )
    informer.fifo = DeltaFIFO(known_objects=informer.store, transform=transform)
    informer._registrations = []
    informer.kind = "pods"
    items: list[Any] = []
    for page in pages:  # a paged list: only one page decoded at a time
        items.extend(orjson.loads(page)["items"])
    informer.fifo.replace(items, "1")
    del items
    while len(informer.fifo):
        await informer.fifo.pop(informer._handle_deltas)
    informer.store.repack()  # as SharedInformer does once synced
    return informer


def child(candidate: str, size: int, reps: int) -> dict[str, Any]:
    """One candidate at one size; runs in its own process."""
    import kubeops.cache  # noqa: F401  (its import is not the store's cost)

    random.seed(size)
    base_rss = _settled_rss()
    pages = [
        orjson.dumps({"items": [kwok_pod(i) for i in range(start, min(size, start + PAGE))]})
        for start in range(0, size, PAGE)
    ]
    encoded = sum(len(p) for p in pages)
    start = time.process_time()
    informer = asyncio.run(_fill(candidate, pages))
    fill = time.process_time() - start
    del pages
    rss = _settled_rss() - base_rss
    store = informer.store
    lister = informer.lister()
    keys = store.list_keys()
    sample = random.sample(keys, 1000)
    hot = sample[:50]

    def get_cold() -> None:
        for key in sample:
            ns, name = key.split("/")
            lister.get(ns, name)

    def get_hot() -> None:
        for _ in range(20):
            for key in hot:
                ns, name = key.split("/")
                lister.get(ns, name)

    namespaces = [f"bench-pods-{k}" for k in range(0, size // PER_NAMESPACE, 7)][:100]

    def by_namespace() -> None:
        for ns in namespaces:
            lister.namespaced(ns).list()

    def by_selector() -> None:
        lister.list("app=app-7")  # 1 Pod in 50

    def by_namespace_and_selector() -> None:
        for ns in namespaces:
            lister.namespaced(ns).list("app=app-7")

    updates = []
    for key in sample:
        new = dict(store.get_by_key(key) or {})
        new["metadata"] = {**new["metadata"], "resourceVersion": "9"}
        updates.append((key, new))
    store.replace(store.list())  # drop what the reads above left decoded

    def update() -> None:
        # What the informer does per MODIFIED event: store the new object, get the old
        # one back for the handler's on_update(old, new).
        for key, new in updates:
            store.put(key, new)

    return {
        "candidate": candidate,
        "size": size,
        "encoded_mib": encoded / 2**20,
        "rss_mib": rss / 2**20,
        "fill_ms": fill * 1000,
        "get_cold_us": _best(get_cold, reps) / len(sample) * 1e6,
        "get_hot_us": _best(get_hot, reps) / (20 * len(hot)) * 1e6,
        "list_ms": _best(lister.list, reps) * 1000,
        "ns_list_us": _best(by_namespace, reps) / len(namespaces) * 1e6,
        "selector_list_ms": _best(by_selector, reps) * 1000,
        "ns_selector_list_us": _best(by_namespace_and_selector, reps) / len(namespaces) * 1e6,
        "update_us": _best(update, 1) / len(sample) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--child", nargs=2, metavar=("CANDIDATE", "SIZE"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.reps)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for candidate in args.candidates.split(","):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    candidate,
                    str(size),
                    "--reps",
                    str(args.reps),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows.append(json.loads(out))
            print(json.dumps(rows[-1]), file=sys.stderr)
    head = (
        "| Pods | store | RSS MiB | fill ms | get cold µs | get hot µs "
        "| list ms | ns list µs (100 Pods) | selector list ms (1 in 50) "
        "| ns + selector list µs | update µs |"
    )
    print(head)
    print("|---" * 11 + "|")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['candidate']} | {r['rss_mib']:.0f} "
            f"| {r['fill_ms']:.0f} | {r['get_cold_us']:.1f} | {r['get_hot_us']:.2f} "
            f"| {r['list_ms']:.1f} | {r['ns_list_us']:.0f} | {r['selector_list_ms']:.1f} "
            f"| {r['ns_selector_list_us']:.0f} | {r['update_us']:.1f} |"
        )


if __name__ == "__main__":
    main()
