"""The shape of a Pull member's ``SyncWork``: its name, its object, what its status says (no server)."""

from __future__ import annotations

import datetime
import re

from kubeops.sync.agent import manifest_mismatch, work_policy, work_status
from kubeops.sync.model import API_VERSION, Conflict, Deletion, Drift, SyncPolicy, work_namespace
from kubeops.sync.operation import Action, Operation, State
from kubeops.sync.ownership import HASH_ANNOTATION, POLICY_LABEL, WORK_FINALIZER, ObjectKey
from kubeops.sync.work import (
    format_time,
    heartbeat_fresh,
    parse_time,
    spec_hash,
    work_key,
    work_name,
    work_object,
    work_state,
)

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KEY = ObjectKey("apps", "Deployment", "shop", "web")
POLICY = SyncPolicy(
    name="prod",
    source_cluster="cluster-a",
    target_clusters=("cluster-c",),
    conflict=Conflict.ADOPT,
    deletion=Deletion.ORPHAN,
    drift=Drift.REPORT,
)
DESIRED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "annotations": {HASH_ANNOTATION: "abc"}},
    "spec": {"replicas": 2},
}


def test_work_name_is_readable_stable_and_a_dns_subdomain() -> None:
    name = work_name("prod", KEY)
    assert name == work_name("prod", KEY)
    assert name.startswith("prod-deployment-shop-web-")
    assert DNS_SUBDOMAIN.match(name)


def test_keys_that_read_alike_after_cleaning_get_different_names() -> None:
    one = work_name("prod", ObjectKey("apps", "Deployment", "shop", "web.a"))
    other = work_name("prod", ObjectKey("apps", "Deployment", "shop", "web-a"))
    other_group = work_name("prod", ObjectKey("example.com", "Deployment", "shop", "web.a"))
    assert len({one, other, other_group}) == 3


def test_a_cluster_scoped_key_has_no_empty_segment() -> None:
    name = work_name("prod", ObjectKey("", "Namespace", "", "shop"))
    assert name.startswith("prod-namespace-shop-")
    assert "--" not in name


def test_a_long_key_is_cut_to_253_characters_and_stays_valid() -> None:
    key = ObjectKey("example.com", "Widget", "n" * 63, "x" * 253)
    name = work_name("p" * 253, key)
    assert len(name) <= 253
    assert DNS_SUBDOMAIN.match(name)
    assert name != work_name("p" * 253, ObjectKey("example.com", "Widget", "n" * 63, "x" * 252))


def test_work_object_carries_the_manifest_the_rules_and_the_marks() -> None:
    work = work_object(POLICY, "cluster-c", KEY, DESIRED, "cluster-a")
    meta = work["metadata"]
    assert work["apiVersion"] == API_VERSION
    assert work["kind"] == "SyncWork"
    assert meta["namespace"] == work_namespace("cluster-c") == "kubeops-member-cluster-c"
    assert meta["name"] == work_name("prod", KEY)
    assert meta["finalizers"] == [WORK_FINALIZER]
    assert meta["labels"][POLICY_LABEL] == "prod"
    assert meta["annotations"][HASH_ANNOTATION] == spec_hash(work["spec"])
    assert work["spec"] == {
        "policy": "prod",
        "member": "cluster-c",
        "source": {
            "cluster": "cluster-a",
            "group": "apps",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
        },
        "manifest": DESIRED,
        "conflictResolution": "Adopt",
        "deletion": "Orphan",
        "drift": "Report",
    }
    assert work_key(work) == ("prod", KEY)


def test_the_work_hash_changes_with_the_manifest_and_with_the_rules_only() -> None:
    first = work_object(POLICY, "cluster-c", KEY, DESIRED, "cluster-a")
    again = work_object(POLICY, "cluster-c", KEY, dict(DESIRED), "cluster-a")
    changed = work_object(
        POLICY, "cluster-c", KEY, {**DESIRED, "spec": {"replicas": 3}}, "cluster-a"
    )
    pruning = work_object(
        SyncPolicy("prod", "cluster-a", ("cluster-c",)), "cluster-c", KEY, DESIRED, "cluster-a"
    )
    hashes = [
        w["metadata"]["annotations"][HASH_ANNOTATION] for w in (first, again, changed, pruning)
    ]
    assert hashes[0] == hashes[1]
    assert len({hashes[0], hashes[2], hashes[3]}) == 3


