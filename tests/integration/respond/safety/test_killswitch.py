"""The kill switch on a real API server: flipping its ConfigMap pauses and resumes
every action within one watch event; deleting it resumes; no permission to watch
it is one clear error."""

from __future__ import annotations

import pytest

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.respond.killswitch import KillSwitch, KillSwitchError, set_paused
from kubeops.respond.metrics import RespondMetrics
from kubeops.testenv import Cluster, async_eventually


async def test_flipping_the_configmap_pauses_and_resumes_within_a_watch_event(
    client: Client, kube_namespace: str
) -> None:
    metrics = RespondMetrics()
    changes: list[bool] = []
    async with KillSwitch(
        client, kube_namespace, metrics=metrics, on_change=changes.append
    ) as switch:
        assert not switch.paused  # no ConfigMap: running
        await set_paused(client, kube_namespace, True)
        await async_eventually(lambda: switch.paused, timeout=10)
        assert metrics.value("kubeops_respond_paused") == 1
        await set_paused(client, kube_namespace, False)
        await async_eventually(lambda: not switch.paused, timeout=10)
        await set_paused(client, kube_namespace, True)
        await async_eventually(lambda: switch.paused, timeout=10)
        await client.delete("configmaps", "kubeops-respond-control", kube_namespace)
        await async_eventually(lambda: not switch.paused, timeout=10)
        assert metrics.value("kubeops_respond_paused") == 0
    assert changes == [True, False, True, False]


async def test_a_switch_already_on_pauses_from_the_start(
    client: Client, kube_namespace: str
) -> None:
    await set_paused(client, kube_namespace, True, name="control")
    async with KillSwitch(client, kube_namespace, "control") as switch:
        assert switch.paused
        # Other keys, or other ConfigMaps, change nothing.
        await client.patch(
            "configmaps", "control", {"data": {"note": "maintenance"}}, kube_namespace
        )
        await set_paused(client, kube_namespace, False)  # the default name: another ConfigMap
        await set_paused(client, kube_namespace, False, name="control")
        await async_eventually(lambda: not switch.paused, timeout=10)


async def test_no_permission_to_watch_the_switch_is_one_clear_error(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "no-watch",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        kube_namespace,
    )
    async with Client(load_config(kubeconfig, namespace=kube_namespace)) as limited:
        switch = KillSwitch(limited, kube_namespace)
        with pytest.raises(KillSwitchError) as caught:
            await switch.start(timeout=10)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        'respond kill switch: list configmaps "kubeops-respond-control" in namespace '
        f'"{kube_namespace}": Forbidden'
    ), message
    assert message.endswith("give the daemon's identity get, list and watch on configmaps there")


async def test_a_target_annotated_paused_is_paused(client: Client, kube_namespace: str) -> None:
    from kubeops.respond.event import ObjectRef
    from kubeops.respond.killswitch import ref_paused

    await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "held", "annotations": {"respond.kubeops.io/paused": "true"}},
        },
        kube_namespace,
    )
    await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "free"}}, kube_namespace
    )
    assert await ref_paused(
        client, ObjectRef("ConfigMap", "held", kube_namespace, api_version="v1")
    )
    assert not await ref_paused(client, ObjectRef("ConfigMap", "free", kube_namespace))
    assert not await ref_paused(client, ObjectRef("ConfigMap", "gone", kube_namespace))
    assert not await ref_paused(client, None)
