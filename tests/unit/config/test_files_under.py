"""A directory mounted from a ConfigMap holds every file twice (the visible link and the
kubelet's hidden ``..<timestamp>/`` copy): each reader of a directory must see it once."""

from __future__ import annotations

from pathlib import Path

from kubeops.api.manifest import load_manifests
from kubeops.config.inputs import files_under
from kubeops.policy.loader import read_documents

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: default}
"""


def kubelet_volume(root: Path, files: dict[str, str]) -> Path:
    """``root`` laid out as the kubelet's atomic writer leaves a configMap volume."""
    stamp = root / "..2026_12_05_13_00_00.000000001"
    stamp.mkdir(parents=True)
    for name, text in files.items():
        (stamp / name).write_text(text)
    (root / "..data").symlink_to(stamp.name)
    for name in files:
        (root / name).symlink_to(f"..data/{name}")
    return root


def test_the_kubelets_hidden_copies_are_left_out(tmp_path: Path) -> None:
    volume = kubelet_volume(tmp_path / "vol", {"a.yaml": CONFIGMAP, "notes.txt": "x"})
    (volume / "sub").mkdir()
    (volume / "sub" / "b.yml").write_text(CONFIGMAP)
    assert files_under(volume, (".yaml", ".yml")) == [volume / "a.yaml", volume / "sub" / "b.yml"]


def test_apply_and_policies_read_a_mounted_directory_once(tmp_path: Path) -> None:
    volume = kubelet_volume(tmp_path / "vol", {"cm.yaml": CONFIGMAP})
    assert len(load_manifests([str(volume)])) == 1
    policy = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations: [{expression: "object.spec.replicas <= 5"}]
"""
    policies = kubelet_volume(tmp_path / "policies", {"replicas.yaml": policy})
    found = read_documents([policies])
    assert len(found.vaps) == 1
