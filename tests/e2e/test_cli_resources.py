"""`kubeops get|apply|delete|api-resources` against the session cluster, as a user types them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from kubeops.testenv import Cluster, eventually


def kubeops(
    cluster: Cluster, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubeops", *args, "--kubeconfig", str(cluster.kubeconfig)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


MANIFESTS = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.e2e.example.com}
spec:
  group: e2e.example.com
  names: {kind: Gadget, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: e2e.example.com/v1
kind: Gadget
metadata: {name: g1, namespace: NS}
spec: {size: 2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS}
data: {level: debug}
"""


def test_apply_then_get_then_delete_a_crd_and_its_objects(
    kube_cluster: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "app.yaml"
    # The custom resource comes before its CRD's Established; apply must order and wait.
    docs = MANIFESTS.replace("NS", kube_namespace).split("---")
    manifest.write_text("---".join([docs[1], docs[2], docs[0]]))

    first = kubeops(kube_cluster, "apply", "-f", str(manifest))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "customresourcedefinition/gadgets.e2e.example.com created",
        "gadget/g1 created",
        "configmap/settings created",
    ]
    again = kubeops(kube_cluster, "apply", "-f", str(manifest))
    assert "configmap/settings unchanged" in again.stdout

    table = kubeops(kube_cluster, "get", "configmaps", "-n", kube_namespace)
    assert table.stdout.split("\n")[0].split() == ["NAME", "DATA", "AGE"]
    assert any(line.split()[:2] == ["settings", "1"] for line in table.stdout.splitlines())

    as_json = json.loads(
        kubeops(kube_cluster, "get", "gadget", "g1", "-n", kube_namespace, "-o", "json").stdout
    )
    assert as_json["spec"] == {"size": 2}
    as_yaml = yaml.safe_load(
        kubeops(kube_cluster, "get", "cm", "-n", kube_namespace, "-o", "yaml").stdout
    )
    assert as_yaml["kind"] == "List"
    names = kubeops(
        kube_cluster, "get", "gadgets.e2e.example.com", "-A", "-o", "name"
    ).stdout.split()
    assert "gadget.e2e.example.com/g1" in names

    deleted = kubeops(kube_cluster, "delete", "cm", "settings", "-n", kube_namespace, "--wait")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == "configmap/settings deleted"
    gone = kubeops(kube_cluster, "get", "cm", "settings", "-n", kube_namespace)
    assert gone.returncode == 1
    assert gone.stderr.startswith('kubeops: error: get configmaps "settings"')
    assert "NotFound" in gone.stderr


def test_dry_run_apply_changes_nothing(kube_cluster: Cluster, kube_namespace: str) -> None:
    doc = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: dry, namespace: {kube_namespace}}}\n"
    result = kubeops(kube_cluster, "apply", "-f", "-", "--dry-run=server", stdin=doc)
    assert result.stdout.strip() == "configmap/dry created (server dry run)"
    assert kubeops(kube_cluster, "get", "cm", "dry", "-n", kube_namespace).returncode == 1


def test_bad_input_is_one_line_with_file_document_and_cause(
    kube_cluster: Cluster, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: ConfigMap\nmetadata: {name: x}\n"
    )
    result = kubeops(kube_cluster, "apply", "-f", str(broken))
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"kubeops: error: {broken}, document 2 (line 5): missing or empty field 'apiVersion'"
    )

    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("kind: [unclosed\n")
    result = kubeops(kube_cluster, "apply", "-f", str(bad_yaml))
    assert result.returncode == 1
    assert f"{bad_yaml}, line 2" in result.stderr
    assert "Traceback" not in result.stderr

    unknown = kubeops(kube_cluster, "get", "deploymets")
    assert unknown.returncode == 1
    assert "did you mean deployments" in unknown.stderr

    missing = subprocess.run(
        [sys.executable, "-m", "kubeops", "get", "pods", "--kubeconfig", str(tmp_path / "nope")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode == 1
    assert str(tmp_path / "nope") in missing.stderr
    assert "Traceback" not in missing.stderr


def test_api_resources_lists_built_in_and_custom_kinds(kube_cluster: Cluster) -> None:
    result = kubeops(kube_cluster, "api-resources")
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["namespaces"][-3:] == ["v1", "false", "Namespace"]


def test_get_pods_all_namespaces_shows_the_namespace_column(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip
    kube_cluster.admin.create(f"/api/v1/namespaces/{kube_namespace}/pods", pod)

    def listed_running() -> tuple[list[str], list[list[str]]]:
        table = kubeops(kube_cluster, "get", "pods", "-A").stdout.splitlines()
        mine = [line.split() for line in table if line.startswith(kube_namespace)]
        assert mine, table
        assert mine[0][3] == "Running", table
        return table, mine

    table, mine = eventually(listed_running, interval=0.3, message="p1 listed as Running")
    assert table[0].split()[:3] == ["NAMESPACE", "NAME", "READY"]
    assert mine[0][:4] == [kube_namespace, "p1", "1/1", "Running"]