def test_work_state_is_pending_until_the_agent_saw_the_current_generation() -> None:
    work = {"metadata": {"generation": 2}, "status": {"state": "InSync", "observedGeneration": 1}}
    assert work_state(work)[0] is State.PENDING
    work["status"]["observedGeneration"] = 2
    assert work_state(work) == (State.IN_SYNC, "")
    drifted = {
        "metadata": {"generation": 1},
        "status": {
            "state": "Drifted",
            "message": "drifted: spec.replicas",
            "observedGeneration": 1,
        },
    }
    assert work_state(drifted) == (State.DRIFTED, "drifted: spec.replicas")
    going = {"metadata": {"generation": 1, "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert work_state(going)[0] is State.PENDING
    odd = {"metadata": {"generation": 1}, "status": {"state": "Weird", "observedGeneration": 1}}
    state, message = work_state(odd)
    assert state is State.FAILED
    assert "Weird" in message


def test_heartbeat_is_fresh_for_60_seconds() -> None:
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    member = {"status": {"agent": {"heartbeatTime": format_time(now)}}}
    assert heartbeat_fresh(member, now + datetime.timedelta(seconds=59))
    assert not heartbeat_fresh(member, now + datetime.timedelta(seconds=61))
    assert not heartbeat_fresh({"status": {}}, now)
    assert not heartbeat_fresh({"status": {"agent": {"heartbeatTime": "yesterday"}}}, now)


def test_times_round_trip_as_the_api_server_writes_them() -> None:
    assert parse_time("2026-01-01T12:00:00Z") == datetime.datetime(
        2026, 1, 1, 12, tzinfo=datetime.UTC
    )
    moment = datetime.datetime(2026, 1, 1, 12, 0, 0, 5, tzinfo=datetime.UTC)
    assert parse_time(format_time(moment)) == moment
    assert parse_time(None) is None
    assert parse_time("") is None


def test_an_agent_reads_the_rules_of_a_work_as_a_policy() -> None:
    work = work_object(POLICY, "cluster-c", KEY, DESIRED, "cluster-a")
    policy = work_policy(work)
    assert policy.name == "prod"
    assert policy.source_cluster == "cluster-a"
    assert policy.conflict is Conflict.ADOPT
    assert policy.deletion is Deletion.ORPHAN
    assert policy.drift is Drift.REPORT
    bare = work_policy({"spec": {"policy": "p", "source": {"cluster": "a"}}})
    assert (bare.conflict, bare.deletion, bare.drift) == (
        Conflict.ABORT,
        Deletion.PRUNE,
        Drift.CORRECT,
    )


def test_the_status_an_agent_writes_names_the_hash_it_holds() -> None:
    work = work_object(POLICY, "cluster-c", KEY, DESIRED, "cluster-a")
    work["metadata"]["generation"] = 3
    applied = Operation("prod", "cluster-c", KEY, Action.APPLY, "source changed")
    assert work_status(work, applied) == {
        "state": "InSync",
        "message": "source changed",
        "appliedHash": "abc",
        "observedGeneration": 3,
    }
    foreign = {"metadata": {"name": "web", "annotations": {}}}
    refused = Operation(
        "prod",
        "cluster-c",
        KEY,
        Action.NONE,
        "not created by the sync",
        State.CONFLICT,
        actual=foreign,
    )
    status = work_status(work, refused)
    assert status["state"] == "Conflict"
    assert status["appliedHash"] == ""


def test_an_agent_refuses_a_manifest_that_names_another_object_than_its_source() -> None:
    assert manifest_mismatch(KEY, DESIRED) is None
    renamed = {**DESIRED, "metadata": {**DESIRED["metadata"], "name": "other"}}
    assert manifest_mismatch(KEY, renamed) == (
        "spec.manifest is Deployment.apps shop/other, not Deployment.apps shop/web "
        "as spec.source says"
    )
    moved = {**DESIRED, "metadata": {**DESIRED["metadata"], "namespace": "kube-system"}}
    assert "kube-system/web" in str(manifest_mismatch(KEY, moved))
    rekinded = {**DESIRED, "apiVersion": "v1", "kind": "Secret"}
    assert "Secret shop/web" in str(manifest_mismatch(KEY, rekinded))
    assert manifest_mismatch(KEY, {"kind": "Deployment"}) == "spec.manifest has no metadata.name"
