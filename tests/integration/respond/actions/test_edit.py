"""patch, label, annotate, switchService and isolate against the API server: each
planned, executed, repeated with the same action id and dry-run, read back."""

from __future__ import annotations

import json

import pytest

from kubeops.api import Client
from kubeops.errors import NotFound
from kubeops.respond.actions import ActionError
from kubeops.respond.actions.base import MARK_PREFIX
from kubeops.respond.actions.isolate import ISOLATED_LABELS, POLICY_NAME, QUARANTINE_LABEL
from kubeops.testenv import async_eventually

from .helpers import context, deployment, event_about, pod, run


def args_of(obj: dict) -> list[str]:
    return list(obj["spec"]["template"]["spec"]["containers"][0].get("args") or [])


async def test_a_json_patch_applies_once_per_action_id(client: Client) -> None:
    obj = await client.create(deployment("web"))
    event = event_about(obj)
    params = {
        "type": "json",
        "patch": [{"op": "add", "path": "/spec/template/spec/containers/0/args", "value": []},
                  {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "${event.name}"}],
    }  # fmt: skip

    plan, done = await run("patch", params, context(client, event, dry_run=True))
    assert plan.summary == f"json patch deployment/{client.namespace}/web"
    assert "dry run" in done
    assert args_of(await client.get("deployments", "web")) == []

    ctx = context(client, event)
    await run("patch", params, ctx)
    patched = await client.get("deployments", "web")
    assert args_of(patched) == ["modified"]
    assert patched["metadata"]["annotations"][MARK_PREFIX + "patched"] == ctx.action_id

    again, done_again = await run("patch", params, ctx)
    assert again.details["done"] is True
    assert "already changed" in done_again
    assert args_of(await client.get("deployments", "web")) == ["modified"]


async def test_merge_and_strategic_patches(client: Client) -> None:
    cm = await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    )
    event = event_about(cm, payload_key="x")
    await run(
        "patch", {"patch": {"data": {"b": "${event.name}", "a": None}}}, context(client, event)
    )
    assert (await client.get("configmaps", "c"))["data"] == {"b": "modified"}

    await client.create(deployment("web"))
    target = {"kind": "Deployment", "name": "web"}
    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:9"}]}}}}
    await run(
        "patch", {"target": target, "type": "strategic", "patch": body}, context(client, event)
    )
    containers = (await client.get("deployments", "web"))["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "app:9")]


async def test_label_and_annotate(client: Client) -> None:
    cm = await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"old": "x"}}}
    )
    event = event_about(cm)
    labels = {"labels": {"seen": "${event.name}", "old": None}}

    plan, _ = await run("label", labels, context(client, event, dry_run=True))
    assert plan.summary == f"set labels old, seen=modified on configmap/{client.namespace}/c"
    assert (await client.get("configmaps", "c"))["metadata"]["labels"] == {"old": "x"}

    ctx = context(client, event)
    await run("label", labels, ctx)
    await run("label", labels, ctx)
    assert (await client.get("configmaps", "c"))["metadata"]["labels"] == {"seen": "modified"}

    await run("annotate", {"annotations": {"why": "rule ${event.source}"}}, ctx)
    assert (await client.get("configmaps", "c"))["metadata"]["annotations"] == {
        "why": "rule resource"
    }


async def test_switch_service_to_the_standby(client: Client) -> None:
    await client.create(pod("db-0", role="primary", app="db"))
    await client.create(pod("db-1", role="standby", app="db"))
    await client.create(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
         "spec": {"selector": {"app": "db", "role": "primary", "tier": "x"}, "ports": [{"port": 5432}]}}
    )  # fmt: skip
    event = event_about(None, "server_down", "http", service="db")
    params = {"service": {"name": "${payload.service}", "namespace": client.namespace},
              "selector": {"app": "db", "role": "standby"}}  # fmt: skip

    plan, _ = await run("switchService", params, context(client, event, dry_run=True))
    assert plan.summary == (
        f"switch service/{client.namespace}/db selector from app=db,role=primary,tier=x "
        "to app=db,role=standby (1 Pods)"
    )
    assert (await client.get("services", "db"))["spec"]["selector"]["role"] == "primary"

    ctx = context(client, event)
    _, done = await run("switchService", params, ctx)
    assert done == f"switched service/{client.namespace}/db to app=db,role=standby"
    assert (await client.get("services", "db"))["spec"]["selector"] == {
        "app": "db",
        "role": "standby",
    }
    again, _ = await run("switchService", params, ctx)
    assert "(already)" in again.summary

    nowhere = {**params, "selector": {"role": "none"}}
    with pytest.raises(
        ActionError,
        match=r"^switchService service/.*/db: no Pod matches the new selector role=none",
    ):
        await run("switchService", nowhere, ctx)
    assert (await client.get("services", "db"))["spec"]["selector"] == {
        "app": "db",
        "role": "standby",
    }


