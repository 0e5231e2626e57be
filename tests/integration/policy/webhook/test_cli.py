"""``kubeops policy webhook`` as an operator runs it: a directory of ValidatingAdmissionPolicies
served as a webhook, registered for one namespace, and SIGTERM removing it again.

The API server's own wording comes back to kubectl through the webhook (the deny
and warning texts of a ValidatingAdmissionPolicy), so a policy reads the same
whether the API server or the webhook enforces it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from kubeops.policy.webhook import WEBHOOK_NAME
from kubeops.testenv import Cluster, eventually
from kubeops.testenv.ports import free_port

from .harness import configmap, create, refused
from .test_webhook import CONFIGURATIONS, kubectl

POLICIES = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: no-forbidden-key
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["configmaps"]
  validations:
  - expression: "!has(object.data) || !('forbidden' in object.data)"
    message: the key forbidden is not allowed
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: no-forbidden-key-deny
spec:
  policyName: no-forbidden-key
  validationActions: [Deny]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: discouraged-key
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["configmaps"]
  validations:
  - expression: "!has(object.data) || !('old' in object.data)"
    message: the key old is discouraged
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: discouraged-key-warn
spec:
  policyName: discouraged-key
  validationActions: [Warn]
"""


@pytest.fixture(scope="module")
def namespace(kube_cluster: Cluster) -> Iterator[str]:
    """This module's namespace, the only one its webhook is sent."""
    name = f"policy-webhook-cli-{uuid.uuid4().hex[:6]}"
    kube_cluster.admin.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    yield name
    kube_cluster.admin.delete(f"/api/v1/namespaces/{name}")


def test_a_policy_directory_served_registered_and_removed_on_sigterm(
    kube_cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "policies.yaml").write_text(POLICIES)
    port = free_port()
    name = f"kubeops-policy-cli-{namespace}"
    path = f"{CONFIGURATIONS}/{name}"
    argv = [
        sys.executable, "-m", "kubeops", "policy", "webhook",
        "--policies", str(tmp_path), "--no-builtins",
        "--kubeconfig", str(kube_cluster.kubeconfig),
        "--listen", f"127.0.0.1:{port}",
        "--register", "--unregister-on-exit", "--configuration-name", name,
        "--url", f"https://127.0.0.1:{port}/validate",
        "--namespace-selector", f"kubernetes.io/metadata.name={namespace}",
        "--timeout", "5", "--log-format", "json",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        eventually(
            lambda: process.poll() is None and kube_cluster.admin.exists(path),
            timeout=30,
            message="the webhook to register itself",
        )
        (hook,) = kube_cluster.admin.get(path)["webhooks"]
        assert hook["rules"] == [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
                "operations": ["CREATE", "UPDATE"],
                "scope": "*",
            },
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
                "operations": ["CREATE"],
                "scope": "*",
            },
        ]
        assert hook["failurePolicy"] == "Fail"
        assert hook["timeoutSeconds"] == 5

        forbidden = {**configmap("x"), "data": {"forbidden": "1"}}
        eventually(
            lambda: refused(create(kube_cluster, namespace, forbidden)),
            message="the API server to call the webhook",
        )
        denied = kubectl(kube_cluster, namespace, forbidden)
        assert denied.returncode == 1
        assert (
            f'admission webhook "{WEBHOOK_NAME}" denied the request: ValidatingAdmissionPolicy '
            "'no-forbidden-key' with binding 'no-forbidden-key-deny' denied request: "
            "the key forbidden is not allowed"
        ) in denied.stderr
        warned = kubectl(kube_cluster, namespace, {**configmap("y"), "data": {"old": "1"}})
        assert warned.returncode == 0, warned.stderr
        assert (
            "Warning: Validation failed for ValidatingAdmissionPolicy 'discouraged-key' with "
            "binding 'discouraged-key-warn': the key old is discouraged"
        ) in warned.stderr
        assert not refused(create(kube_cluster, namespace, configmap("fine")))

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert not kube_cluster.admin.exists(path)
        assert not refused(create(kube_cluster, namespace, configmap("after")))
        lines = [
            orjson.loads(line)
            for line in (process.stderr.read() if process.stderr else "").splitlines()
            if line.startswith("{")
        ]
        messages = [line.get("message", "") for line in lines]
        assert any(m.startswith("removed ValidatingWebhookConfiguration") for m in messages)
        assert messages[-1] == "stopped"
        assert next(line for line in lines if line.get("message") == "denied")["policies"] == [
            "no-forbidden-key"
        ]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        kube_cluster.admin.delete(path)
