"""Watch streams, discovery of new CRDs, RBAC denials and real transport faults."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kubeops.api import Backoff, Client, RetryPolicy, UnknownKind
from kubeops.api.manifest import wait_for_crd_established
from kubeops.config import load_config
from kubeops.errors import CircuitOpen, ConnectionFailed, Forbidden, Gone, TooManyRequests
from kubeops.testenv import Cluster, Environment, async_eventually
from kubeops.transport.breaker import CircuitBreaker

FLOWCONTROL = "/apis/flowcontrol.apiserver.k8s.io/v1"
# Requests sent at once to a priority level that runs one at a time.
BURST = 10


async def test_watch_sees_added_modified_deleted_in_order(client: Client) -> None:
    start = (await client.list("configmaps"))["metadata"]["resourceVersion"]

    async def writes() -> None:
        await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}})
        await client.patch("cm", "w", {"data": {"k": "v"}})
        await client.delete("cm", "w")

    await writes()
    seen = []
    async for event in client.watch("configmaps", resource_version=start, timeout_seconds=2):
        if event.object["metadata"].get("name") == "w":
            seen.append(event.type)
        if len(seen) == 3:
            break
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


async def test_watch_from_a_compacted_revision_raises_gone(
    kube_env: Environment, client: Client
) -> None:
    old = await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}})
    await client.patch("cm", "o", {"data": {"a": "b"}})
    kube_env.compact()
    rv = old["metadata"]["resourceVersion"]

    async def gone() -> bool:
        try:
            async for _ in client.watch("configmaps", resource_version=rv):
                pytest.fail("a compacted resourceVersion must not stream events")
        except Gone:
            return True
        # Right after the restart the watch cache may still be initialising (a 429,
        # which async_eventually retries).
        return False

    await async_eventually(gone, message="410 Gone for the compacted resourceVersion")
    with pytest.raises(Gone, match=r"watch configmaps .*too old resource version.*\(410\)"):
        async for _ in client.watch("configmaps", resource_version=rv):
            pass


async def test_a_crd_created_after_start_is_found_by_discovery(client: Client) -> None:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "singular": "widget",
                "shortNames": ["wg"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    await client.apply(crd)
    await wait_for_crd_established(client, "widgets.example.com", timeout=30)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "size": 3,
    }
    created = await client.create(widget)
    assert created["size"] == 3
    assert (await client.get("wg", "w1"))["metadata"]["name"] == "w1"
    with pytest.raises(UnknownKind, match=r"'widgetz'.*did you mean widgets"):
        await client.get("widgetz", "w1")


async def test_forbidden_names_who_what_and_where(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "viewer",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        kube_namespace,
    )
    async with Client(load_config(kubeconfig)) as client:
        with pytest.raises(Forbidden) as caught:
            await client.list("secrets")
    message = str(caught.value)
    assert f'list secrets in namespace "{kube_namespace}"' in message
    assert f"system:serviceaccount:{kube_namespace}:viewer" in message


async def test_requests_ride_through_an_api_server_restart(kube_clusters: list[Cluster]) -> None:
    cluster = kube_clusters[0]
    fast = RetryPolicy(backoff=Backoff(base=0.2, cap=1.0))
    async with Client(load_config(cluster.kubeconfig), retry=fast) as client:
        await client.get("ns", "default")
        restart = asyncio.get_running_loop().run_in_executor(None, cluster.restart_apiserver)
        results = []
        while not restart.done():
            results.append((await client.get("ns", "default"))["metadata"]["name"])
            await asyncio.sleep(0.05)
        await restart
        results.append((await client.get("ns", "default"))["metadata"]["name"])
    assert len(results) >= 2
    assert set(results) == {"default"}


async def test_unreachable_cluster_fails_with_address_and_cause_then_fails_fast(
    kube_clusters: list[Cluster],
) -> None:
    cluster = kube_clusters[1]
    config = load_config(cluster.kubeconfig)
    cluster.stop()
    try:
        no_retry = RetryPolicy(max_retries=0)
        breaker = CircuitBreaker(config.server, failure_threshold=2, cooldown=60)
        async with Client(config, retry=no_retry, breaker=breaker) as client:
            for _ in range(2):
                with pytest.raises(ConnectionFailed) as caught:
                    await client.get("ns", "default")
                assert config.server in str(caught.value)
                assert 'get namespaces "default"' in str(caught.value)
            started = time.monotonic()
            with pytest.raises(CircuitOpen, match="circuit breaker open"):
                await client.get("ns", "default")
            assert time.monotonic() - started < 0.5
    finally:
        cluster.start()


def _rejected(metrics: str, priority_level: str) -> float:
    """Requests API Priority and Fairness has rejected at ``priority_level`` (any reason)."""
    label = f'priority_level="{priority_level}"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("apiserver_flowcontrol_rejected_requests_total{") and label in line
    )


async def test_a_429_from_priority_and_fairness_is_waited_out_as_retry_after_asks(
    kube_cluster: Cluster, kube_namespace: str, client: Client
) -> None:
    # A priority level with no seats of its own, none to borrow and no queue admits a
    # request of the ServiceAccount its FlowSchema matches only while none other of its
    # runs: a burst gets real 429s with Retry-After from the real API server, until the
    # FlowSchema is deleted.
    name = f"kubeops-throttled-{kube_namespace}"
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "throttled",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        kube_namespace,
    )
    admin = kube_cluster.admin
    admin.create(
        f"{FLOWCONTROL}/prioritylevelconfigurations",
        {
            "metadata": {"name": name},
            "spec": {
                "type": "Limited",
                "limited": {
                    "nominalConcurrencyShares": 0,
                    "lendablePercent": 0,
                    "borrowingLimitPercent": 0,
                    "limitResponse": {"type": "Reject"},
                },
            },
        },
    )
    subject = {
        "kind": "ServiceAccount",
        "serviceAccount": {"name": "throttled", "namespace": kube_namespace},
    }
    admin.create(
        f"{FLOWCONTROL}/flowschemas",
        {
            "metadata": {"name": name},
            "spec": {
                "priorityLevelConfiguration": {"name": name},
                "matchingPrecedence": 500,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [
                    {
                        "subjects": [subject],
                        "resourceRules": [
                            {
                                "verbs": ["*"],
                                "apiGroups": ["*"],
                                "resources": ["*"],
                                "namespaces": ["*"],
                                "clusterScope": True,
                            }
                        ],
                    }
                ],
            },
        },
    )
    try:
        async with Client(load_config(kubeconfig), retry=RetryPolicy(max_retries=0)) as probe:

            async def rejected() -> TooManyRequests | None:
                burst = [probe.list("configmaps") for _ in range(BURST)]
                answers = await asyncio.gather(*burst, return_exceptions=True)
                unexpected = [a for a in answers if isinstance(a, BaseException)]
                assert all(isinstance(a, TooManyRequests) for a in unexpected), unexpected
                return next((a for a in unexpected if isinstance(a, TooManyRequests)), None)

            first = await async_eventually(
                rejected, message="API Priority and Fairness to reject part of a burst"
            )
        assert first.retry_after is not None
        assert first.retry_after >= 1

        async def rejections() -> float:
            metrics = await client.request("GET", "/metrics", accept="text/plain")
            return _rejected(metrics.text, name)

        before = await rejections()
        assert before >= 1
        # Backoff alone would retry in 10ms: any longer wait is the server's Retry-After.
        patient = RetryPolicy(max_retries=100, backoff=Backoff(base=0.01, cap=0.01))
        async with Client(load_config(kubeconfig), retry=patient) as throttled:

            async def timed_list() -> float:
                started = time.monotonic()
                assert "items" in await throttled.list("configmaps")
                return time.monotonic() - started

            listings: list[asyncio.Task[float]] = []

            async def one_rejected_and_waiting() -> bool:
                if await rejections() > before:
                    return True
                if all(t.done() for t in listings):  # that burst never collided: another
                    listings.extend(asyncio.create_task(timed_list()) for _ in range(BURST))
                return False

            await async_eventually(one_rejected_and_waiting, message="a list to get its 429")
            admin.delete(f"{FLOWCONTROL}/flowschemas/{name}")
            durations = await asyncio.wait_for(asyncio.gather(*listings), 60)
        # The rejected lists waited out the Retry-After, then went through.
        assert max(durations) >= first.retry_after
    finally:
        admin.delete(f"{FLOWCONTROL}/flowschemas/{name}")
        admin.delete(f"{FLOWCONTROL}/prioritylevelconfigurations/{name}")
