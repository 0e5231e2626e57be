"""The programs in examples/ run as a user runs them, against the session cluster.

Each test starts an example as a subprocess with ``--kubeconfig`` and
``--namespace``, then checks what it printed and what it left in the cluster
(read back with testenv's admin connection, not with the code under test).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeops.testenv import Cluster, eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/backups.examples.kubeops.dev"


def run_example(
    cluster: Cluster, command_line: str, namespace: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/SCRIPT ARGS...`` (``command_line``) against ``cluster``."""
    script, *args = shlex.split(command_line)
    command = [sys.executable, str(EXAMPLES / script), "--kubeconfig", str(cluster.kubeconfig)]
    if namespace is not None:
        command += ["--namespace", namespace]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=180, check=False
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines the example printed, after asserting that it exited 0 and printed no error."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


def failed_with_one_line(result: subprocess.CompletedProcess[str], script: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{script}: error: ")
    return lines[0]


def pods(cluster: Cluster, namespace: str, selector: str = "") -> list[dict[str, Any]]:
    query = f"?labelSelector={selector}" if selector else ""
    items: list[dict[str, Any]] = cluster.admin.get(f"/api/v1/namespaces/{namespace}/pods{query}")[
        "items"
    ]
    return items


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            },
        },
    }


# -- list_pods ----------------------------------------------------------------------------------


@pytest.mark.full
def test_list_pods_shows_name_phase_node_and_age(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    for name in ("alpha", "beta"):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"nodeName": "kwok-node-0", "containers": [{"name": "c", "image": "busybox"}]},
        }
        kube_cluster.admin.create(f"/api/v1/namespaces/{kube_namespace}/pods", pod)
    eventually(
        lambda: all(
            p.get("status", {}).get("phase") == "Running"
            for p in pods(kube_cluster, kube_namespace)
        ),
        timeout=60,
        message="both pods Running",
    )

    lines = succeeded(run_example(kube_cluster, "list_pods.py", namespace=kube_namespace))

    assert lines[0] == f"listing pods in namespace {kube_namespace} on {kube_cluster.server}"
    assert lines[1].split() == ["NAME", "PHASE", "NODE", "AGE"]
    rows = [line.split() for line in lines[2:4]]
    assert [r[:3] for r in rows] == [
        ["alpha", "Running", "kwok-node-0"],
        ["beta", "Running", "kwok-node-0"],
    ]
    assert all(r[3].endswith(("s", "m")) for r in rows)  # ages of a few seconds
    assert lines[4] == "2 pod(s)"


