"""desired_object: the source minus server-set fields, plus overrides and marks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeops.sync.desired import COMMON_SERVER_FIELDS, desired_object, strip_server_fields
from kubeops.sync.model import PolicyError
from kubeops.sync.ownership import (
    HASH_ANNOTATION,
    POLICY_LABEL,
    SOURCE_ANNOTATION,
    desired_hash,
)

from .objects import deployment, policy


def _desired(
    source: dict[str, Any], target: str = "cluster-b", labels: Any = None, **spec: Any
) -> dict[str, Any]:
    return desired_object(source, policy(**spec), target, labels or {}, "cluster-a")


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return KeyError
        obj = obj[part]
    return obj


@pytest.mark.parametrize("path", COMMON_SERVER_FIELDS, ids=".".join)
def test_each_server_set_field_is_stripped(path: tuple[str, ...]) -> None:
    source = deployment()
    node = source
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = "set-by-the-server"
    assert _get(_desired(source), path) is KeyError


@pytest.mark.parametrize(
    ("api_version", "kind", "spec", "labels", "gone"),
    [
        (
            "v1",
            "Service",
            {
                "clusterIP": "10.0.0.7",
                "healthCheckNodePort": 31000,
                "clusterIPs": ["10.0.0.7"],
                "ports": [{"port": 80}],
            },
            {},
            [("spec", "clusterIP"), ("spec", "clusterIPs"), ("spec", "healthCheckNodePort")],
        ),
        (
            "v1",
            "PersistentVolumeClaim",
            {"volumeName": "pv-1", "resources": {"requests": {"storage": "1Gi"}}},
            {},
            [("spec", "volumeName")],
        ),
        (
            "v1",
            "Pod",
            {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]},
            {},
            [("spec", "nodeName")],
        ),
        (
            "batch/v1",
            "Job",
            {
                "selector": {"matchLabels": {"controller-uid": "u1"}},
                "template": {
                    "metadata": {
                        "labels": {
                            "controller-uid": "u1",
                            "batch.kubernetes.io/controller-uid": "u1",
                            "job-name": "j",
                        }
                    }
                },
            },
            {"controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1"},
            [
                ("spec", "selector"),
                ("metadata", "labels", "controller-uid"),
                ("metadata", "labels", "batch.kubernetes.io/controller-uid"),
                ("spec", "template", "metadata", "labels", "controller-uid"),
                ("spec", "template", "metadata", "labels", "batch.kubernetes.io/controller-uid"),
            ],
        ),
    ],
    ids=["service", "pvc", "pod", "job"],
)
def test_kind_specific_server_fields_are_stripped(
    api_version: str,
    kind: str,
    spec: dict[str, Any],
    labels: dict[str, str],
    gone: list[tuple[str, ...]],
) -> None:
    source = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "shop", "labels": labels},
        "spec": copy.deepcopy(spec),
    }
    desired = desired_object(source, policy(), "cluster-b", {}, "cluster-a")
    for path in gone:
        assert _get(desired, path) is KeyError, path
    if kind == "Job":
        assert desired["spec"]["template"]["metadata"]["labels"] == {"job-name": "j"}
    if kind == "Service":
        assert desired["spec"]["ports"] == [{"port": 80}]


def test_user_fields_stay_and_the_source_is_not_changed() -> None:
    source = deployment()
    before = copy.deepcopy(source)
    desired = _desired(source)
    assert source == before
    assert desired["metadata"]["annotations"]["team"] == "shop"
    assert desired["metadata"]["labels"]["env"] == "production"
    assert desired["spec"]["template"] == source["spec"]["template"]
    assert desired["metadata"]["name"] == "web"
    assert desired["metadata"]["namespace"] == "shop"


def test_marks_and_hash() -> None:
    desired = _desired(deployment())
    assert desired["metadata"]["labels"][POLICY_LABEL] == "p"
    assert desired["metadata"]["annotations"][SOURCE_ANNOTATION] == "cluster-a/shop/web"
    assert desired["metadata"]["annotations"][HASH_ANNOTATION] == desired_hash(desired)


def test_marks_are_added_to_an_object_without_labels_or_annotations() -> None:
    source = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {"a": "1"},
    }
    desired = desired_object(source, policy(), "cluster-b", {}, "cluster-a")
    assert desired["metadata"]["labels"] == {POLICY_LABEL: "p"}
    assert set(desired["metadata"]["annotations"]) == {SOURCE_ANNOTATION, HASH_ANNOTATION}


def test_the_hash_is_stable_and_follows_the_source_and_the_overrides() -> None:
    first = _desired(deployment())
    again = _desired(deployment())
    assert (
        first["metadata"]["annotations"][HASH_ANNOTATION]
        == again["metadata"]["annotations"][HASH_ANNOTATION]
    )
    changed = _desired(deployment(replicas=5))
    overridden = _desired(deployment(), overrides=[{"replicas": 9}])
    hashes = {d["metadata"]["annotations"][HASH_ANNOTATION] for d in (first, changed, overridden)}
    assert len(hashes) == 3
    # the server-set fields do not move the hash: a new resourceVersion is no change
    bumped = deployment()
    bumped["metadata"]["resourceVersion"] = "9999"
    bumped["status"] = {"replicas": 7}
    assert (
        _desired(bumped)["metadata"]["annotations"][HASH_ANNOTATION]
        == first["metadata"]["annotations"][HASH_ANNOTATION]
    )


# -- overrides ----------------------------------------------------------------------------


def test_replicas_override() -> None:
    assert _desired(deployment(), overrides=[{"replicas": 0}])["spec"]["replicas"] == 0


def test_replicas_override_leaves_kinds_without_replicas_alone() -> None:
    source = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {},
    }
    desired = desired_object(
        source, policy(overrides=[{"replicas": 3}]), "cluster-b", {}, "cluster-a"
    )
    assert "spec" not in desired


def test_image_override_sets_every_container_but_not_init_containers() -> None:
    spec = _desired(deployment(), overrides=[{"image": "nginx:1.28"}])["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["containers"]] == ["nginx:1.28", "nginx:1.28"]
    assert spec["initContainers"][0]["image"] == "busybox:1.36"


def test_container_images_override_sets_named_containers_including_init() -> None:
    spec = _desired(
        deployment(),
        overrides=[
            {"containerImages": {"sidecar": "envoy:1.31", "init": "busybox:1.37", "absent": "x:1"}}
        ],
    )["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["containers"]] == ["nginx:1.27", "envoy:1.31"]
    assert spec["initContainers"][0]["image"] == "busybox:1.37"


POD = {"containers": [{"name": "c", "image": "old:1"}]}


@pytest.mark.parametrize(
    ("api_version", "kind", "body", "path"),
    [
        (
            "apps/v1",
            "StatefulSet",
            {"spec": {"template": {"spec": POD}}},
            ("spec", "template", "spec"),
        ),
        (
            "apps/v1",
            "DaemonSet",
            {"spec": {"template": {"spec": POD}}},
            ("spec", "template", "spec"),
        ),
        ("batch/v1", "Job", {"spec": {"template": {"spec": POD}}}, ("spec", "template", "spec")),
        (
            "batch/v1",
            "CronJob",
            {
                "spec": {
                    "schedule": "* * * * *",
                    "jobTemplate": {"spec": {"template": {"spec": POD}}},
                }
            },
            ("spec", "jobTemplate", "spec", "template", "spec"),
        ),
        ("v1", "Pod", {"spec": POD}, ("spec",)),
    ],
    ids=["statefulset", "daemonset", "job", "cronjob", "pod"],
)
def test_image_override_finds_each_kinds_pod_template(
    api_version: str, kind: str, body: dict[str, Any], path: tuple[str, ...]
) -> None:
    source = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "n"},
        **copy.deepcopy(body),
    }
    p = policy(
        resources=[{"apiGroup": api_version.rpartition("/")[0], "kind": kind}],
        overrides=[{"image": "new:2"}],
    )
    desired = desired_object(source, p, "cluster-b", {}, "cluster-a")
    assert _get(desired, path)["containers"][0]["image"] == "new:2"


def test_image_override_ignores_kinds_without_pod_templates() -> None:
    source = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {"image": "a"},
    }
    desired = desired_object(
        source, policy(overrides=[{"image": "b"}]), "cluster-b", {}, "cluster-a"
    )
    assert desired["data"] == {"image": "a"}


def test_labels_and_annotations_overrides_merge() -> None:
    desired = _desired(
        deployment(),
        overrides=[{"labels": {"env": "staging", "region": "eu"}, "annotations": {"note": "b"}}],
    )
    assert desired["metadata"]["labels"] == {
        "app": "web",
        "env": "staging",
        "region": "eu",
        POLICY_LABEL: "p",
    }
    assert desired["metadata"]["annotations"]["note"] == "b"
    assert desired["metadata"]["annotations"]["team"] == "shop"


def test_json_patch_override() -> None:
    patch = [
        {"op": "add", "path": "/spec/paused", "value": True},
        {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "envoy:2"},
        {"op": "remove", "path": "/metadata/annotations/team"},
        {"op": "add", "path": "/metadata/labels/a~1b", "value": "slash"},
    ]
    desired = _desired(deployment(), overrides=[{"jsonPatch": patch}])
    assert desired["spec"]["paused"] is True
    assert desired["spec"]["template"]["spec"]["containers"][1]["image"] == "envoy:2"
    assert "team" not in desired["metadata"]["annotations"]
    assert desired["metadata"]["labels"]["a/b"] == "slash"


def test_json_patch_comes_after_the_other_fields_of_its_override() -> None:
    override = {
        "replicas": 4,
        "labels": {"tier": "x"},
        "jsonPatch": [
            {"op": "replace", "path": "/metadata/labels/tier", "value": "y"},
            {"op": "test", "path": "/spec/replicas", "value": 4},
        ],
    }
    desired = _desired(deployment(), overrides=[override])
    assert desired["metadata"]["labels"]["tier"] == "y"


def test_overrides_apply_in_order_the_last_wins() -> None:
    desired = _desired(deployment(), overrides=[{"replicas": 1, "image": "a:1"}, {"replicas": 5}])
    assert desired["spec"]["replicas"] == 5
    assert desired["spec"]["template"]["spec"]["containers"][0]["image"] == "a:1"


def test_override_for_other_targets_is_skipped() -> None:
    spec = {"overrides": [{"targetClusters": ["cluster-c"], "replicas": 7}]}
    assert _desired(deployment(), "cluster-b", **spec)["spec"]["replicas"] == 2
    assert _desired(deployment(), "cluster-c", **spec)["spec"]["replicas"] == 7


def test_override_by_target_selector_matches_member_labels() -> None:
    spec = {"overrides": [{"targetSelector": {"matchLabels": {"region": "eu"}}, "replicas": 7}]}
    assert _desired(deployment(), "cluster-b", {"region": "us"}, **spec)["spec"]["replicas"] == 2
    assert _desired(deployment(), "cluster-b", {"region": "eu"}, **spec)["spec"]["replicas"] == 7


def test_override_limited_to_some_resources() -> None:
    spec = {
        "overrides": [
            {
                "resources": [{"apiGroup": "apps", "kind": "Deployment", "names": ["api"]}],
                "replicas": 7,
            }
        ]
    }
    assert _desired(deployment("web"), **spec)["spec"]["replicas"] == 2
    assert _desired(deployment("api"), **spec)["spec"]["replicas"] == 7
    by_label = {
        "overrides": [
            {
                "resources": [
                    {"apiGroup": "apps", "kind": "Deployment", "matchLabels": {"env": "production"}}
                ],
                "replicas": 8,
            }
        ]
    }
    assert _desired(deployment(), **by_label)["spec"]["replicas"] == 8
    other_kind = {
        "overrides": [{"resources": [{"apiGroup": "apps", "kind": "StatefulSet"}], "replicas": 9}]
    }
    assert _desired(deployment(), **other_kind)["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    "op",
    [
        {"op": "replace", "path": "/spec/nothing/here", "value": 1},
        {"op": "remove", "path": "/metadata/labels/absent"},
        {"op": "test", "path": "/spec/replicas", "value": 99},
        {"op": "add", "path": "/spec/template/spec/containers/9/image", "value": "x"},
    ],
    ids=["replace", "remove", "test", "add"],
)
def test_a_patch_that_cannot_apply_is_one_policy_error(op: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as caught:
        _desired(deployment(), overrides=[{"replicas": 1}, {"jsonPatch": [op]}])
    message = str(caught.value)
    assert "\n" not in message
    assert "ClusterSyncPolicy 'p'" in message
    assert "spec.overrides[1].jsonPatch" in message
    assert f"{op['op']} {op['path']}" in message
    assert "Deployment.apps shop/web" in message
    assert "'cluster-b'" in message


def test_strip_server_fields_keeps_metadata_when_it_empties() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"deployment.kubernetes.io/revision": "1"}},
    }
    assert strip_server_fields(obj) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
    }


@pytest.mark.parametrize(
    "op",
    [
        {"op": "replace", "path": "/metadata/name", "value": "other"},
        {"op": "remove", "path": "/metadata/namespace"},
        {"op": "replace", "path": "/kind", "value": "StatefulSet"},
    ],
    ids=["name", "namespace", "kind"],
)
def test_an_override_may_not_move_the_object(op: dict[str, Any]) -> None:
    with pytest.raises(
        PolicyError,
        match=r"spec.overrides\[0\] changes the apiVersion, kind, name or namespace of Deployment.apps shop/web for target 'cluster-b'",
    ):
        _desired(deployment(), overrides=[{"jsonPatch": [op]}])
