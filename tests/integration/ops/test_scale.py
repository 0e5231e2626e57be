"""Scaling through the scale subresource against the session cluster, with preconditions,
waits, dry runs and kinds that cannot be scaled; checked against what the server holds."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.errors import NotFound
from kubeops.ops.scale import (
    NoScaleSubresource,
    ScaleError,
    ScalePreconditionFailed,
    ScaleTimeout,
    scale,
)

# Scaling with waits needs the controller-manager, the scheduler and kwok's nodes.
pytestmark = pytest.mark.full


def deployment(name: str, replicas: int, **pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": f"{name}:1"}], **pod_spec},
            },
        },
    }


async def test_scale_sets_replicas_and_waits_for_the_status(client: Client) -> None:
    await client.create(deployment("web", 1))
    progress: list[tuple[int, int]] = []
    result = await scale(
        client, "deploy", "web", 3, wait=True, timeout=60, on_progress=lambda *a: progress.append(a)
    )
    assert str(result) == "deployment.apps/web scaled"
    assert (result.previous, result.replicas, result.status_replicas) == (1, 3, 3)
    assert result.changed
    held = await client.get("deploy", "web")
    assert held["spec"]["replicas"] == 3
    assert held["status"]["replicas"] == 3
    assert all(want == 3 for _, want in progress)

    down = await scale(client, "deployments.apps", "web", 0, wait=True, timeout=60)
    assert (down.previous, down.replicas, down.status_replicas) == (3, 0, 0)
    assert (await client.get("deploy", "web"))["spec"]["replicas"] == 0


async def test_preconditions_guard_the_current_replicas_and_version(client: Client) -> None:
    await client.create(deployment("guarded", 2))
    with pytest.raises(
        ScalePreconditionFailed,
        match=r'scale deployment.apps/guarded in namespace "[^"]+": expected replicas to be 5, was 2',
    ):
        await scale(client, "deploy", "guarded", 4, current_replicas=5)
    assert (await client.get("deploy", "guarded"))["spec"]["replicas"] == 2

    ok = await scale(client, "deploy", "guarded", 4, current_replicas=2)
    assert (ok.previous, ok.replicas) == (2, 4)
    assert (await client.get("deploy", "guarded"))["spec"]["replicas"] == 4

    version = ok.object["metadata"]["resourceVersion"]
    await client.patch("deploy", "guarded", {"metadata": {"labels": {"touched": "yes"}}})
    with pytest.raises(ScalePreconditionFailed, match="expected resource version to be"):
        await scale(client, "deploy", "guarded", 1, resource_version=version)
    assert (await client.get("deploy", "guarded"))["spec"]["replicas"] == 4


async def test_kinds_without_a_scale_subresource_and_bad_input_are_refused(client: Client) -> None:
    await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}})
    with pytest.raises(
        NoScaleSubresource,
        match=r'scale configmap/cfg in namespace "[^"]+": configmaps has no scale subresource',
    ):
        await scale(client, "cm", "cfg", 2)
    with pytest.raises(NotFound, match=r'deployments.apps "ghost"'):
        await scale(client, "deploy", "ghost", 2)
    with pytest.raises(ScaleError, match="replicas must be 0 or more, not -1"):
        await scale(client, "deploy", "ghost", -1)


async def test_a_dry_run_changes_nothing_and_a_stuck_scale_times_out(client: Client) -> None:
    await client.create(deployment("dry", 1))
    dry = await scale(client, "deploy", "dry", 5, dry_run=True)
    assert str(dry) == "deployment.apps/dry scaled (server dry run)"
    assert dry.replicas == 5
    assert (await client.get("deploy", "dry"))["spec"]["replicas"] == 1

    # A StatefulSet creates its pods one at a time, each after the previous is ready;
    # with pods that cannot be scheduled, the status never reaches the new replicas.
    stuck = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "stuck"},
        "spec": {
            "replicas": 1,
            "serviceName": "stuck",
            "selector": {"matchLabels": {"app": "stuck"}},
            "template": {
                "metadata": {"labels": {"app": "stuck"}},
                "spec": {
                    "containers": [{"name": "c", "image": "c:1"}],
                    "nodeSelector": {"kubeops.test/nowhere": "true"},
                },
            },
        },
    }
    await client.create(stuck)
    with pytest.raises(
        ScaleTimeout, match=r"timed out after 1s waiting for 3 replicas; the status reports [01]"
    ):
        await scale(client, "sts", "stuck", 3, wait=True, timeout=1)
    assert (await client.get("sts", "stuck"))["spec"]["replicas"] == 3


def test_the_sync_facade_scales(sync_client: SyncClient) -> None:
    sync_client.create(deployment("blocking", 1))
    result = scale(sync_client, "deploy", "blocking", 2, wait=True, timeout=60)
    assert (result.previous, result.replicas, result.status_replicas) == (1, 2, 2)
    assert sync_client.get("deploy", "blocking")["spec"]["replicas"] == 2
