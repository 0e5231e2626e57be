"""Two replicas of the example controller share one lease: one leads, the other takes over."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kubeops.testenv import Cluster, eventually

EXAMPLE = Path(__file__).parents[2] / "examples" / "leader_elected_controller.py"
LEASE, RENEW, RETRY = 3.0, 2.0, 0.5


class Replica:
    def __init__(self, cluster: Cluster, namespace: str, identity: str) -> None:
        self.identity = identity
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--kubeconfig", str(cluster.kubeconfig), "--namespace", namespace,
             "--lease", "mirror", "--identity", identity, "--lease-duration", str(LEASE),
             "--renew-deadline", str(RENEW), "--retry-period", str(RETRY)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.rstrip()))

    def drain(self) -> list[tuple[float, str]]:
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen

    def said(self, text: str) -> float | None:
        return next((t for t, line in self.drain() if text in line), None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def test_one_replica_leads_and_the_other_takes_over(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    admin = kube_cluster.admin
    path = f"/api/v1/namespaces/{kube_namespace}/configmaps"
    lease = f"/apis/coordination.k8s.io/v1/namespaces/{kube_namespace}/leases/mirror"
    a, b = (
        Replica(kube_cluster, kube_namespace, "replica-a"),
        Replica(kube_cluster, kube_namespace, "replica-b"),
    )
    try:
        holder = eventually(
            lambda: admin.exists(lease) and admin.get(lease)["spec"].get("holderIdentity"),
            message="a holder of the lease",
        )
        leader, follower = (a, b) if holder == "replica-a" else (b, a)
        admin.create(
            path, {"metadata": {"name": "one", "labels": {"mirror": "yes"}}, "data": {"k": "1"}}
        )
        eventually(lambda: admin.exists(f"{path}/one-mirror"), message="the mirror of one")
        assert leader.said("reconciled") is not None
        assert follower.said("reconciled") is None  # never two reconcilers

        killed = time.monotonic()
        leader.proc.send_signal(signal.SIGKILL)  # no release: the lease must expire
        took_over = eventually(
            lambda: follower.said("leading mirror"),
            timeout=LEASE + RETRY * 2.2 + 10,
            interval=0.05,
            message="the follower to take over",
        )
        handover = took_over - killed
        assert handover <= LEASE + RETRY * 2.2 + 2.0, f"handover took {handover:.1f}s"
        assert admin.get(lease)["spec"]["holderIdentity"] == follower.identity

        admin.create(
            path, {"metadata": {"name": "two", "labels": {"mirror": "yes"}}, "data": {"k": "2"}}
        )
        eventually(lambda: admin.exists(f"{path}/two-mirror"), message="the mirror of two")

        follower.proc.send_signal(signal.SIGTERM)  # clean stop: drain and release
        assert follower.proc.wait(20) == 0
        assert admin.get(lease)["spec"].get("holderIdentity", "") == ""
    finally:
        a.stop()
        b.stop()
