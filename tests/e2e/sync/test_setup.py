"""The shared sync fixtures themselves: what every scenario starts from."""

from __future__ import annotations

from integration.sync.conftest import MEMBER_PATH, MEMBERS, POLICIES, SyncWorld


def test_the_hub_serves_the_sync_api_and_holds_the_members(
    sync_world: SyncWorld, sync_ns: str
) -> None:
    hub = sync_world.hub
    members = {m["metadata"]["name"]: m for m in hub.admin.get(MEMBER_PATH)["items"]}
    for name in MEMBERS:
        assert members[name]["spec"]["syncMode"] == "Push"
        ref = members[name]["spec"]["kubeconfigSecretRef"]
        secret = hub.admin.get(f"/api/v1/namespaces/{ref['namespace']}/secrets/{ref['name']}")
        assert secret["data"]["kubeconfig"]
        assert sync_world.cluster(name).admin.exists(f"/api/v1/namespaces/{sync_ns}")
    assert hub.admin.get(POLICIES)["kind"] == "ClusterSyncPolicyList"
    assert not hub.admin.exists(f"/api/v1/namespaces/{sync_ns}")
