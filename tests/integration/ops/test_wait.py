"""``wait_for`` against the session cluster: conditions, deletion, creation and JSONPath
values, by name and by selector, with timeouts that say what was missing.  The
condition language is checked on plain dicts first (the JSONPath engine's own
tests are in tests/unit/models/test_jsonpath.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kubeops.api import Client, SyncClient
from kubeops.config import load_config
from kubeops.errors import Forbidden, KubeopsError, NotFound
from kubeops.models import JSONPathError
from kubeops.ops.wait import (
    ConditionNotMet,
    ConditionStatus,
    Created,
    Deleted,
    JSONPathValue,
    WaitError,
    WaitResult,
    WaitTimeout,
    parse_condition,
    wait_for,
)
from kubeops.testenv import Cluster

# -- the condition language, without a cluster ------------------------------------------------

DEPLOYMENT: dict[str, Any] = {
    "metadata": {
        "name": "web",
        "generation": 4,
        "annotations": {"kubernetes.io/change-cause": "x"},
    },
    "spec": {"replicas": 3, "paused": False},
    "status": {
        "observedGeneration": 4,
        "readyReplicas": 3,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
        ],
    },
}


def test_conditions_parse_as_kubectl_writes_them() -> None:
    assert parse_condition("delete") == Deleted()
    assert parse_condition("CREATE") == Created()
    assert parse_condition("condition=Available") == ConditionStatus("Available", "True")
    assert parse_condition("condition=Ready=false") == ConditionStatus("Ready", "false")
    assert parse_condition("jsonpath={.status.readyReplicas}=3") == JSONPathValue(
        "{.status.readyReplicas}", "3"
    )
    filtered = parse_condition('jsonpath={.status.conditions[?(@.type=="Ready")].status}=True')
    assert filtered == JSONPathValue('{.status.conditions[?(@.type=="Ready")].status}', "True")
    assert str(parse_condition("jsonpath=.spec.paused")) == "jsonpath=.spec.paused"
    for bad in ("ready", "condition=", "jsonpath=", "jsonpath={.a}=", "jsonpath={.a}=1=2"):
        with pytest.raises(KubeopsError):
            parse_condition(bad)
    with pytest.raises(JSONPathError, match="unclosed"):
        parse_condition("jsonpath={.status.conditions[0}")


def test_conditions_say_what_is_missing() -> None:
    assert ConditionStatus("available").missing(DEPLOYMENT) is None  # case-insensitive
    assert ConditionStatus("Progressing").missing(DEPLOYMENT) == (
        "Progressing is False (ProgressDeadlineExceeded), want True"
    )
    assert ConditionStatus("Ready").missing(DEPLOYMENT) == (
        "it has no Ready condition (it has Available=True, Progressing=False)"
    )
    stale = {**DEPLOYMENT, "metadata": {**DEPLOYMENT["metadata"], "generation": 5}}
    assert "last observed at generation 4, the object is at generation 5" in str(
        ConditionStatus("Available").missing(stale)
    )
    assert Deleted().missing(None) is None
    dying = {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a/b"]}}
    assert Deleted().missing(dying) == (
        "it still exists, being deleted since 2026-01-01T00:00:00Z, held by finalizers a/b"
    )
    assert Created().missing(None) == "it does not exist yet"
    assert JSONPathValue("{.status.readyReplicas}", "3").missing(DEPLOYMENT) is None
    assert JSONPathValue(".spec.replicas", "7").missing(DEPLOYMENT) == ".spec.replicas is 3, want 7"
    assert JSONPathValue("{.spec.paused}", "false").missing(DEPLOYMENT) is None
    assert JSONPathValue("{.status.nope}").missing(DEPLOYMENT) == "{.status.nope} is not set"
    assert JSONPathValue("{.status}").missing(DEPLOYMENT) is None  # any value will do
    with pytest.raises(JSONPathError, match="more than one value"):
        JSONPathValue("{.status.conditions[*].type}", "x").missing(DEPLOYMENT)
    with pytest.raises(JSONPathError, match="nested object"):
        JSONPathValue("{.status}", "x").missing(DEPLOYMENT)


# -- against the cluster ---------------------------------------------------------------------


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": f"{name}:1"}]},
            },
        },
    }


def configmap(name: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **metadata}}


@pytest.mark.full
async def test_waits_for_a_condition_and_for_a_jsonpath_value(client: Client) -> None:
    await client.create(deployment("web", 2))
    [available] = await wait_for(client, "deploy", "condition=Available", "web", timeout=60)
    assert str(available) == "deployment.apps/web condition met"
    assert available.object is not None
    assert available.object["status"]["availableReplicas"] == 2

    seen: list[list[WaitResult]] = []
    scaling: list[asyncio.Task[Any]] = []

    def progress(results: list[WaitResult]) -> None:
        seen.append(results)
        if not scaling:  # the wait is watching: now make the change it waits for
            scaling.append(asyncio.create_task(client.scale("deploy", "web", 3)))

    [ready] = await wait_for(
        client,
        "deployments.apps",
        "jsonpath={.status.readyReplicas}=3",
        ["web"],
        timeout=60,
        on_progress=progress,
    )
    await scaling[0]
    assert ready.met
    assert ready.object is not None
    assert ready.object["status"]["readyReplicas"] == 3
    assert seen
    assert seen[0][0].missing == "{.status.readyReplicas} is 2, want 3"


@pytest.mark.full
async def test_waits_on_every_object_a_selector_picks(client: Client) -> None:
    await client.create(deployment("pool", 3))
    await wait_for(client, "deploy", "condition=Available", "pool", timeout=60)
    results = await wait_for(
        client, "pods", "condition=Ready", label_selector="app=pool", timeout=60
    )
    assert len(results) == 3
    assert all(r.met and r.target.startswith("pod/pool-") for r in results)
    with pytest.raises(WaitError, match="no matching resources found"):
        await wait_for(client, "pods", "condition=Ready", label_selector="app=none", timeout=1)
    assert await wait_for(client, "pods", "delete", label_selector="app=none") == []


async def test_an_object_leaving_the_selector_is_not_taken_for_deleted(client: Client) -> None:
    for name in ("kept", "dropped"):
        await client.create(configmap(name, labels={"tier": "cache"}))

    async def change() -> None:
        await client.patch("cm", "kept", {"metadata": {"labels": {"tier": None}}})
        await client.delete("cm", "dropped")

    changing: list[asyncio.Task[None]] = []

    def progress(results: list[WaitResult]) -> None:
        if not changing:  # the wait is watching: now make the changes
            changing.append(asyncio.create_task(change()))

    with pytest.raises(WaitTimeout) as raised:
        await wait_for(
            client, "cm", "delete", label_selector="tier=cache", timeout=1.5, on_progress=progress
        )
    await changing[0]
    assert [(r.target, r.missing) for r in raised.value.pending] == [
        ("configmap/kept", "it still exists")
    ]
    await client.delete("cm", "kept")
    assert await wait_for(client, "cm", "delete", label_selector="tier=cache") == []


@pytest.mark.full
async def test_a_condition_that_never_holds_times_out_saying_what_is_missing(
    client: Client,
) -> None:
    await client.create(deployment("never"))
    await wait_for(client, "deploy", "condition=Available", "never", timeout=60)
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as raised:
        await wait_for(client, "deploy", "condition=Bogus", "never", timeout=1)
    assert 0.9 < time.monotonic() - started < 10
    assert str(raised.value) == (
        f'wait for condition=Bogus on deployment.apps/never in namespace "{client.namespace}": '
        "timed out after 1s: it has no Bogus condition (it has Available=True, Progressing=True)"
    )
    assert [r.target for r in raised.value.pending] == ["deployment.apps/never"]

    with pytest.raises(ConditionNotMet, match=r"condition not met: .spec.replicas is 1, want 7"):
        await wait_for(client, "deploy", "jsonpath=.spec.replicas=7", "never", timeout=0)
    with pytest.raises(NotFound, match=r'deployments.apps "absent"'):
        await wait_for(client, "deploy", "condition=Available", "absent", timeout=1)


async def test_waits_for_deletion_and_creation(client: Client) -> None:
    await client.create(configmap("doomed"))
    await client.create(configmap("held", finalizers=["kubeops.test/hold"]))

    changes: list[asyncio.Task[Any]] = []

    def delete_once_watched(results: list[WaitResult]) -> None:
        if not changes:
            changes.append(asyncio.create_task(client.delete("cm", "doomed")))
            changes.append(asyncio.create_task(client.delete("cm", "held")))

    def create_once_watched(results: list[WaitResult]) -> None:
        if len(changes) == 2:
            changes.append(asyncio.create_task(client.create(configmap("born"))))

    [gone] = await wait_for(
        client, "cm", "delete", "doomed", timeout=30, on_progress=delete_once_watched
    )
    [born] = await wait_for(
        client, "configmaps", "create", ["born"], timeout=30, on_progress=create_once_watched
    )
    await asyncio.gather(*changes)
    assert len(changes) == 3
    assert gone.met
    assert born.met
    with pytest.raises(NotFound):
        await client.get("cm", "doomed")

    # A finalizer keeps the object: the timeout names it.
    with pytest.raises(
        WaitTimeout, match=r"being deleted since .*, held by finalizers kubeops.test/hold"
    ):
        await wait_for(client, "cm", "delete", "held", timeout=0.5)
    await client.patch("cm", "held", {"metadata": {"finalizers": None}})
    [released] = await wait_for(client, "cm", "delete", "held", timeout=30)
    assert released.met
    # Already gone: nothing to wait for.
    [absent] = await wait_for(client, "cm", "delete", "never-existed", timeout=0)
    assert absent.met


async def test_a_forbidden_watch_fails_at_once(
    client: Client, kube_cluster: Cluster, kube_namespace: str
) -> None:
    await client.create(configmap("watched"))
    getter = kube_cluster.service_account_kubeconfig(
        "getter",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        namespace=kube_namespace,
    )
    async with Client(load_config(getter, namespace=kube_namespace)) as limited:
        started = time.monotonic()
        with pytest.raises(Forbidden, match="configmaps"):
            await wait_for(limited, "cm", "delete", "watched", timeout=30)
        assert time.monotonic() - started < 10


def test_the_sync_facade_waits(sync_client: SyncClient) -> None:
    sync_client.create(configmap("sync"))
    [created] = wait_for(sync_client, "cm", "create", "sync", timeout=5)
    assert created.met
    with pytest.raises(WaitTimeout):
        wait_for(sync_client, "cm", "jsonpath={.data.key}=1", "sync", timeout=0.3)
