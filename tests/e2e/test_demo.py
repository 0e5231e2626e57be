"""The README's first command ends with `examples/demo.py`: a local cluster, the sample
with its deliberate faults, and the health report.  Every fault must be found, and the
healthy shop must come out clean, and the usage findings metrics-server reports (the demo's
cluster serves metrics.k8s.io) are among them: nothing is left not run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "examples" / "demo.py"

# What the sample's deliberate faults must produce: (check, kind, namespace, name).
# (Its Pending Pods are not among them: pod-pending waits 15 minutes by default.)
# A name of None matches any object of that check, kind and namespace (generated names).
EXPECTED: set[tuple[str, str, str | None, str | None]] = {
    ("node-not-ready", "Node", None, "edge-1"),
    ("node-cordoned", "Node", None, "kwok-node-2"),
    ("sec-privileged", "Deployment", "legacy", "billing"),
    ("sec-run-as-root", "Deployment", "legacy", "billing"),
    ("sec-host-path", "Deployment", "legacy", "billing"),
    ("sec-host-network", "Deployment", "legacy", "billing"),
    ("container-image-latest", "Deployment", "legacy", "billing"),
    ("container-no-limits", "Deployment", "legacy", "billing"),
    ("config-missing-configmap", "Deployment", "legacy", "billing"),
    ("deployment-single-replica", "Deployment", "legacy", "billing"),
    ("deployment-unavailable", "Deployment", "legacy", "reports"),
    ("service-selector-no-pods", "Service", "legacy", "payments"),
    ("ingress-missing-service", "Ingress", "legacy", "old-api"),
    ("pvc-missing-storageclass", "PersistentVolumeClaim", "legacy", "archive"),
    ("cronjob-suspended", "CronJob", "legacy", "nightly-export"),
    ("rbac-cluster-admin-binding", "ClusterRoleBinding", None, "legacy-deployer-admin"),
    ("rbac-role-wildcard", "Role", "legacy", "anything-goes"),
    ("config-certificate-expiry", "Secret", "legacy", "old-api-tls"),
    ("config-certificate-expiry", "Secret", "legacy", "partner-tls"),
    ("config-unused-configmap", "ConfigMap", "legacy", "forgotten"),
    ("namespace-no-networkpolicy", "Namespace", None, "legacy"),
    ("usage-node-cpu", "Node", None, "kwok-node-1"),
    ("usage-container-memory-limit", "Pod", "legacy", None),
}


@pytest.mark.full
def test_the_demo_reports_every_deliberate_fault_and_a_clean_shop(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # It inspected only once the shop was healthy, endpoints included.
    assert "shop is healthy: every Pod Ready and a ready endpoint of its Service" in done.stderr
    html = tmp_path / "inspect-report.html"
    assert f"Health report: {html.resolve()}" in done.stdout
    assert "Grade " in done.stdout
    assert html.stat().st_size > 10_000
    document = json.loads((tmp_path / "inspect-report.json").read_text())
    found = {
        (f["check"], f["object"]["kind"], f["object"]["namespace"], f["object"]["name"])
        for f in document["findings"]
    }
    loose = {(c, k, ns) for c, k, ns, _ in found}
    missing = [e for e in EXPECTED if (e not in found if e[3] is not None else e[:3] not in loose)]
    assert not missing, f"faults the report did not find: {missing}"
    shop = [
        f
        for f in document["findings"]
        if f["object"]["namespace"] == "shop" and f["severity"] != "info"
    ]
    assert not shop, f"the healthy shop was flagged: {shop}"
    assert document["grade"] in {"C", "D", "F"}
    assert not document["not_run"], document["not_run"]
