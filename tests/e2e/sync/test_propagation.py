"""Create, update and delete on the source reach every target; overrides land only on
the targets they name (the issue's first two scenarios)."""

from __future__ import annotations

from typing import Any

from integration.sync.conftest import (
    SOURCE,
    TARGETS,
    MakePolicy,
    StartController,
    SyncWorld,
    configmap,
    create,
    delete,
    deployment,
    names,
    patch,
    read,
    sync_labels,
    target_status,
)
from kubeops.sync.ownership import FIELD_MANAGER, POLICY_LABEL, SOURCE_ANNOTATION
from kubeops.testenv import eventually

PRODUCTION = {"env": "production"}


def selected(namespace: str) -> list[dict[str, Any]]:
    """Production Deployments and ConfigMaps of ``namespace``."""
    return [
        {
            "apiGroup": "apps",
            "kind": "Deployment",
            "namespaces": [namespace],
            "matchLabels": PRODUCTION,
        },
        {"apiGroup": "", "kind": "ConfigMap", "namespaces": [namespace], "matchLabels": PRODUCTION},
    ]


def test_create_update_and_delete_on_the_source_reach_every_target(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source, targets = sync_world.source, sync_world.targets
    create(source, deployment("web", sync_ns, labels=PRODUCTION, replicas=2))
    create(source, configmap("settings", sync_ns, {"mode": "a"}, labels=PRODUCTION))
    create(source, configmap("staging-only", sync_ns, {"mode": "s"}, labels={"env": "staging"}))
    policy = make_policy(targetClusters=list(TARGETS), resources=selected(sync_ns))
    controller = start_controller()

    def copied(target: str, kind: str, name: str) -> dict[str, Any]:
        found = read(targets[target], kind, sync_ns, name)
        assert found is not None, f"{kind} {name} not on {target} yet"
        return found

    for target in TARGETS:
        web = eventually(
            lambda t=target: copied(t, "Deployment", "web"), message=f"web on {target}"
        )
        original = read(source, "Deployment", sync_ns, "web")
        assert original is not None
        assert web["spec"] == original["spec"]
        assert sync_labels(web) == PRODUCTION
        assert web["metadata"]["labels"][POLICY_LABEL] == policy
        assert web["metadata"]["annotations"][SOURCE_ANNOTATION] == f"{SOURCE}/{sync_ns}/web"
        managers = {entry["manager"] for entry in web["metadata"]["managedFields"]}
        assert FIELD_MANAGER in managers, managers
        settings = eventually(lambda t=target: copied(t, "ConfigMap", "settings"))
        assert settings["data"] == {"mode": "a"}

    # Created, changed and deleted while the controller runs.
    create(source, configmap("late", sync_ns, {"n": "1"}, labels=PRODUCTION))
    patch(source, "Deployment", sync_ns, "web", {"spec": {"replicas": 4}})
    patch(source, "ConfigMap", sync_ns, "settings", {"data": {"mode": "b"}})
    for target in TARGETS:
        eventually(
            lambda t=target: copied(t, "Deployment", "web")["spec"]["replicas"] == 4,
            message=f"replicas 4 on {target}",
        )
        eventually(
            lambda t=target: copied(t, "ConfigMap", "settings")["data"] == {"mode": "b"},
            message=f"settings changed on {target}",
        )
        eventually(lambda t=target: copied(t, "ConfigMap", "late")["data"] == {"n": "1"})
    delete(source, "ConfigMap", sync_ns, "settings")
    for target in TARGETS:
        eventually(
            lambda t=target: read(targets[t], "ConfigMap", sync_ns, "settings") is None,
            message=f"settings deleted on {target}",
        )
        # Everything after the deletion has been processed: the unselected one never came.
        assert "staging-only" not in names(targets[target], "ConfigMap", sync_ns)
        assert read(targets[target], "Deployment", sync_ns, "web") is not None
    for target in TARGETS:
        eventually(
            lambda t=target: target_status(sync_world.hub, policy, t).get("inSync") == 2,
            message=f"the policy's status: 2 objects in sync on {target}",
        )
    # Its metrics count the same writes: web, settings and late created, settings deleted.
    operations = "kubeops_sync_operations_total"
    assert controller.metric(operations, policy=policy, action="create") == 6
    assert controller.metric(operations, policy=policy, action="delete") == 2
    assert controller.metric(operations, policy=policy, action="apply") >= 4


def test_overrides_land_only_on_the_targets_they_name(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source, targets = sync_world.source, sync_world.targets
    b, c = TARGETS
    create(
        source,
        deployment("api", sync_ns, labels=PRODUCTION, replicas=2, containers=("web", "sidecar")),
    )
    create(source, configmap("settings", sync_ns, {"mode": "source"}, labels=PRODUCTION))
    make_policy(
        targetClusters=list(TARGETS),
        resources=selected(sync_ns),
        overrides=[
            {
                "targetClusters": [b],
                "resources": [{"apiGroup": "apps", "kind": "Deployment"}],
                "replicas": 5,
                "image": "nginx:1.27",
                "labels": {"tier": "b"},
            },
            {
                "targetClusters": [c],
                "resources": [{"apiGroup": "apps", "kind": "Deployment"}],
                "containerImages": {"sidecar": "envoy:1.30"},
                "annotations": {"region": "c"},
                "jsonPatch": [
                    {
                        "op": "add",
                        "path": "/spec/template/spec/containers/0/env",
                        "value": [{"name": "REGION", "value": "c"}],
                    }
                ],
            },
            {
                "targetClusters": [b],
                "resources": [{"apiGroup": "", "kind": "ConfigMap"}],
                "jsonPatch": [{"op": "replace", "path": "/data/mode", "value": "b"}],
            },
        ],
    )
    start_controller()

    def api(target: str) -> dict[str, Any]:
        found = read(targets[target], "Deployment", sync_ns, "api")
        assert found is not None
        return found

    on_b = eventually(lambda: api(b)["spec"]["replicas"] == 5 and api(b), message="api on b")
    containers = on_b["spec"]["template"]["spec"]["containers"]
    assert [x["image"] for x in containers] == ["nginx:1.27", "nginx:1.27"]
    assert all("env" not in x for x in containers)
    assert on_b["metadata"]["labels"]["tier"] == "b"
    assert "region" not in (on_b["metadata"].get("annotations") or {})

    on_c = eventually(lambda: api(c), message="api on c")
    assert on_c["spec"]["replicas"] == 2
    containers = on_c["spec"]["template"]["spec"]["containers"]
    assert [x["image"] for x in containers] == ["nginx:1.25", "envoy:1.30"]
    assert containers[0]["env"] == [{"name": "REGION", "value": "c"}]
    assert "env" not in containers[1]
    assert on_c["metadata"]["annotations"]["region"] == "c"
    assert "tier" not in on_c["metadata"]["labels"]

    def mode(target: str) -> str | None:
        found = read(targets[target], "ConfigMap", sync_ns, "settings")
        return None if found is None else found["data"]["mode"]

    eventually(lambda: mode(b) == "b", message="the ConfigMap's patch on b")
    eventually(lambda: mode(c) == "source", message="the ConfigMap as the source has it on c")

    # The source is untouched, and a source change keeps each target's overrides.
    original = read(source, "Deployment", sync_ns, "api")
    assert original is not None
    assert original["spec"]["replicas"] == 2
    assert "tier" not in original["metadata"]["labels"]
    patch(source, "Deployment", sync_ns, "api", {"spec": {"replicas": 3}})
    eventually(lambda: api(c)["spec"]["replicas"] == 3, message="the new replicas on c")
    assert api(b)["spec"]["replicas"] == 5
    assert api(c)["spec"]["template"]["spec"]["containers"][1]["image"] == "envoy:1.30"
