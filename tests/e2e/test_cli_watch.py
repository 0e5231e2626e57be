"""`kubeops watch` keeps reporting through an API server restart and a compaction."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from typing import Any

from kubeops.testenv import Cluster, Environment, eventually


def _reader(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _next_event(
    lines: queue.Queue[str], name: str, kind: str, timeout: float = 60
) -> dict[str, Any]:

    def matching() -> dict[str, Any] | None:
        event = json.loads(lines.get(timeout=1))  # queue.Empty: nothing yet
        if event["type"] == kind and event["object"]["metadata"]["name"] == name:
            return dict(event)
        return None

    return eventually(
        matching,
        timeout=timeout,
        interval=0,
        message=f"a {kind} event for {name}",
        ignore=(queue.Empty,),
    )


def test_watch_jsonl_survives_restart_and_compaction(
    kube_env: Environment, kube_cluster: Cluster, kube_namespace: str
) -> None:
    watch = subprocess.Popen(
        [sys.executable, "-m", "kubeops", "watch", "configmaps", "-n", kube_namespace, "-o", "jsonl",
         "--kubeconfig", str(kube_cluster.kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(watch.stdout, lines), daemon=True).start()
    admin = kube_cluster.admin
    path = f"/api/v1/namespaces/{kube_namespace}/configmaps"
    try:
        admin.create(path, {"metadata": {"name": "a"}, "data": {"v": "1"}})
        added = _next_event(lines, "a", "ADDED")
        assert added["object"]["kind"] == "ConfigMap"
        current = admin.get(f"{path}/a")
        admin.request("PUT", f"{path}/a", {**current, "data": {"v": "2"}})
        assert _next_event(lines, "a", "MODIFIED")["object"]["data"] == {"v": "2"}

        kube_env.compact()  # the API server restarts; old resourceVersions are gone
        admin.delete(f"{path}/a")
        deleted = _next_event(lines, "a", "DELETED")
        assert deleted["object"]["data"] == {"v": "2"}  # the last known state
        admin.create(path, {"metadata": {"name": "b"}})
        _next_event(lines, "b", "ADDED")
    finally:
        watch.terminate()
        watch.wait(10)
