"""`kubeops cordon|uncordon|drain` and `kubeops events` as a user types them, in a process
of their own, against the session cluster."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeops.testenv import Cluster, eventually


def kubeops(kubeconfig: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubeops", *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def node(kube_cluster: Cluster) -> Iterator[str]:
    """A kwok node of this test's own, tainted so that nothing else is scheduled on it."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    admin = kube_cluster.admin
    admin.create(
        "/api/v1/nodes",
        {"metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"}},
         "spec": {"taints": [{"key": "kubeops.test/dedicated", "effect": "NoSchedule"}]},
         "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}},
    )  # fmt: skip
    try:
        yield name
    finally:
        admin.delete(f"/api/v1/nodes/{name}")


def test_cordon_drain_uncordon_and_events(
    kube_cluster: Cluster, kube_namespace: str, node: str
) -> None:
    admin, config = kube_cluster.admin, kube_cluster.kubeconfig

    def unschedulable() -> bool:
        return bool(admin.get(f"/api/v1/nodes/{node}").get("spec", {}).get("unschedulable"))

    cordoned = kubeops(config, "cordon", node)
    assert cordoned.returncode == 0, cordoned.stderr
    assert cordoned.stdout == f"node/{node} cordoned\n"
    assert unschedulable()
    again = kubeops(config, "cordon", node, "-o", "json")
    assert json.loads(again.stdout) == {
        "node": node, "unschedulable": True, "changed": False, "dryRun": False,
    }  # fmt: skip

    pods = f"/api/v1/namespaces/{kube_namespace}/pods"
    admin.create(
        pods,
        {"metadata": {"name": "solo"},
         "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1"}]}},
    )  # fmt: skip
    eventually(lambda: admin.get(f"{pods}/solo").get("status", {}).get("phase") == "Running", message="solo Running")  # fmt: skip
    drained = kubeops(config, "drain", node, "--force", "--timeout", "30", "-o", "json")
    assert drained.returncode == 0, drained.stderr
    report = json.loads(drained.stdout)
    assert report["complete"] is True
    assert [(p["namespace"], p["name"], p["outcome"]) for p in report["pods"]] == [
        (kube_namespace, "solo", "evicted")
    ]
    assert f"evicting pod {kube_namespace}/solo" in drained.stderr  # progress goes to stderr
    assert not admin.exists(f"{pods}/solo")

    uncordoned = kubeops(config, "uncordon", node)
    assert uncordoned.stdout == f"node/{node} uncordoned\n"
    assert not unschedulable()

    subject = admin.create(
        f"/api/v1/namespaces/{kube_namespace}/configmaps", {"metadata": {"name": "subject"}}
    )
    for reason, when in (("Later", "2024-05-01T10:00:20Z"), ("Earlier", "2024-05-01T10:00:10Z")):
        admin.create(
            f"/api/v1/namespaces/{kube_namespace}/events",
            {"metadata": {"name": f"subject-{reason.lower()}"}, "type": "Normal",
             "reason": reason, "message": f"{reason} thing", "source": {"component": "tests"},
             "involvedObject": {"apiVersion": "v1", "kind": "ConfigMap", "name": "subject",
                                "namespace": kube_namespace, "uid": subject["metadata"]["uid"]},
             "firstTimestamp": when, "lastTimestamp": when, "count": 1},
        )  # fmt: skip
    table = kubeops(config, "events", "cm/subject", "-n", kube_namespace)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]
    assert [line.split()[1] for line in lines[1:]] == ["Earlier", "Later"]  # newest last
    assert lines[2].split()[3:] == ["tests", "Later", "thing"]
    as_json = json.loads(kubeops(config, "events", "configmap", "subject", "-n", kube_namespace, "-o", "json").stdout)  # fmt: skip
    assert [e["reason"] for e in as_json["items"]] == ["Earlier", "Later"]


def test_bad_input_is_one_clear_line_and_exit_code_1(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    config = kube_cluster.kubeconfig
    viewer = f"node-viewer-{uuid.uuid4().hex[:6]}"
    limited = kube_cluster.service_account_kubeconfig(
        viewer, [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}],
        cluster_wide=True,
    )  # fmt: skip
    cases = [
        (kubeops(config, "cordon", "no-such-node"), 'nodes "no-such-node" not found'),
        (kubeops(config, "drain", "no-such-node"), 'nodes "no-such-node" not found'),
        (kubeops(limited, "cordon", "kwok-node-0"), "Forbidden"),
        (kubeops(config, "events", "pod", "no-such-pod", "-n", kube_namespace), 'pods "no-such-pod" not found'),
        (kubeops(config, "events", "pod"), "name the object"),
    ]  # fmt: skip
    for result, expected in cases:
        assert result.returncode == 1, (result.args, result.stdout)
        assert result.stdout == ""
        error = result.stderr.splitlines()
        assert len(error) == 1, result.stderr
        assert error[0].startswith("kubeops: error: ")
        assert expected in error[0]
    assert not admin_unschedulable(kube_cluster, "kwok-node-0")


def admin_unschedulable(cluster: Cluster, node: str) -> bool:
    return bool(cluster.admin.get(f"/api/v1/nodes/{node}").get("spec", {}).get("unschedulable"))
