"""``install`` on the real hub: CRDs served, idempotent, and every CEL rule refuses its
bad object server-side with a message naming the field."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.errors import Invalid
from kubeops.sync.crds import MEMBER_CRD, POLICY_CRD, WORK_CRD
from kubeops.sync.install import install
from kubeops.sync.model import API_VERSION, policy_from_object
from kubeops.testenv import Environment


@pytest.fixture
async def hub(sync_env: Environment) -> AsyncIterator[Client]:
    """An admin client of the hub with the sync installed."""
    async with Client.from_kubeconfig(sync_env.cluster("hub").kubeconfig) as client:
        await install(client)
        yield client


GOOD: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "ClusterSyncPolicy",
    "metadata": {"name": "api-good"},
    "spec": {
        "sourceCluster": "cluster-a",
        "targetClusters": ["cluster-b", "cluster-c"],
        "resources": [
            {"apiGroup": "apps", "kind": "Deployment", "matchLabels": {"env": "production"}}
        ],
        "overrides": [
            {
                "targetClusters": ["cluster-b"],
                "replicas": 2,
                "image": "nginx:1.27",
                "labels": {"region": "b"},
                "jsonPatch": [{"op": "add", "path": "/spec/paused", "value": True}],
            }
        ],
    },
}


def _policy(name: str, **spec: Any) -> dict[str, Any]:
    obj = copy.deepcopy(GOOD)
    obj["metadata"]["name"] = name
    obj["spec"].update(spec)
    return {**obj, "spec": {k: v for k, v in obj["spec"].items() if v is not None}}


def _patch(op: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"targetClusters": ["cluster-b"], "jsonPatch": [op]}]


BAD_POLICIES = {
    "source-among-targets": (
        {"targetClusters": ["cluster-a", "cluster-b"], "overrides": None},
        "spec.targetClusters must not name spec.sourceCluster",
    ),
    "no-targets": (
        {"targetClusters": None, "overrides": None},
        "spec.targetClusters or spec.targetSelector: name at least one target",
    ),
    "empty-targets": (
        {"targetClusters": [], "overrides": None},
        "spec.targetClusters or spec.targetSelector: name at least one target",
    ),
    "both-selectors": (
        {
            "resources": [
                {
                    "kind": "ConfigMap",
                    "matchLabels": {"a": "b"},
                    "labelSelector": {"matchLabels": {"a": "b"}},
                }
            ]
        },
        "matchLabels and labelSelector: give one of them, not both",
    ),
    "override-target-unknown": (
        {"overrides": [{"targetClusters": ["cluster-x"], "replicas": 1}]},
        "spec.overrides[].targetClusters must be among spec.targetClusters",
    ),
    "patch-name": (
        {"overrides": _patch({"op": "replace", "path": "/metadata/name", "value": "x"})},
        "jsonPatch[].path may not touch /metadata/name",
    ),
    "patch-namespace": (
        {"overrides": _patch({"op": "remove", "path": "/metadata/namespace"})},
        "jsonPatch[].path may not touch",
    ),
    "patch-kind": (
        {"overrides": _patch({"op": "replace", "path": "/kind", "value": "Pod"})},
        "jsonPatch[].path may not touch",
    ),
    "patch-api-version": (
        {"overrides": _patch({"op": "replace", "path": "/apiVersion", "value": "v2"})},
        "jsonPatch[].path may not touch",
    ),
    "patch-move-name": (
        {"overrides": _patch({"op": "move", "from": "/metadata/name", "path": "/spec/x"})},
        "jsonPatch[].from may not move",
    ),
    "no-resources": ({"resources": []}, "spec.resources"),
    "bad-enum": ({"conflictResolution": "Merge"}, "spec.conflictResolution"),
}


@pytest.mark.parametrize("case", sorted(BAD_POLICIES))
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "create"])
async def test_every_rule_refuses_a_bad_policy_with_its_message(
    hub: Client, case: str, dry_run: bool
) -> None:
    spec, message = BAD_POLICIES[case]
    with pytest.raises(Invalid) as refused:
        await hub.create(_policy(f"api-bad-{case}", **spec), dry_run=dry_run)
    assert message in str(refused.value)


async def test_a_good_policy_round_trips_with_defaults(hub: Client) -> None:
    created = await hub.create(_policy("api-good-roundtrip"))
    try:
        assert created["spec"]["conflictResolution"] == "Abort"
        assert created["spec"]["deletion"] == "Prune"
        assert created["spec"]["drift"] == "Correct"
        assert created["spec"]["resources"][0]["apiGroup"] == "apps"
        policy = policy_from_object(await hub.get("csp", "api-good-roundtrip"))
        assert policy.source_cluster == "cluster-a"
        assert policy.target_clusters == ("cluster-b", "cluster-c")
        assert policy.resources[0].group_kind == "Deployment.apps"
        assert policy.overrides[0].replicas == 2
        assert policy.overrides[0].json_patch[0]["value"] is True
    finally:
        await hub.delete("clustersyncpolicies", "api-good-roundtrip")


async def test_a_push_member_without_a_secret_is_refused(hub: Client) -> None:
    member = {"apiVersion": API_VERSION, "kind": "MemberCluster", "metadata": {"name": "api-m"}}
    with pytest.raises(Invalid) as refused:
        await hub.create(member, dry_run=True)
    assert "spec.kubeconfigSecretRef is required when spec.syncMode is Push" in str(refused.value)
    pull = await hub.create({**member, "spec": {"syncMode": "Pull"}}, dry_run=True)
    assert pull["spec"]["rateLimit"] == {"qps": 200, "burst": 400}
    too_long = {**member, "metadata": {"name": "m" * 49}, "spec": {"syncMode": "Pull"}}
    with pytest.raises(Invalid) as long_name:
        await hub.create(too_long, dry_run=True)
    assert "metadata.name must be a DNS label of at most 48" in str(long_name.value)


async def test_install_twice_changes_nothing_and_the_crds_are_established(
    hub: Client,
) -> None:
    before = {}
    objects = await install(hub)
    for obj in objects:
        meta = obj["metadata"]
        found = await hub.get(
            f"{obj['apiVersion']}/{obj['kind']}", meta["name"], meta.get("namespace")
        )
        before[(obj["kind"], meta["name"])] = found["metadata"]["resourceVersion"]
    await install(hub)
    for obj in objects:
        meta = obj["metadata"]
        found = await hub.get(
            f"{obj['apiVersion']}/{obj['kind']}", meta["name"], meta.get("namespace")
        )
        assert found["metadata"]["resourceVersion"] == before[(obj["kind"], meta["name"])], obj
    for name in (POLICY_CRD, MEMBER_CRD, WORK_CRD):
        crd = await hub.get("customresourcedefinitions", name)
        established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
        assert established[0]["status"] == "True"
    assert (await hub.resource("csp")).plural == "clustersyncpolicies"
    assert (await hub.resource("mc")).plural == "memberclusters"
    assert (await hub.resource("sw")).namespaced


async def test_install_of_an_agent_writes_its_roles_and_no_wildcards(hub: Client) -> None:
    objects = await install(hub, agent="api-agent")
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Namespace",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ]
    role = await hub.get("clusterroles", "kubeops-sync-agent-api-agent")
    assert all(r.get("resourceNames") == ["api-agent"] for r in role["rules"])
    for obj in [*objects, *(await install(hub, dry_run=True))]:
        for rule in obj.get("rules") or []:
            assert "*" not in str(rule), obj
