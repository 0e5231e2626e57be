"""CRUD, patches, server-side apply, dry runs and deletes against the real API server."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.errors import AlreadyExists, Conflict, Invalid, NotFound


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_create_get_replace_delete_round_trip(client: Client) -> None:
    created = await client.create(configmap("round", a="1"))
    assert created["metadata"]["namespace"] == client.namespace
    fetched = await client.get("configmaps", "round")
    assert fetched["data"] == {"a": "1"}
    fetched["data"]["a"] = "2"
    replaced = await client.replace(fetched)
    assert replaced["data"] == {"a": "2"}
    await client.delete("cm", "round")
    with pytest.raises(NotFound, match=r'get configmaps "round" in namespace "[^"]+": NotFound'):
        await client.get("cm", "round")


async def test_replace_with_a_stale_resource_version_is_a_conflict(client: Client) -> None:
    first = await client.create(configmap("cas", v="1"))
    await client.patch("configmaps", "cas", {"data": {"v": "2"}})
    first["data"]["v"] = "3"
    with pytest.raises(Conflict, match=r'update configmaps "cas"'):
        await client.replace(first)


async def test_creating_twice_is_already_exists(client: Client) -> None:
    await client.create(configmap("twice"))
    with pytest.raises(AlreadyExists, match=r'create configmaps "twice".*already exists \(409\)'):
        await client.create(configmap("twice"))


async def test_merge_json_and_strategic_patches(client: Client) -> None:
    await client.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
                },
            },
        }
    )
    merged = await client.patch("deploy", "web", {"metadata": {"labels": {"tier": "front"}}})
    assert merged["metadata"]["labels"] == {"app": "web", "tier": "front"}
    jsoned = await client.patch(
        "deployments.apps",
        "web",
        [{"op": "replace", "path": "/spec/replicas", "value": 2}],
        patch_type="json",
    )
    assert jsoned["spec"]["replicas"] == 2
    # A strategic merge adds a container by name instead of replacing the list.
    strategic = await client.patch(
        "apps/v1/Deployment",
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}},
        patch_type="strategic",
    )
    names = [c["name"] for c in strategic["spec"]["template"]["spec"]["containers"]]
    assert sorted(names) == ["side", "web"]
    scaled = await client.scale("deploy", "web", 4)
    assert scaled["spec"]["replicas"] == 4


async def test_server_side_apply_owns_fields_and_conflicts_without_force(client: Client) -> None:
    applied = await client.apply(configmap("ssa", owner="alice"), field_manager="alice")
    managers = {m["manager"] for m in applied["metadata"]["managedFields"]}
    assert managers == {"alice"}
    with pytest.raises(Conflict, match=r"conflict"):
        await client.apply(configmap("ssa", owner="bob"), field_manager="bob")
    forced = await client.apply(configmap("ssa", owner="bob"), field_manager="bob", force=True)
    assert forced["data"]["owner"] == "bob"


async def test_dry_run_writes_nothing(client: Client) -> None:
    dry = await client.create(configmap("ghost"), dry_run=True)
    assert dry["metadata"]["name"] == "ghost"
    with pytest.raises(NotFound):
        await client.get("cm", "ghost")


async def test_invalid_object_lists_each_field_cause(client: Client) -> None:
    bad = configmap("Not_A_Valid_Name")
    with pytest.raises(Invalid) as caught:
        await client.create(bad)
    assert caught.value.causes
    assert "metadata.name" in str(caught.value)


async def test_delete_with_a_wrong_uid_precondition_is_refused(client: Client) -> None:
    await client.create(configmap("guarded"))
    with pytest.raises(Conflict, match="the UID in the precondition"):
        await client.delete("cm", "guarded", preconditions={"uid": "not-the-uid"})
    await client.get("cm", "guarded")


async def test_list_paginates_and_iterate_streams(client: Client) -> None:
    for i in range(120):
        await client.create(configmap(f"page-{i:03d}", i=str(i)))
    listed = await client.list("configmaps", page_size=25, label_selector=None)
    names = [
        c["metadata"]["name"] for c in listed["items"] if c["metadata"]["name"].startswith("page-")
    ]
    assert names == [f"page-{i:03d}" for i in range(120)]
    assert "continue" not in listed["metadata"]
    streamed = [c async for c in client.iterate("configmaps", page_size=7)]
    assert len([c for c in streamed if c["metadata"]["name"].startswith("page-")]) == 120


async def test_delete_collection_by_label(client: Client) -> None:
    for i in range(3):
        cm = configmap(f"lbl-{i}")
        cm["metadata"]["labels"] = {"sweep": "yes" if i < 2 else "no"}
        await client.create(cm)
    await client.delete_collection("configmaps", label_selector="sweep=yes")
    left = await client.list("configmaps", label_selector="sweep")
    assert [c["metadata"]["name"] for c in left["items"]] == ["lbl-2"]


def test_the_sync_facade_does_the_same(sync_client: SyncClient) -> None:
    sync_client.create(configmap("sync", a="1"))
    assert sync_client.get("cm", "sync")["data"] == {"a": "1"}
    sync_client.patch("cm", "sync", {"data": {"a": "2"}})
    names = [c["metadata"]["name"] for c in sync_client.iterate("cm")]
    assert "sync" in names
    sync_client.delete("cm", "sync")
    with pytest.raises(NotFound):
        sync_client.get("cm", "sync")
