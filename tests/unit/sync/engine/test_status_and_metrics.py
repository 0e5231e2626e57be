"""The status book's counts and conditions, the metrics, and the executor's and store's
pure helpers (no server needed)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from kubeops.cache import DeletedFinalStateUnknown
from kubeops.sync.executor import _folded, _merge
from kubeops.sync.metrics import SyncMetrics
from kubeops.sync.operation import State
from kubeops.sync.ownership import ObjectKey
from kubeops.sync.status import StatusBook, _comparable
from kubeops.sync.store import kind_name, object_key, store_transform

A = ObjectKey("", "ConfigMap", "ns", "a")
B = ObjectKey("", "ConfigMap", "ns", "b")


def _book() -> StatusBook:
    book = StatusBook()
    book.set_policy("p", generation=3, targets={"b": "Push", "c": "Pull"})
    return book


def test_counts_per_target_and_ready_once_all_in_sync() -> None:
    book = _book()
    book.pending("p", "b", A)
    book.pending("p", "b", B)
    book.record("p", "c", A, State.IN_SYNC)
    assert book.counts("p", "b") == {
        "desired": 2,
        "inSync": 0,
        "drifted": 0,
        "conflicts": 0,
        "failed": 0,
        "pending": 2,
    }
    ready, reason, message = book.policy("p").ready()
    assert (ready, reason) == (False, "NotInSync")
    assert message == "b: 2 of 2 not in sync"
    book.record("p", "b", A, State.IN_SYNC)
    book.record("p", "b", B, State.IN_SYNC)
    assert book.policy("p").ready()[:2] == (True, "InSync")
    book.forget("p", "b", B)
    assert book.counts("p", "b")["desired"] == 1


def test_last_error_kept_while_a_problem_remains() -> None:
    book = _book()
    book.record("p", "b", A, State.CONFLICT, "ConfigMap ns/a: not created by the sync")
    book.record("p", "b", B, State.IN_SYNC)
    row = book.policy("p").targets["b"].row()
    assert row["lastError"] == "ConfigMap ns/a: not created by the sync"
    assert row["conflicts"] == 1
    book.record("p", "b", A, State.IN_SYNC)
    assert book.policy("p").targets["b"].row()["lastError"] == ""


def test_status_conditions_and_what_counts_as_a_change() -> None:
    book = _book()
    book.record("p", "b", A, State.IN_SYNC)
    book.record("p", "c", A, State.IN_SYNC)
    assert book.take_changed() == {"p"}
    assert book.take_changed() == set()
    status = book.status("p")
    assert status["observedGeneration"] == 3
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Valid"]["status"] == "True"
    assert conditions["Ready"]["observedGeneration"] == 3
    assert [t["name"] for t in status["targets"]] == ["b", "c"]
    assert status["targets"][1]["mode"] == "Pull"
    again = book.status("p")
    assert _comparable(again) == _comparable(status)  # times alone are not a change
    book.set_up("b", False, "target b: cannot reach it")
    down = book.status("p")
    assert _comparable(down) != _comparable(status)
    assert {c["type"]: c for c in down["conditions"]}["Ready"]["message"] == "b unreachable"
    book.set_source_error("p", "source a: forbidden")
    assert book.policy("p").ready() == (False, "SourceUnavailable", "source a: forbidden")


def test_an_invalid_or_paused_policy_is_not_ready() -> None:
    book = StatusBook()
    book.set_policy("p", generation=1, targets={}, valid=False, reason="no MemberCluster x")
    assert book.policy("p").ready() == (False, "Invalid", "no MemberCluster x")
    book.set_policy("q", generation=1, targets={"b": "Push"}, paused=True)
    assert book.policy("q").ready()[1] == "Paused"
    book.record("gone", "b", A, State.IN_SYNC)  # an unknown policy is ignored
    assert "gone" not in book.snapshot()


def test_metrics_are_registered_under_the_contract_names() -> None:
    registry = CollectorRegistry()
    metrics = SyncMetrics(registry)
    metrics.operation("p", "b", "create", "success")
    metrics.set_objects("p", "b", {"InSync": 4})
    metrics.set_up("b", False)
    metrics.set_depth("b", 7)
    metrics.propagated("b", 0.2)
    value = registry.get_sample_value
    labels = {"policy": "p", "target": "b", "action": "create", "result": "success"}
    assert value("kubeops_sync_operations_total", labels) == 1
    assert value("kubeops_sync_objects", {"policy": "p", "target": "b", "state": "InSync"}) == 4
    assert value("kubeops_sync_target_up", {"target": "b"}) == 0
    assert value("kubeops_sync_queue_depth", {"target": "b"}) == 7
    assert value("kubeops_sync_propagation_seconds_count", {"target": "b"}) == 1
    metrics.forget_policy("p", ["b"], ["InSync", "Failed"])
    assert value("kubeops_sync_objects", {"policy": "p", "target": "b", "state": "InSync"}) is None


def test_the_creates_field_ownership_is_folded_into_the_apply_entry() -> None:
    entries = [
        {"manager": "other", "operation": "Update", "apiVersion": "v1", "fieldsV1": {"f:x": {}}},
        {
            "manager": "kubeops-sync",
            "operation": "Update",
            "apiVersion": "v1",
            "fieldsV1": {"f:data": {"f:a": {}, "f:gone": {}}},
        },
        {
            "manager": "kubeops-sync",
            "operation": "Apply",
            "apiVersion": "v1",
            "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {}},
        },
    ]
    folded = _folded(entries)
    assert folded[0]["manager"] == "other"
    assert len(folded) == 2
    assert folded[1]["operation"] == "Apply"
    assert folded[1]["fieldsV1"] == {"f:data": {"f:a": {}, "f:gone": {}}, "f:metadata": {}}
    assert _merge({"a": {"b": {}}}, {"a": {"c": {}}, "d": {}}) == {"a": {"b": {}, "c": {}}, "d": {}}


def test_store_helpers() -> None:
    obj = {"metadata": {"name": "a", "managedFields": [{}], "labels": {}}, "status": {"x": 1}}
    stored = store_transform(obj)
    assert stored == {"metadata": {"name": "a", "labels": {}}}
    assert obj["status"] == {"x": 1}  # the object passed in is not changed
    plain = {"metadata": {"name": "a"}}
    assert store_transform(plain) is plain
    assert kind_name("apps", "Deployment") == "Deployment.apps"
    assert kind_name("", "ConfigMap") == "ConfigMap"
    assert object_key({"metadata": {"name": "a", "namespace": "ns"}}, "", "ConfigMap") == A
    tombstone = DeletedFinalStateUnknown("ns/b", None)
    assert object_key(tombstone, "", "ConfigMap") == B
    assert object_key({"metadata": {}}, "", "ConfigMap") is None
