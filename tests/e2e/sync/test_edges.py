"""What the issue's scenarios imply at their edges: Orphan deletion, an object leaving
the selector, a namespace missing on the target, an object deleted by hand on a target,
a Service (server-set clusterIP), a paused policy and targets chosen by label."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from integration.sync.conftest import (
    MEMBER_PATH,
    POLICIES,
    TARGETS,
    MakePolicy,
    RegisterMember,
    StartController,
    SyncWorld,
    condition,
    configmap,
    create,
    delete,
    deployment,
    patch,
    read,
    target_status,
)
from kubeops.sync.ownership import HASH_ANNOTATION, POLICY_LABEL, SOURCE_ANNOTATION
from kubeops.testenv import eventually
from kubeops.testenv.ports import free_port


def configmaps(namespace: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"apiGroup": "", "kind": "ConfigMap", "namespaces": [namespace], **extra}]


def on_targets(world: SyncWorld, namespace: str, name: str, kind: str = "ConfigMap") -> bool:
    return all(read(world.targets[t], kind, namespace, name) is not None for t in TARGETS)


def gone_from_targets(world: SyncWorld, namespace: str, name: str) -> bool:
    return all(read(world.targets[t], "ConfigMap", namespace, name) is None for t in TARGETS)


def test_orphan_leaves_the_object_without_the_marks(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    create(sync_world.source, configmap("kept", sync_ns, {"v": "0"}))
    make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns), deletion="Orphan")
    controller = start_controller()
    eventually(lambda: on_targets(sync_world, sync_ns, "kept"), message="kept on the targets")
    delete(sync_world.source, "ConfigMap", sync_ns, "kept")

    def orphaned(target: str) -> bool:
        found = read(sync_world.targets[target], "ConfigMap", sync_ns, "kept")
        assert found is not None, f"the orphan was deleted on {target}"
        meta = found["metadata"]
        return POLICY_LABEL not in (meta.get("labels") or {}) and SOURCE_ANNOTATION not in (
            meta.get("annotations") or {}
        )

    for target in TARGETS:
        eventually(lambda t=target: orphaned(t), message=f"kept orphaned on {target}")
        held = read(sync_world.targets[target], "ConfigMap", sync_ns, "kept")
        assert held is not None
        assert held["data"] == {"v": "0"}
    assert {r.action for r in controller.writes()} >= {"create", "orphan"}
    assert "delete" not in {r.action for r in controller.writes()}


def test_an_object_leaving_the_selector_is_pruned(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    create(sync_world.source, configmap("moving", sync_ns, {"v": "0"}, labels={"sync": "yes"}))
    create(sync_world.source, configmap("staying", sync_ns, {"v": "0"}, labels={"sync": "yes"}))
    make_policy(
        targetClusters=list(TARGETS), resources=configmaps(sync_ns, matchLabels={"sync": "yes"})
    )
    start_controller()
    eventually(lambda: on_targets(sync_world, sync_ns, "moving"), message="moving synced")
    patch(
        sync_world.source, "ConfigMap", sync_ns, "moving", {"metadata": {"labels": {"sync": "no"}}}
    )
    eventually(
        lambda: gone_from_targets(sync_world, sync_ns, "moving"),
        message="the object that left the selector pruned",
    )
    assert on_targets(sync_world, sync_ns, "staying")
    assert read(sync_world.source, "ConfigMap", sync_ns, "moving") is not None


def test_a_namespace_missing_on_a_target_is_created(
    sync_world: SyncWorld, make_policy: MakePolicy, start_controller: StartController
) -> None:
    namespace = f"only-on-source-{uuid.uuid4().hex[:6]}"
    sync_world.source.admin.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
    )
    try:
        create(sync_world.source, configmap("settings", namespace, {"v": "0"}))
        make_policy(targetClusters=list(TARGETS), resources=configmaps(namespace))
        start_controller()
        eventually(lambda: on_targets(sync_world, namespace, "settings"), message="synced")
        for target in TARGETS:
            made = sync_world.targets[target].admin.get(f"/api/v1/namespaces/{namespace}")
            assert made["metadata"]["labels"]["sync.kubeops.io/created-by"] == "kubeops-sync"
        # Its objects go with the source's; the namespace the sync made stays.
        delete(sync_world.source, "ConfigMap", namespace, "settings")
        eventually(lambda: gone_from_targets(sync_world, namespace, "settings"), message="pruned")
        for target in TARGETS:
            assert sync_world.targets[target].admin.exists(f"/api/v1/namespaces/{namespace}")
    finally:
        for cluster in sync_world.members.values():
            cluster.admin.delete(f"/api/v1/namespaces/{namespace}")


def test_an_object_deleted_by_hand_on_a_target_comes_back(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    create(sync_world.source, configmap("settings", sync_ns, {"v": "0"}))
    make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    start_controller()
    eventually(lambda: on_targets(sync_world, sync_ns, "settings"), message="synced")
    b = sync_world.targets[TARGETS[0]]
    first = read(b, "ConfigMap", sync_ns, "settings")
    assert first is not None
    delete(b, "ConfigMap", sync_ns, "settings")
    eventually(
        lambda: (
            (read(b, "ConfigMap", sync_ns, "settings") or first)["metadata"]["uid"]
            != first["metadata"]["uid"]
        ),
        message="settings created again on b",
    )


def service(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def test_a_service_keeps_its_own_cluster_ip_and_is_written_once(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    made = source.admin.create(f"/api/v1/namespaces/{sync_ns}/services", service("web", sync_ns))
    make_policy(
        targetClusters=list(TARGETS),
        resources=[{"apiGroup": "", "kind": "Service", "namespaces": [sync_ns]}],
    )
    controller = start_controller()

    def copy(target: str) -> dict[str, Any]:
        found: dict[str, Any] = sync_world.targets[target].admin.get(
            f"/api/v1/namespaces/{sync_ns}/services/web"
        )
        return found

    for target in TARGETS:
        held = eventually(lambda t=target: copy(t), message=f"the Service on {target}")
        assert held["spec"]["ports"][0]["targetPort"] == 8080
        assert held["spec"]["clusterIP"]
    # A change to the Service's ports reaches the targets; nothing in between was rewritten.
    source.admin.patch(
        f"/api/v1/namespaces/{sync_ns}/services/web",
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
    )
    for target in TARGETS:
        eventually(
            lambda t=target: copy(t)["spec"]["ports"][0]["targetPort"] == 9090,
            message=f"the new port on {target}",
        )
    writes = [(r.target, r.action) for r in controller.writes()]
    assert sorted(writes) == sorted(
        [(t, "create") for t in TARGETS] + [(t, "apply") for t in TARGETS]
    ), writes
    assert made["spec"]["clusterIP"]


def test_a_paused_policy_writes_nothing_until_resumed(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    create(sync_world.source, configmap("first", sync_ns, {"v": "0"}))
    create(sync_world.source, configmap("witness", sync_ns, {"v": "0"}))
    paused = make_policy(
        targetClusters=list(TARGETS), resources=configmaps(sync_ns, names=["first"]), paused=True
    )
    make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns, names=["witness"]))
    controller = start_controller()
    # The other policy's object arrived, so the paused one was seen too.
    eventually(lambda: on_targets(sync_world, sync_ns, "witness"), message="the witness synced")
    eventually(
        lambda: (
            target_status(sync_world.hub, paused, TARGETS[0]) != {}
            or bool(sync_world.hub.admin.get(f"{POLICIES}/{paused}").get("status"))
        ),
        message="the paused policy's status written",
    )
    assert gone_from_targets(sync_world, sync_ns, "first")
    assert not controller.writes(paused)
    sync_world.hub.admin.patch(f"{POLICIES}/{paused}", {"spec": {"paused": False}})
    eventually(lambda: on_targets(sync_world, sync_ns, "first"), message="resumed")


def test_targets_chosen_by_member_labels_follow_the_labels(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    b, c = TARGETS
    create(sync_world.source, configmap("settings", sync_ns, {"v": "0"}))
    make_policy(targetSelector={"matchLabels": {"name": b}}, resources=configmaps(sync_ns))
    start_controller()
    eventually(
        lambda: read(sync_world.targets[b], "ConfigMap", sync_ns, "settings") is not None,
        message="settings on the selected member",
    )
    create(sync_world.source, configmap("later", sync_ns, {"v": "0"}))
    eventually(lambda: read(sync_world.targets[b], "ConfigMap", sync_ns, "later") is not None)
    assert read(sync_world.targets[c], "ConfigMap", sync_ns, "settings") is None
    # c joins the selection by a label: it gets everything.
    extra = {"metadata": {"labels": {"name": b}}}
    sync_world.hub.admin.patch(f"{MEMBER_PATH}/{c}", extra)
    try:
        eventually(
            lambda: (
                read(sync_world.targets[c], "ConfigMap", sync_ns, "later") is not None
                and read(sync_world.targets[c], "ConfigMap", sync_ns, "settings") is not None
            ),
            message="c holding the policy's objects once selected",
        )
    finally:
        sync_world.hub.admin.patch(f"{MEMBER_PATH}/{c}", {"metadata": {"labels": {"name": c}}})
    held = read(sync_world.targets[c], "ConfigMap", sync_ns, "settings")
    assert held is not None
    assert HASH_ANNOTATION in held["metadata"]["annotations"]


def test_quantities_written_differently_are_no_drift(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    create(sync_world.source, deployment("web", sync_ns))
    policy = make_policy(
        targetClusters=list(TARGETS),
        resources=[{"apiGroup": "apps", "kind": "Deployment", "namespaces": [sync_ns]}],
        overrides=[
            {
                "jsonPatch": [
                    {
                        "op": "add",
                        "path": "/spec/template/spec/containers/0/resources",
                        "value": {"limits": {"cpu": "1000m", "memory": "1024Mi"}},
                    }
                ]
            }
        ],
    )
    controller = start_controller()
    for target in TARGETS:
        eventually(
            lambda t=target: target_status(sync_world.hub, policy, t).get("inSync") == 1,
            message=f"in sync on {target}",
        )
        held = read(sync_world.targets[target], "Deployment", sync_ns, "web")
        assert held is not None
        limits = held["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits == {"cpu": "1", "memory": "1Gi"}  # as the server writes them
    # A later change proves the controller still works; the Deployment was written once.
    create(sync_world.source, deployment("later", sync_ns))
    eventually(lambda: on_targets(sync_world, sync_ns, "later", "Deployment"))
    web = [r.action for r in controller.writes() if r.operation.key.name == "web"]
    assert web == ["create", "create"], web


def test_two_policies_claiming_one_object_do_not_fight(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    create(sync_world.source, configmap("shared", sync_ns, {"v": "0"}))
    first = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    controller = start_controller()
    eventually(lambda: on_targets(sync_world, sync_ns, "shared"), message="shared synced")
    second = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    for target in TARGETS:
        eventually(
            lambda t=target: target_status(sync_world.hub, second, t).get("conflicts") == 1,
            message=f"the second policy's conflict on {target}",
        )
    patch(sync_world.source, "ConfigMap", sync_ns, "shared", {"data": {"v": "1"}})
    for target in TARGETS:
        eventually(
            lambda t=target: (
                (read(sync_world.targets[t], "ConfigMap", sync_ns, "shared") or {}).get("data")
                == {"v": "1"}
            ),
            message=f"the change on {target}",
        )
        held = read(sync_world.targets[target], "ConfigMap", sync_ns, "shared")
        assert held is not None
        assert held["metadata"]["labels"][POLICY_LABEL] == first
    assert not controller.writes(second)
    assert sorted(r.action for r in controller.writes(first)) == ["apply"] * 2 + ["create"] * 2


def test_a_changed_policy_reapplies_its_overrides(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    b, c = TARGETS
    create(sync_world.source, deployment("web", sync_ns, replicas=2))
    policy = make_policy(
        targetClusters=list(TARGETS),
        resources=[{"apiGroup": "apps", "kind": "Deployment", "namespaces": [sync_ns]}],
        overrides=[{"targetClusters": [b], "replicas": 5}],
    )
    start_controller()

    def replicas(target: str) -> int | None:
        found = read(sync_world.targets[target], "Deployment", sync_ns, "web")
        return None if found is None else int(found["spec"]["replicas"])

    eventually(lambda: (replicas(b), replicas(c)) == (5, 2), message="the first overrides")
    sync_world.hub.admin.patch(
        f"{POLICIES}/{policy}", {"spec": {"overrides": [{"targetClusters": [c], "replicas": 7}]}}
    )
    eventually(
        lambda: (replicas(b), replicas(c)) == (2, 7),
        message="b back to the source's replicas, c overridden",
    )


def test_the_sync_label_removed_by_hand_is_drift_not_a_foreign_object(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    create(sync_world.source, configmap("settings", sync_ns, {"v": "0"}, labels={"app": "web"}))
    policy = make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    start_controller()
    eventually(lambda: on_targets(sync_world, sync_ns, "settings"), message="synced")
    b = sync_world.targets[TARGETS[0]]
    unlabelled = {"metadata": {"labels": {POLICY_LABEL: None, "app": None}}}
    patch(b, "ConfigMap", sync_ns, "settings", unlabelled)

    def labels() -> dict[str, str]:
        found = read(b, "ConfigMap", sync_ns, "settings")
        assert found is not None, "the object was deleted"
        return dict(found["metadata"].get("labels") or {})

    eventually(
        lambda: labels().get(POLICY_LABEL) == policy and labels().get("app") == "web",
        message="both labels put back on b",
    )
    eventually(
        lambda: target_status(sync_world.hub, policy, TARGETS[0]).get("inSync") == 1,
        message="in sync (not a conflict) on b",
    )


def test_an_object_deleted_and_created_again_on_the_source_ends_as_the_new_one(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    create(source, configmap("phoenix", sync_ns, {"life": "1"}))
    make_policy(targetClusters=list(TARGETS), resources=configmaps(sync_ns))
    start_controller()
    eventually(lambda: on_targets(sync_world, sync_ns, "phoenix"), message="synced")
    for life in ("2", "3"):
        delete(source, "ConfigMap", sync_ns, "phoenix")
        create(source, configmap("phoenix", sync_ns, {"life": life}))
    for target in TARGETS:
        eventually(
            lambda t=target: (
                (read(sync_world.targets[t], "ConfigMap", sync_ns, "phoenix") or {}).get("data")
                == {"life": "3"}
            ),
            message=f"the last life on {target}",
        )
    create(source, configmap("witness", sync_ns, {"v": "0"}))
    eventually(lambda: on_targets(sync_world, sync_ns, "witness"), message="the witness")
    assert on_targets(sync_world, sync_ns, "phoenix")


def test_a_policy_naming_no_member_is_invalid(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    create(sync_world.source, configmap("settings", sync_ns, {"v": "0"}))
    broken = make_policy(
        sourceCluster="no-such-member", targetClusters=list(TARGETS), resources=configmaps(sync_ns)
    )
    start_controller()
    valid = eventually(
        lambda: (
            condition(sync_world.hub, broken, "Valid").get("status") == "False"
            and condition(sync_world.hub, broken, "Valid")
        ),
        message="Valid False on the policy naming no member",
    )
    assert "no-such-member" in valid["message"], valid
    assert gone_from_targets(sync_world, sync_ns, "settings")


def test_an_unreachable_member_holds_back_only_itself(
    sync_world: SyncWorld,
    sync_ns: str,
    make_policy: MakePolicy,
    register_member: RegisterMember,
    start_controller: StartController,
    tmp_path: Path,
) -> None:
    c = sync_world.targets[TARGETS[1]]
    text = c.kubeconfig.read_text().replace(c.server, f"https://127.0.0.1:{free_port()}")
    (tmp_path / "nowhere.kubeconfig").write_text(text)
    nowhere = register_member(c, tmp_path / "nowhere.kubeconfig")
    create(sync_world.source, configmap("settings", sync_ns, {"v": "0"}))
    policy = make_policy(targetClusters=[TARGETS[0], nowhere], resources=configmaps(sync_ns))
    start_controller()
    b = sync_world.targets[TARGETS[0]]
    eventually(
        lambda: read(b, "ConfigMap", sync_ns, "settings") is not None, message="settings on b"
    )
    ready = eventually(
        lambda: (
            condition(sync_world.hub, policy, "Ready").get("status") == "False"
            and nowhere in condition(sync_world.hub, policy, "Ready").get("message", "")
            and condition(sync_world.hub, policy, "Ready")
        ),
        timeout=30,
        message="Ready False naming the unreachable member",
    )
    assert TARGETS[0] not in ready["message"], ready
    member = sync_world.hub.admin.get(f"{MEMBER_PATH}/{nowhere}")
    conditions = {x["type"]: x for x in (member.get("status") or {}).get("conditions") or []}
    assert conditions["Ready"]["status"] == "False", member


def test_cluster_scoped_objects_are_synced_and_pruned(
    sync_world: SyncWorld, make_policy: MakePolicy, start_controller: StartController
) -> None:
    mark = f"sync-e2e-{uuid.uuid4().hex[:6]}"
    roles = "/apis/rbac.authorization.k8s.io/v1/clusterroles"

    def cluster_role(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"sync-e2e": mark}},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        }

    names = [f"{mark}-reader", f"{mark}-other"]
    for name in names:
        sync_world.source.admin.create(roles, cluster_role(name))
    try:
        make_policy(
            targetClusters=list(TARGETS),
            resources=[
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "matchLabels": {"sync-e2e": mark},
                }
            ],
        )
        start_controller()
        for target in TARGETS:
            for name in names:
                eventually(
                    lambda t=target, n=name: sync_world.targets[t].admin.exists(f"{roles}/{n}"),
                    message=f"ClusterRole {name} on {target}",
                )
        sync_world.source.admin.delete(f"{roles}/{names[1]}")
        for target in TARGETS:
            eventually(
                lambda t=target: not sync_world.targets[t].admin.exists(f"{roles}/{names[1]}"),
                message=f"the deleted ClusterRole pruned on {target}",
            )
            held = sync_world.targets[target].admin.get(f"{roles}/{names[0]}")
            assert held["rules"][0]["verbs"] == ["get"]
            assert held["metadata"]["annotations"][SOURCE_ANNOTATION].endswith(names[0])
    finally:
        for cluster in sync_world.members.values():
            for name in names:
                cluster.admin.delete(f"{roles}/{name}")


def test_an_override_by_member_labels_and_a_label_expression_selector(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    b, c = TARGETS
    for name, tier in (("web", "front"), ("api", "back"), ("batch", "jobs")):
        create(sync_world.source, deployment(name, sync_ns, labels={"tier": tier}, replicas=1))
    make_policy(
        targetClusters=list(TARGETS),
        resources=[
            {
                "apiGroup": "apps",
                "kind": "Deployment",
                "namespaces": [sync_ns],
                "labelSelector": {
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["front", "back"]}
                    ]
                },
            }
        ],
        overrides=[
            {
                "targetSelector": {"matchLabels": {"name": c}},
                "resources": [
                    {"apiGroup": "apps", "kind": "Deployment", "matchLabels": {"tier": "front"}}
                ],
                "replicas": 4,
            }
        ],
    )
    start_controller()

    def replicas(target: str, name: str) -> int | None:
        found = read(sync_world.targets[target], "Deployment", sync_ns, name)
        return None if found is None else int(found["spec"]["replicas"])

    eventually(
        lambda: (
            [replicas(c, "web"), replicas(c, "api"), replicas(b, "web"), replicas(b, "api")]
            == [4, 1, 1, 1]
        ),
        message="web overridden on c only",
    )
    assert replicas(b, "batch") is None
    assert replicas(c, "batch") is None


def test_an_object_a_target_refuses_is_failed_with_the_cause_until_fixed(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    b, c = TARGETS
    create(sync_world.source, deployment("web", sync_ns, replicas=1))
    policy = make_policy(
        targetClusters=list(TARGETS),
        resources=[{"apiGroup": "apps", "kind": "Deployment", "namespaces": [sync_ns]}],
        overrides=[
            {
                "targetClusters": [b],
                "jsonPatch": [{"op": "replace", "path": "/spec/replicas", "value": -1}],
            }
        ],
    )
    start_controller()
    eventually(
        lambda: read(sync_world.targets[c], "Deployment", sync_ns, "web") is not None,
        message="web on c",
    )
    failed = eventually(
        lambda: (
            target_status(sync_world.hub, policy, b).get("failed") == 1
            and target_status(sync_world.hub, policy, b)
        ),
        timeout=30,
        message="the refused object counted failed on b",
    )
    assert "replicas" in failed["lastError"], failed
    assert "web" in failed["lastError"], failed
    assert read(sync_world.targets[b], "Deployment", sync_ns, "web") is None
    sync_world.hub.admin.patch(f"{POLICIES}/{policy}", {"spec": {"overrides": []}})
    eventually(
        lambda: read(sync_world.targets[b], "Deployment", sync_ns, "web") is not None,
        timeout=30,
        message="web on b once the policy is fixed",
    )
    eventually(
        lambda: (
            target_status(sync_world.hub, policy, b).get("inSync") == 1
            and not target_status(sync_world.hub, policy, b).get("lastError")
        ),
        message="b in sync, the error cleared",
    )


def test_a_status_change_on_the_source_writes_nothing(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    create(source, deployment("web", sync_ns, replicas=3))
    policy = make_policy(
        targetClusters=list(TARGETS),
        resources=[{"apiGroup": "apps", "kind": "Deployment", "namespaces": [sync_ns]}],
    )
    controller = start_controller()
    eventually(lambda: on_targets(sync_world, sync_ns, "web", "Deployment"), message="synced")
    # What a kubelet and the deployment controller write all day long.
    status_path = f"/apis/apps/v1/namespaces/{sync_ns}/deployments/web/status"
    for ready in (1, 2, 3):
        source.admin.patch(
            status_path,
            {"status": {"replicas": 3, "readyReplicas": ready, "observedGeneration": 1}},
        )
    create(source, deployment("witness", sync_ns))
    eventually(lambda: on_targets(sync_world, sync_ns, "witness", "Deployment"))
    web = [r.action for r in controller.writes(policy) if r.operation.key.name == "web"]
    assert web == ["create", "create"], web
    for target in TARGETS:
        held = read(sync_world.targets[target], "Deployment", sync_ns, "web")
        assert held is not None
        assert "readyReplicas" not in (held.get("status") or {})
