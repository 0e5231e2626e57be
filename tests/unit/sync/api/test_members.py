"""Joining a member (objects only) and the Ready condition's bookkeeping."""

from __future__ import annotations

import base64
import datetime

import pytest
import yaml

from kubeops.sync.members import (
    MemberError,
    join_objects,
    member_status,
    set_condition,
)
from kubeops.sync.model import SyncMode, member_from_object

KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "b", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "t0k3n"}}],
        "contexts": [{"name": "b", "context": {"cluster": "b", "user": "u"}}],
        "current-context": "b",
    }
)
T0 = datetime.datetime(2026, 12, 5, 3, 0, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)


def test_a_push_member_is_a_secret_and_a_member_cluster() -> None:
    secret, member = join_objects("cluster-b", KUBECONFIG, labels={"region": "eu"})
    assert secret["metadata"] == {
        "name": "member-cluster-b",
        "namespace": "kubeops-sync",
        "labels": {
            "app.kubernetes.io/part-of": "kubeops-sync",
            "sync.kubeops.io/member": "cluster-b",
        },
    }
    assert base64.b64decode(secret["data"]["kubeconfig"]).decode() == KUBECONFIG
    parsed = member_from_object(member)
    assert parsed.labels == {"region": "eu"}
    assert parsed.mode is SyncMode.PUSH
    assert parsed.kubeconfig is not None
    assert parsed.kubeconfig.name == "member-cluster-b"


def test_a_pull_member_has_no_secret() -> None:
    (member,) = join_objects("edge", None, mode="Pull")
    assert member["spec"] == {"syncMode": "Pull"}


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (None, "a Push member needs a kubeconfig"),
        ("clusters: 3", "clusters must be a list"),
        ("- a", "the top level must be a mapping"),
        (KUBECONFIG.replace("current-context: b", "current-context: x"), "context 'x'"),
        (
            KUBECONFIG.replace("token: t0k3n", "tokenFile: /var/run/token"),
            "user 'u' reads tokenFile from a file; inline it",
        ),
    ],
)
def test_a_bad_kubeconfig_is_refused_before_anything_is_written(
    text: str | None, cause: str
) -> None:
    with pytest.raises(MemberError) as refused:
        join_objects("cluster-b", text)
    message = str(refused.value)
    assert message.startswith("MemberCluster 'cluster-b': ")
    assert cause in message
    assert "\n" not in message


def test_a_condition_keeps_its_transition_time_while_its_status_holds() -> None:
    first = set_condition([], "Ready", True, "Reachable", "ok", now=T0)
    assert first == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Reachable",
            "message": "ok",
            "lastTransitionTime": "2026-12-05T03:00:00.000000Z",
        }
    ]
    same = set_condition(first, "Ready", True, "Reachable", "still ok", now=T1)
    assert same[0]["lastTransitionTime"] == first[0]["lastTransitionTime"]
    assert same[0]["message"] == "still ok"
    flipped = set_condition(same, "Ready", False, "Unreachable", "refused", now=T1)
    assert flipped[0]["lastTransitionTime"] == "2026-12-05T03:05:00.000000Z"
    assert flipped[0]["status"] == "False"


def test_other_conditions_are_left_as_they_are() -> None:
    valid = {"type": "Valid", "status": "True", "lastTransitionTime": "x"}
    both = set_condition([valid], "Ready", "Unknown", "Probing", "", now=T0)
    assert both[0] == valid
    assert [c["type"] for c in both] == ["Valid", "Ready"]


def test_member_status_writes_probe_time_and_version() -> None:
    status = member_status({}, True, "ok", "v1.37.2", now=T0)
    assert status["kubernetesVersion"] == "v1.37.2"
    assert status["lastProbeTime"] == "2026-12-05T03:00:00.000000Z"
    later = member_status(status, True, "ok", now=T1)
    assert later["conditions"][0]["lastTransitionTime"] == "2026-12-05T03:00:00.000000Z"
    assert "kubernetesVersion" not in later