async def test_isolate_takes_the_pod_out_of_its_services_and_off_the_network(
    client: Client,
) -> None:
    obj = await client.create(pod("web-1", app="web", tier="front", keep="yes"))
    await client.create(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web", "tier": "front"}, "ports": [{"port": 80}]}}
    )  # fmt: skip
    await client.create(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other"},
         "spec": {"selector": {"app": "other"}, "ports": [{"port": 80}]}}
    )  # fmt: skip
    event = event_about(obj, "ConfigChanged", "resource")

    plan, _ = await run("isolate", {}, context(client, event, dry_run=True))
    assert (
        plan.summary
        == f"isolate pod/{client.namespace}/web-1: remove labels app, tier, deny all traffic"
    )
    assert (await client.get("pods", "web-1"))["metadata"]["labels"] == {
        "app": "web",
        "tier": "front",
        "keep": "yes",
    }
    with pytest.raises(NotFound):
        await client.get("networkpolicies.networking.k8s.io", POLICY_NAME)

    ctx = context(client, event)
    await run("isolate", {}, ctx)
    isolated = await client.get("pods", "web-1")
    assert isolated["metadata"]["labels"] == {"keep": "yes", QUARANTINE_LABEL: "true"}
    assert json.loads(isolated["metadata"]["annotations"][ISOLATED_LABELS]) == {
        "app": "web",
        "tier": "front",
    }
    policy = await client.get("networkpolicies.networking.k8s.io", POLICY_NAME)
    assert policy["spec"]["podSelector"] == {"matchLabels": {QUARANTINE_LABEL: "true"}}
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert not policy["spec"].get("ingress")
    assert not policy["spec"].get("egress")

    again, _ = await run("isolate", {}, ctx)
    assert again.summary == f"isolate pod/{client.namespace}/web-1: already isolated"
    kept = await client.get("pods", "web-1")
    assert kept["metadata"]["labels"] == {"keep": "yes", QUARANTINE_LABEL: "true"}
    assert json.loads(kept["metadata"]["annotations"][ISOLATED_LABELS]) == {
        "app": "web",
        "tier": "front",
    }


async def test_isolate_spares_a_successor_with_the_same_name(client: Client) -> None:
    first = await client.create(pod("web-2", held=True, app="web"))
    await client.delete("pods", "web-2", grace_period_seconds=0)

    async def gone() -> bool:
        with pytest.raises(NotFound):
            await client.get("pods", "web-2")
        return True

    await async_eventually(gone, message="pod web-2 gone")
    await client.create(pod("web-2", held=True, app="web"))
    await run("isolate", {}, context(client, event_about(first)))
    assert (await client.get("pods", "web-2"))["metadata"]["labels"] == {"app": "web"}


def mounting(name: str, how: str, **labels: str) -> dict:
    spec = pod(name, **labels)
    container = spec["spec"]["containers"][0]
    if how == "volume":
        spec["spec"]["volumes"] = [{"name": "conf", "configMap": {"name": "settings"}}]
        container["volumeMounts"] = [{"name": "conf", "mountPath": "/etc/app"}]
    elif how == "projected":
        spec["spec"]["volumes"] = [
            {"name": "conf", "projected": {"sources": [{"configMap": {"name": "settings"}}]}}
        ]
    elif how == "envFrom":
        container["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    elif how == "env":
        container["env"] = [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}}}
        ]
    elif how == "secret":
        spec["spec"]["volumes"] = [{"name": "conf", "secret": {"secretName": "settings"}}]
    return spec


async def test_isolate_the_pods_using_a_changed_configmap(client: Client) -> None:
    cm = await client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"a": "1"},
        }
    )
    for name, how in [("p-volume", "volume"), ("p-projected", "projected"), ("p-envfrom", "envFrom"),
                      ("p-env", "env"), ("p-secret", "secret"), ("p-none", "")]:  # fmt: skip
        await client.create(mounting(name, how, app="web"))
    await client.create(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    )  # fmt: skip
    event = event_about(cm, "added")
    users = ["p-env", "p-envfrom", "p-projected", "p-volume"]

    plan, _ = await run("isolate", {}, context(client, event, dry_run=True))
    assert plan.details["pods"] == users
    assert plan.summary == (
        f"isolate 4 Pods using configmap/{client.namespace}/settings ({', '.join(users)}): "
        "remove labels app, deny all traffic"
    )
    ctx = context(client, event)
    await run("isolate", {}, ctx)
    for name in [*users, "p-secret", "p-none"]:
        labels = (await client.get("pods", name))["metadata"]["labels"]
        assert labels == ({QUARANTINE_LABEL: "true"} if name in users else {"app": "web"}), name

    # A replacement started after the isolation uses the ConfigMap too, but is not a suspect.
    await client.create(mounting("p-new", "volume", app="web"))
    again, _ = await run("isolate", {}, ctx)
    assert again.summary.endswith(": already isolated")
    assert (await client.get("pods", "p-new"))["metadata"]["labels"] == {"app": "web"}

    other = await client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unused"}}
    )
    nothing, done = await run("isolate", {}, context(client, event_about(other)))
    assert (
        nothing.summary
        == f"isolate: no Pod uses configmap/{client.namespace}/unused; nothing to do"
    )
    assert done == f"no Pod uses configmap/{client.namespace}/unused; nothing isolated"
