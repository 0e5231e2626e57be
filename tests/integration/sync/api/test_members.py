"""Members on the real hub: join, connect, probe and the Ready condition; and the RBAC the
sync's own manifests grant is enough for its work and no more."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.config import write_kubeconfig
from kubeops.errors import AlreadyExists, Forbidden, NotFound
from kubeops.sync.install import CONTROLLER, install
from kubeops.sync.members import (
    MemberError,
    connect,
    get_member,
    join,
    list_members,
    probe,
    update_member_status,
)
from kubeops.sync.model import SYSTEM_NAMESPACE, ResourceSelector, SyncPolicy
from kubeops.sync.rbac import member_rbac, resolve_resources
from kubeops.testenv import Cluster, Environment, async_eventually
from kubeops.testenv import kubeconfig as testenv_kubeconfig

MEMBERS = "memberclusters.sync.kubeops.io"


@pytest.fixture
async def hub(sync_env: Environment) -> AsyncIterator[Client]:
    """An admin client of the hub with the sync installed."""
    async with Client.from_kubeconfig(sync_env.cluster("hub").kubeconfig) as client:
        await install(client)
        yield client


@pytest.fixture
def name() -> str:
    """A member name no other test uses."""
    return f"api-{uuid.uuid4().hex[:6]}"


async def _forget(hub: Client, name: str) -> None:
    for kind, namespace in ((MEMBERS, None), ("secrets", SYSTEM_NAMESPACE)):
        with contextlib.suppress(NotFound):
            await hub.delete(kind, f"member-{name}" if namespace else name, namespace)


async def test_join_then_connect_reaches_the_member(
    hub: Client, sync_env: Environment, name: str
) -> None:
    b = sync_env.cluster("cluster-b")
    text = b.kubeconfig.read_text()
    secret, _ = await join(hub, name, text, labels={"region": "b"})
    try:
        assert secret["metadata"]["name"] == f"member-{name}"
        assert "data" not in secret  # what join returns is printed
        assert "managedFields" not in secret["metadata"]
        await join(hub, name, text, labels={"region": "b2"})  # joining again updates
        member = await get_member(hub, name)
        assert member.labels == {"region": "b2"}
        assert name in [m.name for m in await list_members(hub)]
        async with await connect(hub, name) as client:
            assert client.config.server == b.server
            assert client.transport.limiter.burst == 400
            ready, version = await probe(client)
            assert ready, version
            assert version.startswith("v1.")
            assert (await client.get("namespaces", "kube-system"))["metadata"]["name"]
    finally:
        await _forget(hub, name)


async def test_connect_without_the_secret_says_which_member_and_secret(
    hub: Client, name: str, sync_env: Environment
) -> None:
    await join(hub, name, sync_env.cluster("cluster-b").kubeconfig.read_text())
    try:
        await hub.delete("secrets", f"member-{name}", SYSTEM_NAMESPACE)
        with pytest.raises(MemberError) as missing:
            await connect(hub, name)
        assert str(missing.value) == (
            f"MemberCluster {name!r}: its kubeconfig Secret kubeops-sync/member-{name} "
            "does not exist"
        )
        bad = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"member-{name}", "namespace": SYSTEM_NAMESPACE},
            "stringData": {"kubeconfig": "clusters: {}"},
        }
        await hub.create(bad)
        with pytest.raises(MemberError) as malformed:
            await connect(hub, name)
        message = str(malformed.value)
        assert message.startswith(f"MemberCluster {name!r}: kubeconfig Secret kubeops-sync/")
        assert "clusters must be a list" in message
        assert "\n" not in message
    finally:
        await _forget(hub, name)
    with pytest.raises(MemberError, match="not found on the hub"):
        await connect(hub, name)


async def test_ready_condition_keeps_its_transition_time(
    hub: Client, name: str, sync_env: Environment
) -> None:
    await join(hub, name, None, mode="Pull")
    try:
        first = await update_member_status(hub, name, True, "ok", "v1.37.2")
        (ready,) = first["status"]["conditions"]
        assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "Reachable")
        again = await update_member_status(hub, name, True, "still ok")
        (same,) = again["status"]["conditions"]
        assert same["lastTransitionTime"] == ready["lastTransitionTime"]
        assert same["message"] == "still ok"
        assert again["status"]["kubernetesVersion"] == "v1.37.2"
        assert again["status"]["lastProbeTime"] != first["status"]["lastProbeTime"]
        down = await update_member_status(hub, name, False, "connection refused")
        (flipped,) = down["status"]["conditions"]
        assert flipped["status"] == "False"
        assert flipped["lastTransitionTime"] != ready["lastTransitionTime"]
    finally:
        await _forget(hub, name)


async def test_probe_of_a_stopped_server_says_why(tmp_path: Path) -> None:
    config = testenv_kubeconfig.kubeconfig("gone", "https://127.0.0.1:1", b"", "nobody", {})
    path = write_kubeconfig(tmp_path / "gone", config)
    async with Client.from_kubeconfig(path) as client:
        ready, why = await probe(client, timeout=2)
    assert not ready
    assert why


# -- RBAC, exercised -------------------------------------------------------------------------


async def _account_client(
    admin: Client, cluster: Cluster, account: str, namespace: str, path: Path
) -> Client:
    """A client authenticated as a ServiceAccount (a TokenRequest token)."""
    token = await admin.create(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
        namespace,
        kind="serviceaccounts",
        name=account,
        subresource="token",
    )
    config = testenv_kubeconfig.kubeconfig(
        cluster.name,
        cluster.server,
        cluster.pki.ca.cert_pem,
        account,
        {"token": token["status"]["token"]},
    )
    return Client.from_kubeconfig(write_kubeconfig(path, config))


async def test_the_controllers_hub_rbac_is_enough_and_no_more(
    hub: Client, sync_env: Environment, tmp_path: Path
) -> None:
    cluster = sync_env.cluster("hub")
    async with await _account_client(
        hub, cluster, CONTROLLER, SYSTEM_NAMESPACE, tmp_path / "c"
    ) as controller:
        await controller.list("clustersyncpolicies.sync.kubeops.io")
        await controller.list(MEMBERS)
        await controller.list("secrets", SYSTEM_NAMESPACE)
        await controller.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeops-member-x"}},
            dry_run=True,
        )

        async def elsewhere_refused() -> str:
            elsewhere = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}}
            with pytest.raises(Forbidden) as refused:
                await controller.create(elsewhere, dry_run=True)
            assert "may create only namespaces kubeops-member-<member>" in str(refused.value)
            return str(refused.value)

        # The admission policy takes effect once the API server has loaded it.
        await async_eventually(elsewhere_refused, message="the namespace guard in force")
        with pytest.raises(Forbidden):
            await controller.list("secrets", "default")
        with pytest.raises(Forbidden):
            await controller.delete(MEMBERS, "anything")
        with pytest.raises(Forbidden):
            await controller.list("configmaps", SYSTEM_NAMESPACE)


async def test_an_agents_hub_rbac_covers_its_own_member_only(
    hub: Client, sync_env: Environment, tmp_path: Path, name: str
) -> None:
    await join(hub, name, None, mode="Pull")
    try:
        await install(hub, agent=name)
        account = f"kubeops-sync-agent-{name}"
        work_ns = f"kubeops-member-{name}"
        cluster = sync_env.cluster("hub")
        async with await _account_client(hub, cluster, account, work_ns, tmp_path / "a") as agent:
            await agent.list("syncworks.sync.kubeops.io", work_ns)
            status = {"status": {"agent": {"identity": "test", "objects": 0}}}
            await agent.patch(MEMBERS, name, status, subresource="status")
            with pytest.raises(Forbidden):
                await agent.list(MEMBERS)
            with pytest.raises(Forbidden):
                await agent.list("syncworks.sync.kubeops.io", "kubeops-member-other")
            with pytest.raises(Forbidden):
                await agent.patch(MEMBERS, name, {"metadata": {"labels": {"x": "y"}}})
    finally:
        await _forget(hub, name)


async def test_a_members_rbac_lets_the_sync_write_its_kinds_and_nothing_else(
    sync_env: Environment, tmp_path: Path
) -> None:
    b = sync_env.cluster("cluster-b")
    policy = SyncPolicy(
        "web",
        "cluster-a",
        ("cluster-b",),
        resources=(ResourceSelector("apps", "Deployment"), ResourceSelector("", "ConfigMap")),
    )
    ns = f"api-rbac-{uuid.uuid4().hex[:6]}"
    async with Client.from_kubeconfig(b.kubeconfig) as admin:
        resources = await resolve_resources(admin, [policy])
        assert resources == {("apps", "Deployment"): "deployments", ("", "ConfigMap"): "configmaps"}
        for obj in member_rbac([policy], resources=resources):
            await admin.apply(obj, field_manager="test", force=True)
        account = "kubeops-sync-member"
        async with await _account_client(
            admin, b, account, SYSTEM_NAMESPACE, tmp_path / "m"
        ) as sync:
            namespace: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns},
            }
            await sync.create(namespace)
            cm = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": ns},
            }
            await sync.apply(cm, field_manager="kubeops-sync", force=True)
            await sync.delete("configmaps", "c", ns)
            await sync.list("deployments.apps", all_namespaces=True)
            with pytest.raises(Forbidden):
                await sync.list("secrets", ns)
            with pytest.raises(Forbidden):
                await sync.delete("namespaces", ns)
        await admin.delete("namespaces", ns)


async def test_an_agents_member_rbac_holds_its_lease_and_no_other(
    sync_env: Environment, tmp_path: Path
) -> None:
    c = sync_env.cluster("cluster-c")
    policy = SyncPolicy(
        "cm", "cluster-a", ("cluster-c",), resources=(ResourceSelector("", "ConfigMap"),)
    )
    async with Client.from_kubeconfig(c.kubeconfig) as admin:
        for obj in member_rbac([policy], agent=True):
            await admin.apply(obj, field_manager="test", force=True)
        async with await _account_client(
            admin, c, "kubeops-sync-agent", SYSTEM_NAMESPACE, tmp_path / "agent"
        ) as agent:
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": "kubeops-sync-agent", "namespace": SYSTEM_NAMESPACE},
                "spec": {"holderIdentity": "me"},
            }
            with contextlib.suppress(AlreadyExists):
                await agent.create(lease)
            held = await agent.get("leases", "kubeops-sync-agent", SYSTEM_NAMESPACE)
            await agent.replace({**held, "spec": {"holderIdentity": "me-again"}})
            other = {**lease, "metadata": {**lease["metadata"], "name": "someone-elses"}}
            await admin.create(other)
            try:
                with pytest.raises(Forbidden):
                    await agent.get("leases", "someone-elses", SYSTEM_NAMESPACE)
                with pytest.raises(Forbidden):
                    await agent.list("leases", "kube-system")
            finally:
                await admin.delete("leases", "someone-elses", SYSTEM_NAMESPACE)
