"""The CRDs' shape: names, columns, defaults, and that the only schemaless parts are the
two that hold arbitrary objects (the server checks the rules: tests/integration/sync/api)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeops.sync.crds import crds
from kubeops.sync.model import GROUP, VERSION


def _walk(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        yield path, schema
        for key, value in (schema.get("properties") or {}).items():
            yield from _walk(value, f"{path}.{key}")
        if isinstance(schema.get("items"), dict):
            yield from _walk(schema["items"], f"{path}[]")
        if isinstance(schema.get("additionalProperties"), dict):
            yield from _walk(schema["additionalProperties"], f"{path}{{}}")


def _schema(kind: str) -> dict[str, Any]:
    crd = next(c for c in crds() if c["spec"]["names"]["kind"] == kind)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_three_crds_in_the_group_with_status_and_short_names() -> None:
    found = {c["spec"]["names"]["kind"]: c for c in crds()}
    assert set(found) == {"ClusterSyncPolicy", "MemberCluster", "SyncWork"}
    shorts = {k: c["spec"]["names"]["shortNames"] for k, c in found.items()}
    assert shorts == {"ClusterSyncPolicy": ["csp"], "MemberCluster": ["mc"], "SyncWork": ["sw"]}
    scopes = {k: c["spec"]["scope"] for k, c in found.items()}
    assert scopes == {
        "ClusterSyncPolicy": "Cluster",
        "MemberCluster": "Cluster",
        "SyncWork": "Namespaced",
    }
    for crd in found.values():
        assert crd["spec"]["group"] == GROUP
        (version,) = crd["spec"]["versions"]
        assert version["name"] == VERSION
        assert version["subresources"] == {"status": {}}
    columns = [
        c["name"].upper()
        for c in found["ClusterSyncPolicy"]["spec"]["versions"][0]["additionalPrinterColumns"]
    ]
    assert columns == ["SOURCE", "TARGETS", "READY", "AGE"]


def test_unknown_fields_are_kept_only_in_a_works_manifest_and_a_patch_value() -> None:
    kept = [
        f"{kind}{path}"
        for kind in ("ClusterSyncPolicy", "MemberCluster", "SyncWork")
        for path, node in _walk(_schema(kind))
        if node.get("x-kubernetes-preserve-unknown-fields")
    ]
    assert kept == [
        "ClusterSyncPolicy.spec.overrides[].jsonPatch[].value",
        "SyncWork.spec.manifest",
    ]


def test_every_rule_has_a_message_naming_a_field() -> None:
    rules = [
        r
        for kind in ("ClusterSyncPolicy", "MemberCluster", "SyncWork")
        for _, node in _walk(_schema(kind))
        for r in node.get("x-kubernetes-validations") or []
    ]
    assert len(rules) >= 9
    for rule in rules:
        message = rule["message"]
        assert any(
            field in message
            for field in ("spec.", "metadata.", "jsonPatch[]", "matchLabels", "values")
        ), message


def test_defaults_match_the_model() -> None:
    spec = _schema("ClusterSyncPolicy")["properties"]["spec"]["properties"]
    assert spec["conflictResolution"]["default"] == "Abort"
    assert spec["conflictResolution"]["enum"] == ["Abort", "Overwrite", "Adopt"]
    assert spec["deletion"]["default"] == "Prune"
    assert spec["drift"]["default"] == "Correct"
    assert spec["resources"]["minItems"] == 1
    member = _schema("MemberCluster")["properties"]["spec"]["properties"]
    assert member["syncMode"]["default"] == "Push"
    assert member["kubeconfigSecretRef"]["properties"]["namespace"]["default"] == "kubeops-sync"
    assert member["kubeconfigSecretRef"]["properties"]["key"]["default"] == "kubeconfig"
    limits = member["rateLimit"]["properties"]
    assert (limits["qps"]["default"], limits["burst"]["default"]) == (200, 400)


def test_crds_returns_copies() -> None:
    first = crds()
    first[0]["spec"]["group"] = "changed"
    assert crds()[0]["spec"]["group"] == GROUP
