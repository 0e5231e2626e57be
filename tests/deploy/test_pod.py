"""The pod runner itself: a daemon run from the image sees its ServiceAccount's files
where the kubelet puts them, runs as the image's non-root user on a read-only root,
authenticates as that ServiceAccount, and survives its token's rotation."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubeops.testenv import eventually
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.pod import SERVICE_ACCOUNT_DIR, RunningPod, run_pod

from .conftest import audit_events, audit_requests, wait_for

SA = "reader"
PORT = 8080


def _template(namespace: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "reader"}},
        "spec": {
            "serviceAccountName": SA,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "fsGroup": 65532},
            "volumes": [
                {"name": "tmp", "emptyDir": {}},
                {"name": "settings", "configMap": {"name": "settings"}},
            ],
            "containers": [
                {
                    "name": "kubeops",
                    "command": ["kubeops"],
                    "args": [
                        "inspect",
                        "serve",
                        "--checks=config-unused-configmap",
                        "--namespace=$(POD_NAMESPACE)",
                        "--interval=1s",
                        f"--listen=:{PORT}",
                        "--allow-unauthenticated",
                        "--history=sqlite:////tmp/inspect.db",
                        "--log-format=json",
                    ],
                    "env": [
                        {
                            "name": "POD_NAMESPACE",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                        },
                        {
                            "name": "GREETING",
                            "valueFrom": {
                                "configMapKeyRef": {"name": "settings", "key": "greeting"}
                            },
                        },
                        {
                            "name": "PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}},
                        },
                    ],
                    "ports": [{"containerPort": PORT}],
                    "securityContext": {
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                    },
                    "volumeMounts": [
                        {"name": "tmp", "mountPath": "/tmp"},
                        {"name": "settings", "mountPath": "/etc/settings", "readOnly": True},
                    ],
                }
            ],
        },
    }


def _setup(cluster: Cluster, namespace: str) -> None:
    admin = cluster.admin
    ns = f"/api/v1/namespaces/{namespace}"
    admin.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
    admin.create(f"{ns}/serviceaccounts", {"metadata": {"name": SA}})
    admin.create(f"{ns}/configmaps", {"metadata": {"name": "settings"}, "data": {"greeting": "hi"}})
    admin.create(f"{ns}/secrets", {"metadata": {"name": "creds"}, "stringData": {"password": "pw"}})
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    rule = {"apiGroups": [""], "resources": ["configmaps", "pods"], "verbs": ["get", "list"]}
    admin.create(f"{rbac}/roles", {"metadata": {"name": SA}, "rules": [rule]})
    binding = {
        "metadata": {"name": SA},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SA},
        "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": namespace}],
    }
    admin.create(f"{rbac}/rolebindings", binding)


def _runs(pod: RunningPod) -> dict[str, float]:
    text = httpx.get(pod.url(PORT, "/metrics"), timeout=5.0).text
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "kubeops_inspect_runs"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


@pytest.fixture(scope="module")
def reader(deploy_cluster: Cluster, image: Any) -> Iterator[RunningPod]:
    namespace = f"pod-runner-{uuid.uuid4().hex[:6]}"
    _setup(deploy_cluster, namespace)
    pod = run_pod(deploy_cluster, image, _template(namespace), namespace=namespace, name="reader-0")
    try:
        wait_for(pod, lambda: _runs(pod).get("success", 0) >= 1, "the first successful run")
        yield pod
    finally:
        code = asyncio.run(pod.stop(grace=10))
        deploy_cluster.admin.delete(f"/api/v1/namespaces/{namespace}")
        assert code == 0, f"the daemon's exit code after SIGTERM: {code}\n{pod.logs()[-2000:]}"


def test_files_and_env_are_where_the_kubelet_puts_them(reader: RunningPod) -> None:
    pid = reader.container_pid()
    assert pid is not None
    sa_dir = reader.host_path(SERVICE_ACCOUNT_DIR)
    assert (sa_dir / "token").read_text() == reader.token
    assert (sa_dir / "ca.crt").read_bytes() == reader.cluster.pki.ca.cert_pem
    assert (sa_dir / "namespace").read_text() == reader.namespace
    assert (sa_dir / "..data").is_symlink()
    assert (sa_dir / "token").readlink() == Path("..data/token")
    assert reader.host_path("/etc/settings/greeting").read_text() == "hi"
    env = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{pid}/environ").read_text().split("\0")
        if "=" in item
    )
    assert env["POD_NAMESPACE"] == reader.namespace
    assert (env["GREETING"], env["PASSWORD"]) == ("hi", "pw")
    # Exactly what the image, the kubelet and the template set: nothing of the host's.
    assert set(env) == {
        *(item.split("=", 1)[0] for item in reader.image_config.get("Env") or []),
        *("HOSTNAME", "POD_NAMESPACE", "GREETING", "PASSWORD"),
        *(f"KUBERNETES_{k}" for k in ("SERVICE_HOST", "SERVICE_PORT", "SERVICE_PORT_HTTPS")),
        "KUBERNETES_PORT",
    }
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == str(reader.cluster.port)


def test_runs_as_65532_on_a_read_only_root(reader: RunningPod) -> None:
    pid = reader.container_pid()
    assert pid is not None
    status = _status(pid)
    assert status["Uid"].split() == ["65532"] * 4
    assert status["Gid"].split() == ["65532"] * 4
    assert status["CapEff"] == "0000000000000000"
    mounts = [line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()]
    root = next(m for m in mounts if m[4] == "/")
    assert "ro" in root[5].split(","), root
    tmp = next(m for m in mounts if m[4] == "/tmp")
    assert "rw" in tmp[5].split(","), tmp
    # What the daemon wrote went to its emptyDir, nowhere else.
    assert (reader.dir / "volumes" / "tmp" / "inspect.db").exists()


def test_authenticates_as_its_service_account(reader: RunningPod) -> None:
    user = f"system:serviceaccount:{reader.namespace}:{SA}"
    used = audit_requests(reader.cluster, user)
    assert ("list", "", "configmaps", "", reader.namespace) in used, used


def _credential(event: dict[str, Any]) -> str:
    extra = event.get("user", {}).get("extra", {})
    return str((extra.get("authentication.kubernetes.io/credential-id") or [""])[0])


def _jti(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"JTI={claims['jti']}"


def test_a_rotated_token_is_picked_up(reader: RunningPod) -> None:
    cluster = reader.cluster
    before = _runs(reader)["success"]
    rotation = reader.rotate_token(invalidate_old=True)
    trust = ssl.create_default_context(cafile=str(cluster.pki.ca.cert_file))

    def old_token_refused() -> bool:
        response = httpx.get(
            f"{cluster.server}/api/v1/namespaces/{reader.namespace}/configmaps",
            headers={"Authorization": f"Bearer {rotation.old_token}"},
            verify=trust,
        )
        return response.status_code == 401

    eventually(old_token_refused, timeout=20, message="the API server refuses the old token")
    # From here on the old token works nowhere: what the daemon does, it does with the new one.
    refused = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    wait_for(reader, lambda: _runs(reader)["success"] >= before + 3, "three more good runs", 30)
    user = f"system:serviceaccount:{reader.namespace}:{SA}"

    def credentials_since() -> set[str]:
        return {
            _credential(e)
            for e in audit_events(cluster)
            if e.get("user", {}).get("username") == user
            and e.get("requestReceivedTimestamp", "") > refused
        }

    used = eventually(credentials_since, timeout=20, message="the daemon's audited requests")
    assert used == {_jti(rotation.new_token)}
    assert _runs(reader).get("error", 0) == _runs(reader).get("failed", 0) == 0
    log = reader.logs()
    assert "401" not in log, log[-3000:]
    assert "Unauthorized" not in log, log[-3000:]
