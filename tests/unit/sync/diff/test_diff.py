"""differences() and decide(): desired against actual, the contract's table case by case."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeops.sync.desired import desired_object
from kubeops.sync.diff import decide, differences
from kubeops.sync.operation import Action, State
from kubeops.sync.ownership import HASH_ANNOTATION, POLICY_LABEL, SOURCE_ANNOTATION, ObjectKey

from .objects import deployment, policy, server_copy

KEY = ObjectKey("apps", "Deployment", "shop", "web")


def _desired(**spec: Any) -> dict[str, Any]:
    return desired_object(deployment(), policy(**spec), "cluster-b", {}, "cluster-a")


def _container(obj: dict[str, Any], index: int = 0) -> dict[str, Any]:
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][index]
    return container


# -- differences ---------------------------------------------------------------------------


def test_an_object_as_its_server_returns_it_has_no_differences() -> None:
    desired = _desired()
    assert differences(desired, desired) == ()
    assert differences(desired, server_copy(desired)) == ()


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        (lambda o: o["spec"].update(replicas=5), ("spec.replicas",)),
        (
            lambda o: _container(o).update(image="nginx:evil"),
            ("spec.template.spec.containers[0].image",),
        ),
        (lambda o: o["metadata"]["labels"].pop("env"), ("metadata.labels.env",)),
        (
            lambda o: o["metadata"]["annotations"].update(team="other"),
            ("metadata.annotations.team",),
        ),
        (
            lambda o: o["spec"]["template"]["spec"]["containers"].pop(),
            ("spec.template.spec.containers",),
        ),
        (
            lambda o: o["spec"]["template"]["spec"]["containers"].append(
                {"name": "x", "image": "x"}
            ),
            ("spec.template.spec.containers",),
        ),
        (
            lambda o: _container(o)["resources"]["requests"].update(cpu="600m"),
            ("spec.template.spec.containers[0].resources.requests.cpu",),
        ),
        (lambda o: _container(o).pop("resources"), ("spec.template.spec.containers[0].resources",)),
        (lambda o: o["spec"].update(selector="app=web"), ("spec.selector",)),
    ],
    ids=[
        "replicas",
        "image",
        "label-removed",
        "annotation-changed",
        "list-shorter",
        "list-longer",
        "quantity-changed",
        "map-removed",
        "map-to-scalar",
    ],
)
def test_drift_paths(change: Any, paths: tuple[str, ...]) -> None:
    desired = _desired()
    actual = server_copy(desired)
    change(actual)
    assert differences(desired, actual) == paths


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o["metadata"]["labels"].update(extra="yes"),
        lambda o: o["metadata"]["annotations"].update(extra="yes"),
        lambda o: _container(o).update(ports=[{"containerPort": 80}]),
        lambda o: o["metadata"]["labels"].pop(POLICY_LABEL),
        lambda o: o["metadata"]["annotations"].update(
            {HASH_ANNOTATION: "0000", SOURCE_ANNOTATION: "x/y/z"}
        ),
        lambda o: o["spec"]["template"]["metadata"].pop("creationTimestamp"),
    ],
    ids=[
        "label-added",
        "annotation-added",
        "field-added",
        "policy-label-removed",
        "marks-changed",
        "null-missing",
    ],
)
def test_not_drift(change: Any) -> None:
    desired = _desired()
    actual = server_copy(desired)
    change(actual)
    assert differences(desired, actual) == ()


@pytest.mark.parametrize(
    ("want", "have", "same"),
    [
        ("1", "1000m", True),
        ("500m", "0.5", True),
        ("64Mi", "67108864", True),
        ("1Gi", "1024Mi", True),
        (1, "1", True),
        ("2", 2.0, True),
        ("1e3", "1k", True),
        ("500m", "600m", False),
        ("1Gi", "1G", False),
    ],
)
def test_quantities_compare_by_value(want: Any, have: Any, same: bool) -> None:
    desired = {"spec": {"resources": {"requests": {"cpu": want}}}}
    actual = {"spec": {"resources": {"requests": {"cpu": have}}}}
    assert (differences(desired, actual) == ()) is same


@pytest.mark.parametrize(
    ("desired", "actual"),
    [
        ({"metadata": {"labels": {"version": "1.0"}}}, {"metadata": {"labels": {"version": "1"}}}),
        ({"data": {"ratio": "1.0"}}, {"data": {"ratio": "1"}}),
        (
            {"spec": {"containers": [{"env": [{"name": "N", "value": "1000m"}]}]}},
            {"spec": {"containers": [{"env": [{"name": "N", "value": "1"}]}]}},
        ),
        (
            {"spec": {"containers": [{"args": ["1k"]}]}},
            {"spec": {"containers": [{"args": ["1000"]}]}},
        ),
        ({"spec": {"paused": True}}, {"spec": {"paused": 1}}),
    ],
    ids=["label", "configmap-data", "env", "args", "bool-int"],
)
def test_strings_that_are_not_quantities_compare_as_written(desired: Any, actual: Any) -> None:
    assert differences(desired, actual) != ()


def test_empty_or_null_desired_matches_a_missing_field() -> None:
    desired = {"spec": {"a": {}, "b": [], "c": None}}
    assert differences(desired, {"spec": {}}) == ()
    assert differences({"spec": {"a": {"x": 1}}}, {"spec": {}}) == ("spec.a",)


# -- decide ----------------------------------------------------------------------------------


def _foreign(desired: dict[str, Any], owner: str | None = None) -> dict[str, Any]:
    actual = server_copy(desired)
    del actual["metadata"]["labels"][POLICY_LABEL]
    for name in (SOURCE_ANNOTATION, HASH_ANNOTATION):
        del actual["metadata"]["annotations"][name]
    if owner:
        actual["metadata"]["labels"][POLICY_LABEL] = owner
    return actual


def test_create_when_the_target_has_none() -> None:
    desired = _desired()
    op = decide(policy(), "cluster-b", KEY, desired, None)
    assert (op.action, op.state, op.reason) == (Action.CREATE, State.IN_SYNC, "not on the target")
    assert op.desired is desired
    assert (op.policy, op.target, op.key) == ("p", "cluster-b", KEY)


def test_in_sync() -> None:
    desired = _desired()
    op = decide(policy(), "cluster-b", KEY, desired, server_copy(desired))
    assert (op.action, op.state, op.desired) == (Action.NONE, State.IN_SYNC, None)
    assert not op.writes


@pytest.mark.parametrize(
    ("mode", "owner", "action", "state", "reason"),
    [
        ("Abort", None, Action.NONE, State.CONFLICT, "not created by the sync"),
        ("Abort", "other", Action.NONE, State.CONFLICT, "owned by policy other"),
        ("Adopt", None, Action.APPLY, State.IN_SYNC, "adopt (not created by the sync)"),
        ("Overwrite", "other", Action.REPLACE, State.IN_SYNC, "overwrite (owned by policy other)"),
    ],
)
def test_conflicts(mode: str, owner: str | None, action: Action, state: State, reason: str) -> None:
    desired = _desired(conflictResolution=mode)
    actual = _foreign(desired, owner)
    actual["spec"]["replicas"] = 9
    op = decide(policy(conflictResolution=mode), "cluster-b", KEY, desired, actual)
    assert (op.action, op.state, op.reason) == (action, state, reason)
    assert op.differences == ("spec.replicas",)
    assert op.actual is actual
    assert (op.desired is desired) is (action is not Action.NONE)


def test_owned_by_the_source_annotation_alone_is_ours() -> None:
    desired = _desired()
    actual = server_copy(desired)
    del actual["metadata"]["labels"][POLICY_LABEL]
    op = decide(policy(), "cluster-b", KEY, desired, actual)
    assert op.action is Action.APPLY
    assert op.reason == f"drifted: metadata.labels.{POLICY_LABEL}"


def test_source_changed_is_not_drift() -> None:
    old = _desired()
    new = _desired(overrides=[{"replicas": 5}])
    for drift in ("Correct", "Report"):
        op = decide(policy(drift=drift), "cluster-b", KEY, new, server_copy(old))
        assert (op.action, op.state, op.reason) == (Action.APPLY, State.IN_SYNC, "source changed")
        assert op.differences == ("spec.replicas",)


@pytest.mark.parametrize(
    ("mode", "action", "state"),
    [("Correct", Action.APPLY, State.IN_SYNC), ("Report", Action.NONE, State.DRIFTED)],
)
def test_drift(mode: str, action: Action, state: State) -> None:
    desired = _desired()
    actual = server_copy(desired)
    actual["spec"]["replicas"] = 0
    del actual["metadata"]["labels"]["env"]
    op = decide(policy(drift=mode), "cluster-b", KEY, desired, actual)
    assert (op.action, op.state) == (action, state)
    assert op.reason == "drifted: metadata.labels.env, spec.replicas"
    assert op.differences == ("metadata.labels.env", "spec.replicas")


def test_a_removed_hash_is_drift() -> None:
    desired = _desired()
    actual = server_copy(desired)
    del actual["metadata"]["annotations"][HASH_ANNOTATION]
    op = decide(policy(), "cluster-b", KEY, desired, actual)
    assert op.action is Action.APPLY
    assert op.reason == f"drifted: metadata.annotations.{HASH_ANNOTATION}"


def test_long_drift_reasons_are_cut() -> None:
    desired = {
        "metadata": {"annotations": {HASH_ANNOTATION: "h"}, "labels": {POLICY_LABEL: "p"}},
        "data": {str(i): "v" for i in range(8)},
    }
    actual = copy.deepcopy(desired)
    actual["data"] = {}
    op = decide(policy(), "cluster-b", KEY, desired, actual)
    assert op.reason.endswith("data.4 and 3 more")
    assert len(op.differences) == 8


@pytest.mark.parametrize(
    ("deletion", "action"), [("Prune", Action.DELETE), ("Orphan", Action.ORPHAN)]
)
def test_source_deleted(deletion: str, action: Action) -> None:
    actual = server_copy(_desired())
    op = decide(policy(deletion=deletion), "cluster-b", KEY, None, actual)
    assert op.action is action
    assert op.reason.startswith("source deleted")
    assert op.desired is None
    assert op.actual is actual


@pytest.mark.parametrize("owner", [None, "other"])
def test_source_deleted_never_touches_a_foreign_object(owner: str | None) -> None:
    actual = _foreign(_desired(), owner)
    op = decide(policy(), "cluster-b", KEY, None, actual)
    assert op.action is Action.NONE
    assert decide(policy(), "cluster-b", KEY, None, None).action is Action.NONE


def test_an_object_being_deleted_on_the_target_waits() -> None:
    desired = _desired()
    actual = server_copy(desired)
    actual["metadata"]["deletionTimestamp"] = "2026-12-05T04:00:00Z"
    assert decide(policy(), "cluster-b", KEY, desired, actual).state is State.PENDING
    assert decide(policy(), "cluster-b", KEY, None, actual).action is Action.NONE


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(
    data=st.dictionaries(st.text(min_size=1, max_size=6), JSON, max_size=4),
    labels=st.dictionaries(
        st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        st.from_regex(r"[a-z0-9]{0,8}", fullmatch=True),
        max_size=3,
    ),
    extra=st.dictionaries(st.text(min_size=1, max_size=6), JSON, max_size=2),
)
def test_property_desired_against_itself_as_served_is_in_sync(
    data: dict[str, Any], labels: dict[str, str], extra: dict[str, Any]
) -> None:
    source = {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t", "namespace": "n", "labels": labels, "uid": "u"},
        "spec": data,
    }
    p = policy(resources=[{"apiGroup": "example.com", "kind": "Thing"}])
    desired = desired_object(source, p, "cluster-b", {}, "cluster-a")
    served = copy.deepcopy(desired)
    served["metadata"].update(
        resourceVersion="1", uid="v", labels={**served["metadata"]["labels"], "added": "x"}
    )
    served["status"] = extra
    for name, value in extra.items():  # the server may add fields, never remove or change
        served["spec"].setdefault(name, value)
    op = decide(p, "cluster-b", ObjectKey.of(source), desired, served)
    assert (op.action, op.state, op.differences) == (Action.NONE, State.IN_SYNC, ())


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    return [] if value is None else [path]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return f"{value}~"  # never a quantity


@settings(max_examples=100, deadline=None)
@given(
    spec=st.dictionaries(
        st.from_regex(r"[a-z]{1,6}", fullmatch=True), JSON, min_size=1, max_size=4
    ),
    pick=st.data(),
)
def test_property_a_changed_leaf_is_always_reported_at_its_path(
    spec: dict[str, Any], pick: Any
) -> None:
    desired = {"spec": spec}
    leaves = _leaves(desired)
    if not leaves:
        return
    path = pick.draw(st.sampled_from(leaves))
    actual = copy.deepcopy(desired)
    node = actual
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = _changed(node[path[-1]])
    found = differences(desired, actual)
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    assert dotted in found
    assert len(found) == 1