def test_list_pods_in_an_empty_namespace_says_so(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    lines = succeeded(run_example(kube_cluster, "list_pods.py", namespace=kube_namespace))
    assert lines[-1] == f"no pods in namespace {kube_namespace}"


# -- create_deployment ----------------------------------------------------------------------------


@pytest.mark.full
def test_create_deployment_applies_and_waits_until_available(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    path = f"/apis/apps/v1/namespaces/{kube_namespace}/deployments/web"

    lines = succeeded(
        run_example(
            kube_cluster, "create_deployment.py --name web --replicas 2", namespace=kube_namespace
        )
    )
    assert lines[0] == f"applying deployment/web (2 x nginx:1.27) in namespace {kube_namespace}"
    assert lines[1] == "deployment/web applied (generation 1)"
    assert lines[-2].startswith("deployment/web: 2/2 replicas available")
    assert lines[-1] == "deployment/web is available"
    # When the program says so, the cluster agrees.
    status = kube_cluster.admin.get(path)["status"]
    assert status["availableReplicas"] == 2
    assert status["readyReplicas"] == 2

    # Run again with another replica count: apply updates, and the wait covers a scale-down.
    lines = succeeded(
        run_example(
            kube_cluster, "create_deployment.py --name web --replicas 1", namespace=kube_namespace
        )
    )
    assert lines[1] == "deployment/web applied (generation 2)"
    assert lines[-1] == "deployment/web is available"
    deploy = kube_cluster.admin.get(path)
    assert deploy["spec"]["replicas"] == 1
    assert deploy["status"]["replicas"] == 1
    managers = {m["manager"] for m in deploy["metadata"]["managedFields"]}
    assert "kubeops-example" in managers


# -- delete_resource ------------------------------------------------------------------------------


@pytest.mark.full
def test_foreground_delete_waits_until_the_dependents_are_gone_too(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    admin = kube_cluster.admin
    admin.create(f"/apis/apps/v1/namespaces/{kube_namespace}/deployments", deployment("fg", 2))
    eventually(
        lambda: len(pods(kube_cluster, kube_namespace, "app=fg")) == 2,
        timeout=60,
        message="two pods",
    )

    lines = succeeded(
        run_example(
            kube_cluster,
            "delete_resource.py deploy fg --propagation Foreground",
            namespace=kube_namespace,
        )
    )
    target = f"deployments.apps/fg in namespace {kube_namespace}"
    assert lines[0] == f"deleting {target} (propagation Foreground)"
    assert any("foregroundDeletion" in line for line in lines), lines
    assert lines[-1] == f"{target} deleted"
    # Foreground: the Deployment went last, after its ReplicaSet and their Pods.
    assert not admin.exists(f"/apis/apps/v1/namespaces/{kube_namespace}/deployments/fg")
    rs = admin.get(f"/apis/apps/v1/namespaces/{kube_namespace}/replicasets")["items"]
    assert rs == []
    assert pods(kube_cluster, kube_namespace, "app=fg") == []


@pytest.mark.full
def test_orphan_delete_leaves_the_dependents(kube_cluster: Cluster, kube_namespace: str) -> None:
    admin = kube_cluster.admin
    admin.create(f"/apis/apps/v1/namespaces/{kube_namespace}/deployments", deployment("orph", 1))
    rs_path = f"/apis/apps/v1/namespaces/{kube_namespace}/replicasets"
    eventually(lambda: bool(admin.get(rs_path)["items"]), timeout=60, message="the ReplicaSet")

    lines = succeeded(
        run_example(
            kube_cluster,
            "delete_resource.py deployments.apps orph --propagation Orphan",
            namespace=kube_namespace,
        )
    )
    assert lines[-1] == f"deployments.apps/orph in namespace {kube_namespace} deleted"
    assert not admin.exists(f"/apis/apps/v1/namespaces/{kube_namespace}/deployments/orph")
    # The ReplicaSet stays, no longer owned by anything.
    replicasets = admin.get(rs_path)["items"]
    assert len(replicasets) == 1
    assert not replicasets[0]["metadata"].get("ownerReferences")


def test_deleting_a_cluster_scoped_object_ignores_the_namespace(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    admin = kube_cluster.admin
    name = f"{kube_namespace}-reader"
    admin.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles", {"metadata": {"name": name}, "rules": []}
    )
    lines = succeeded(
        run_example(
            kube_cluster, f"delete_resource.py clusterrole {name}", namespace=kube_namespace
        )
    )
    assert lines == [
        f"deleting clusterroles.rbac.authorization.k8s.io/{name} (propagation Background)",
        f"clusterroles.rbac.authorization.k8s.io/{name} deleted",
    ]
    assert not admin.exists(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")


def test_deleting_something_missing_fails_with_one_line(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    result = run_example(
        kube_cluster, "delete_resource.py configmap nope", namespace=kube_namespace
    )
    line = failed_with_one_line(result, "delete_resource")
    assert line == (
        f'delete_resource: error: delete configmaps "nope" in namespace "{kube_namespace}": '
        'NotFound: configmaps "nope" not found (404)'
    )
    assert "Traceback" not in result.stderr


def test_an_unknown_kind_fails_with_a_suggestion(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    result = run_example(kube_cluster, "delete_resource.py deploymnets x", namespace=kube_namespace)
    line = failed_with_one_line(result, "delete_resource")
    assert "'deploymnets'" in line
    assert "did you mean deployments" in line


def test_a_missing_kubeconfig_fails_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.kubeconfig"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "list_pods.py"), "--kubeconfig", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = failed_with_one_line(result, "list_pods")
    assert line == f"list_pods: error: kubeconfig {missing} does not exist"


# -- configmap_secret_crud -----------------------------------------------------------------------


def test_configmap_secret_crud_retries_a_conflict_and_decodes_secrets(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    lines = succeeded(
        run_example(kube_cluster, "configmap_secret_crud.py", namespace=kube_namespace)
    )
    text = "\n".join(lines)

    assert "created configmap/app-config" in text
    assert "read configmap/app-config: [('feature_x', 'off'), ('log_level', 'info')]" in lines
    # The stale first attempt conflicts, the re-read second one succeeds ...
    conflict = next(i for i, line in enumerate(lines) if "attempt 1: conflict" in line)
    assert "attempt 2: updated configmaps/app-config" in lines[conflict + 1]
    # ... and keeps the other writer's change.
    assert "configmap/app-config now: [('feature_x', 'on'), ('log_level', 'debug')]" in lines
    # Secret data went to the server as base64 and came back decoded.
    assert (
        "read secret/app-credentials: username=app password=initial-password (decoded from base64)"
        in lines
    )
    assert "  attempt 1: updated secrets/app-credentials" in text
    assert "read back: password=rotated-password" in lines
    assert lines[-2:] == ["deleted configmaps/app-config", "deleted secrets/app-credentials"]

    admin = kube_cluster.admin
    assert not admin.exists(f"/api/v1/namespaces/{kube_namespace}/configmaps/app-config")
    assert not admin.exists(f"/api/v1/namespaces/{kube_namespace}/secrets/app-credentials")


def test_configmap_secret_crud_stops_at_an_existing_object(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kube_cluster.admin.create(
        f"/api/v1/namespaces/{kube_namespace}/configmaps",
        {"metadata": {"name": "app-config"}, "data": {"mine": "keep"}},
    )
    result = run_example(kube_cluster, "configmap_secret_crud.py", namespace=kube_namespace)
    line = failed_with_one_line(result, "configmap_secret_crud")
    assert f'create configmaps "app-config" in namespace "{kube_namespace}": AlreadyExists' in line
    # Nothing of the user's was touched.
    kept = kube_cluster.admin.get(f"/api/v1/namespaces/{kube_namespace}/configmaps/app-config")
    assert kept["data"] == {"mine": "keep"}


# -- custom_resource ------------------------------------------------------------------------------


@pytest.fixture
def backup_crd(kube_cluster: Cluster) -> Iterator[str]:
    """The example's CRD is cluster-scoped: remove it after the test."""
    yield CRD_PATH
    kube_cluster.admin.delete(CRD_PATH)


def test_custom_resource_dynamic_and_typed(
    kube_cluster: Cluster, kube_namespace: str, backup_crd: str
) -> None:
    lines = succeeded(run_example(kube_cluster, "custom_resource.py", namespace=kube_namespace))

    assert lines[:4] == [
        f"working in namespace {kube_namespace}",
        "applied customresourcedefinition/backups.examples.kubeops.dev",
        "customresourcedefinition/backups.examples.kubeops.dev is Established",
        "discovery serves backups.examples.kubeops.dev (examples.kubeops.dev/v1, kind Backup)",
    ]
    assert "applied backup/nightly: retention 7" in lines  # the schema's default
    assert "patched backup/nightly: retention 14" in lines
    assert "listed 1 backup(s) by short name bk" in lines
    assert "got backup/weekly: schedule '0 3 * * 0'" in lines
    assert "  nightly: schedule '0 2 * * *', retention 14, phase -" in lines
    assert "  weekly: schedule '0 3 * * 0', retention 8, phase Succeeded" in lines

    admin = kube_cluster.admin
    crd = admin.get(backup_crd)
    assert any(
        c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"]
    )
    base = f"/apis/examples.kubeops.dev/v1/namespaces/{kube_namespace}/backups"
    assert admin.get(f"{base}/nightly")["spec"] == {"schedule": "0 2 * * *", "retention": 14}
    weekly = admin.get(f"{base}/weekly")
    assert weekly["spec"] == {"schedule": "0 3 * * 0", "retention": 8}
    assert weekly["status"]["phase"] == "Succeeded"

    # Server-side apply makes a second run harmless.
    again = succeeded(run_example(kube_cluster, "custom_resource.py", namespace=kube_namespace))
    assert "listed 2 backup(s) by short name bk" in again
    assert "applied backup/nightly: retention 14" in again  # the patched field is kept

    # delete_resource finds the custom kind through discovery as well.
    lines = succeeded(
        run_example(kube_cluster, "delete_resource.py bk nightly", namespace=kube_namespace)
    )
    assert (
        lines[-1] == f"backups.examples.kubeops.dev/nightly in namespace {kube_namespace} deleted"
    )
    assert not admin.exists(f"{base}/nightly")
