"""The plan as a human reads it, and as data."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import orjson
import yaml

from kubeops.sync.desired import desired_object
from kubeops.sync.diff import decide
from kubeops.sync.model import Deletion
from kubeops.sync.operation import Operation
from kubeops.sync.ownership import HASH_ANNOTATION, POLICY_LABEL, SOURCE_ANNOTATION, ObjectKey
from kubeops.sync.render import PULL_NOTE, diff_lines, plan_as_dict, render_plan, summary

from .objects import deployment, policy, server_copy


def _key(name: str) -> ObjectKey:
    return ObjectKey("apps", "Deployment", "shop", name)


def _ops(**spec: Any) -> list[Operation]:
    """One of each: create, update, delete on cluster-b; conflict, orphan, in sync on cluster-c."""
    p = policy(**spec)

    def want(name: str, target: str, **changes: Any) -> dict[str, Any]:
        return desired_object(deployment(name, **changes), p, target, {}, "cluster-a")

    foreign = server_copy(want("taken", "cluster-c"))
    del foreign["metadata"]["labels"][POLICY_LABEL]
    del foreign["metadata"]["annotations"][SOURCE_ANNOTATION]
    return [
        decide(p, "cluster-b", _key("new"), want("new", "cluster-b"), None),
        decide(
            p,
            "cluster-b",
            _key("web"),
            want("web", "cluster-b"),
            server_copy(want("web", "cluster-b", replicas=7)),
        ),
        decide(p, "cluster-b", _key("old"), None, server_copy(want("old", "cluster-b"))),
        decide(p, "cluster-c", _key("taken"), want("taken", "cluster-c"), foreign),
        decide(
            dataclasses.replace(p, deletion=Deletion.ORPHAN),
            "cluster-c",
            _key("gone"),
            None,
            server_copy(want("gone", "cluster-c")),
        ),
        decide(
            p,
            "cluster-c",
            _key("same"),
            want("same", "cluster-c"),
            server_copy(want("same", "cluster-c")),
        ),
    ]


def test_plan_text_per_target() -> None:
    text = render_plan(_ops(), color=False)
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert lines[0] == "policy p -> cluster-b"
    assert "  + create   Deployment.apps shop/new  (not on the target)" in lines
    assert "  ~ update   Deployment.apps shop/web  (source changed)" in lines
    assert "  - delete   Deployment.apps shop/old  (source deleted)" in lines
    assert "  ! conflict Deployment.apps shop/taken  (not created by the sync)" in lines
    assert any(
        line.startswith("  = orphan   Deployment.apps shop/gone  (source deleted") for line in lines
    )
    assert not any("shop/same" in line for line in lines)  # in sync: only in wide
    assert "  cluster-b: 1 to create, 1 to update, 1 to delete, 0 in sync" in lines
    assert (
        "  cluster-c: 0 to create, 0 to update, 0 to delete, 1 to orphan, 1 conflict, 1 in sync"
        in lines
    )
    assert "      -  replicas: 7" in lines
    assert "      +  replicas: 2" in lines


def test_update_diff_shows_only_what_changes_and_hides_marks() -> None:
    update = _ops()[1]
    lines = diff_lines(update)
    changed = [line for line in lines if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-  replicas: 7", "+  replicas: 2"]
    body = "\n".join(lines)
    for hidden in (
        POLICY_LABEL,
        SOURCE_ANNOTATION,
        HASH_ANNOTATION,
        "resourceVersion",
        "status",
        "imagePullPolicy",
        "strategy",
    ):
        assert hidden not in body


def test_quantities_equal_by_value_show_no_diff() -> None:
    p = policy()
    desired = desired_object(deployment(), p, "cluster-b", {}, "cluster-a")
    actual = server_copy(desired_object(deployment(replicas=3), p, "cluster-b", {}, "cluster-a"))
    actual["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "0.5"
    op = decide(p, "cluster-b", _key("web"), desired, actual)
    assert "cpu" not in "\n".join(diff_lines(op))


def test_overwrite_diff_shows_the_foreign_fields_it_removes() -> None:
    p = policy(conflictResolution="Overwrite")
    desired = desired_object(deployment(), p, "cluster-b", {}, "cluster-a")
    actual = server_copy(desired)
    del actual["metadata"]["labels"][POLICY_LABEL]
    del actual["metadata"]["annotations"][SOURCE_ANNOTATION]
    actual["spec"]["paused"] = True
    lines = diff_lines(decide(p, "cluster-b", _key("web"), desired, actual))
    assert "-  paused: true" in lines


def test_secret_values_are_never_printed() -> None:
    p = policy(resources=[{"apiGroup": "", "kind": "Secret"}])
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}}
    new = {
        **secret,
        "data": {"password": base64.b64encode(b"hunter2").decode(), "user": "YWRtaW4="},
    }
    old = {
        **secret,
        "data": {"password": base64.b64encode(b"swordfish").decode(), "user": "YWRtaW4="},
    }
    desired = desired_object(new, p, "cluster-b", {}, "cluster-a")
    actual = server_copy(desired_object(old, p, "cluster-b", {}, "cluster-a"))
    op = decide(p, "cluster-b", ObjectKey("", "Secret", "shop", "s"), desired, actual)
    text = render_plan([op], color=False) + orjson.dumps(plan_as_dict([op])).decode()
    for value in (new["data"]["password"], old["data"]["password"], "YWRtaW4="):
        assert value not in text
    assert "-  password: (hidden, was)" in text
    assert "+  password: (hidden, new)" in text


def test_wide_lists_objects_in_sync_and_what_a_create_sends() -> None:
    text = render_plan(_ops(), color=False, wide=True)
    assert "    in sync  Deployment.apps shop/same  (in sync)" in text
    assert "      +kind: Deployment" in text


def test_wide_never_prints_what_a_created_secret_holds() -> None:
    p = policy(resources=[{"apiGroup": "", "kind": "Secret"}])
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "shop"},
        "data": {"password": base64.b64encode(b"hunter2").decode()},
        "stringData": {"token": "plain-token-value"},
    }
    desired = desired_object(secret, p, "cluster-b", {}, "cluster-a")
    op = decide(p, "cluster-b", ObjectKey("", "Secret", "shop", "s"), desired, None)
    text = render_plan([op], color=False, wide=True)
    assert "      +kind: Secret" in text
    assert secret["data"]["password"] not in text
    assert "plain-token-value" not in text
    assert "password: (hidden" in text
    assert desired["data"]["password"] == secret["data"]["password"]  # the operation is intact


def test_color_when_asked() -> None:
    text = render_plan(_ops(), color=True)
    assert "\x1b[32m  + create" in text
    assert "\x1b[31m  - delete" in text


def test_names_from_the_cluster_cannot_drive_the_terminal() -> None:
    op = _ops()[0]
    evil = Operation(
        op.policy,
        op.target,
        ObjectKey("apps", "Deployment", "shop", "x\x1b]0;owned\x07"),
        op.action,
        op.reason,
        desired=op.desired,
    )
    assert "\x1b]" not in render_plan([evil], color=False)


def test_pull_members_are_named_so() -> None:
    op = _ops()[0]
    pulled = Operation(
        op.policy, op.target, op.key, op.action, f"{op.reason}; {PULL_NOTE}", desired=op.desired
    )
    text = render_plan([pulled], color=False)
    assert f"policy p -> cluster-b ({PULL_NOTE})" in text
    assert "(not on the target)" in text
    assert plan_as_dict([pulled])["targets"][0]["pull"] is True


def test_summary_and_plan_as_dict() -> None:
    ops = _ops()
    assert (
        summary(ops)
        == "plan: 1 to create, 1 to update, 1 to delete, 1 to orphan, 1 conflict, 1 in sync (2 targets)"
    )
    data = plan_as_dict(ops)
    assert yaml.safe_load(yaml.safe_dump(data)) == data  # plain data only
    assert data["summary"]["create"] == 1
    b, c = data["targets"]
    assert (b["target"], c["target"]) == ("cluster-b", "cluster-c")
    assert [o["change"] for o in b["operations"]] == ["create", "delete", "update"]
    update = b["operations"][2]
    assert update["differences"] == ["spec.replicas"]
    assert "+  replicas: 2" in update["diff"]


def test_an_empty_plan_is_empty() -> None:
    assert render_plan([], color=False) == ""
    assert summary([]) == "plan: 0 to create, 0 to update, 0 to delete, 0 in sync (0 targets)"


def test_fields_the_sync_applied_and_no_longer_sets_show_as_removed() -> None:
    p = policy()
    before = deployment()
    before["metadata"]["annotations"]["release"] = "0"
    actual = server_copy(desired_object(before, p, "cluster-b", {}, "cluster-a"))
    actual["metadata"]["annotations"]["by-hand"] = "kept"  # another manager's: stays
    actual["metadata"]["managedFields"] = [
        {
            "manager": "kubectl",
            "operation": "Update",
            "fieldsV1": {"f:metadata": {"f:annotations": {"f:by-hand": {}}}},
        },
        {
            "manager": "kubeops-sync",
            "operation": "Apply",
            "fieldsV1": {
                "f:metadata": {"f:annotations": {"f:release": {}, "f:team": {}}},
                "f:spec": {"f:replicas": {}},
            },
        },
    ]
    desired = desired_object(deployment(), p, "cluster-b", {}, "cluster-a")
    op = decide(p, "cluster-b", _key("web"), desired, actual)
    assert op.reason == "source changed"
    changed = [
        line for line in diff_lines(op) if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == ["-    release: '0'"]


def test_a_list_that_changes_length_shows_the_items_that_come_and_go() -> None:
    p = policy()
    desired = desired_object(deployment(), p, "cluster-b", {}, "cluster-a")
    old_source = deployment()
    old_source["spec"]["template"]["spec"]["containers"].pop()  # no sidecar before
    actual = server_copy(desired_object(old_source, p, "cluster-b", {}, "cluster-a"))
    lines = diff_lines(decide(p, "cluster-b", _key("web"), desired, actual))
    changed = [line for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["+      - name: sidecar", "+        image: envoy:1.30"]
    body = "\n".join(lines)
    assert "imagePullPolicy" not in body  # the kept item is cut to what the sync sets
