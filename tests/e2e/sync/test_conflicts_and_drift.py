"""Objects the sync did not create (Abort, Adopt, Overwrite) and objects changed by hand
on a target (drift Correct or Report)."""

from __future__ import annotations

import json
from typing import Any

from integration.sync.conftest import (
    TARGETS,
    MakePolicy,
    StartController,
    SyncWorld,
    configmap,
    create,
    delete,
    patch,
    policy_status,
    read,
    target_status,
)
from kubeops.sync.ownership import POLICY_LABEL
from kubeops.testenv import eventually


def one_configmap(namespace: str, name: str) -> list[dict[str, Any]]:
    return [{"apiGroup": "", "kind": "ConfigMap", "namespaces": [namespace], "names": [name]}]


def test_abort_adopt_and_overwrite_of_foreign_objects(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    b, c = TARGETS
    on_b = sync_world.targets[b]
    for name in ("abort", "adopt", "overwrite"):
        create(source, configmap(name, sync_ns, {"x": "source"}))
        create(
            on_b,
            configmap(name, sync_ns, {"x": "foreign", "keep": "mine"}, labels={"owner": "team"}),
        )
    before = read(on_b, "ConfigMap", sync_ns, "abort")
    assert before is not None
    policies = {
        mode: make_policy(
            targetClusters=list(TARGETS),
            resources=one_configmap(sync_ns, mode.lower()),
            conflictResolution=mode,
        )
        for mode in ("Abort", "Adopt", "Overwrite")
    }
    start_controller()

    def data(cluster: str, name: str) -> dict[str, str]:
        found = read(sync_world.cluster(cluster), "ConfigMap", sync_ns, name)
        assert found is not None
        return dict(found.get("data") or {})

    # Every policy reached the target without a foreign object.
    for name in ("abort", "adopt", "overwrite"):
        eventually(lambda n=name: data(c, n) == {"x": "source"}, message=f"{name} on {c}")

    # Abort: untouched, and the status says why.
    conflict = eventually(
        lambda: (
            target_status(sync_world.hub, policies["Abort"], b).get("conflicts") == 1
            and target_status(sync_world.hub, policies["Abort"], b)
        ),
        message="the Abort policy's status counting the conflict on b",
    )
    assert conflict.get("inSync", 0) == 0
    after = read(on_b, "ConfigMap", sync_ns, "abort")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert POLICY_LABEL not in after["metadata"]["labels"]

    # Adopt: our fields win, the foreign ones stay, and the object is ours now.
    eventually(lambda: data(b, "adopt") == {"x": "source", "keep": "mine"}, message="adopted")
    adopted = read(on_b, "ConfigMap", sync_ns, "adopt")
    assert adopted is not None
    assert adopted["metadata"]["labels"][POLICY_LABEL] == policies["Adopt"]
    assert adopted["metadata"]["labels"]["owner"] == "team"

    # Overwrite: replaced whole.
    eventually(lambda: data(b, "overwrite") == {"x": "source"}, message="overwritten")
    replaced = read(on_b, "ConfigMap", sync_ns, "overwrite")
    assert replaced is not None
    assert replaced["metadata"]["labels"][POLICY_LABEL] == policies["Overwrite"]
    assert "owner" not in replaced["metadata"]["labels"]
    for mode in ("Adopt", "Overwrite"):
        eventually(
            lambda m=mode: target_status(sync_world.hub, policies[m], b).get("inSync") == 1,
            message=f"the {mode} policy's status: in sync on b",
        )
    # Last, what a user reads: the status names why the Abort policy left it alone.
    status = policy_status(sync_world.hub, policies["Abort"])
    assert "not created by the sync" in str(status), json.dumps(status, indent=1)


def test_drift_made_by_hand_is_corrected_or_reported(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    source = sync_world.source
    b, c = TARGETS
    on_b = sync_world.targets[b]
    for name in ("correct", "report"):
        create(source, configmap(name, sync_ns, {"x": "source", "y": "source"}))
    policies = {
        mode: make_policy(
            targetClusters=list(TARGETS), resources=one_configmap(sync_ns, mode.lower()), drift=mode
        )
        for mode in ("Correct", "Report")
    }
    start_controller()

    def data(name: str) -> dict[str, str]:
        found = read(on_b, "ConfigMap", sync_ns, name)
        assert found is not None
        return dict(found.get("data") or {})

    for name in ("correct", "report"):
        eventually(lambda n=name: data(n) == {"x": "source", "y": "source"}, message=f"{name} on b")
        # A hand edit: one value changed, and a label added (an extra label is not drift).
        patch(
            on_b,
            "ConfigMap",
            sync_ns,
            name,
            {"data": {"x": "by hand"}, "metadata": {"labels": {"extra": "1"}}},
        )

    eventually(lambda: data("correct")["x"] == "source", message="the drift corrected")
    corrected = read(on_b, "ConfigMap", sync_ns, "correct")
    assert corrected is not None
    assert corrected["metadata"]["labels"]["extra"] == "1"
    eventually(
        lambda: target_status(sync_world.hub, policies["Correct"], b).get("inSync") == 1,
        message="the Correct policy in sync on b again",
    )

    reported = eventually(
        lambda: (
            target_status(sync_world.hub, policies["Report"], b).get("drifted") == 1
            and target_status(sync_world.hub, policies["Report"], b)
        ),
        message="the Report policy's status counting the drift on b",
    )
    assert reported.get("inSync", 0) == 0
    assert data("report")["x"] == "by hand"
    assert "data.x" in reported.get("lastError", ""), reported  # what drifted, by path
    # c was not edited: in sync there.
    assert target_status(sync_world.hub, policies["Report"], c).get("inSync") == 1
    # A source change is still applied over the reported drift (it is an update, not drift).
    patch(source, "ConfigMap", sync_ns, "report", {"data": {"y": "changed"}})
    eventually(lambda: data("report")["y"] == "changed", message="the source change on b")


def test_a_conflict_ends_when_the_foreign_object_goes(
    sync_world: SyncWorld, sync_ns: str, make_policy: MakePolicy, start_controller: StartController
) -> None:
    b = sync_world.targets[TARGETS[0]]
    create(sync_world.source, configmap("taken", sync_ns, {"x": "source"}))
    create(b, configmap("taken", sync_ns, {"x": "foreign"}))
    policy = make_policy(targetClusters=list(TARGETS), resources=one_configmap(sync_ns, "taken"))
    # The foreign object is not the sync's, so its deletion comes to no watch of the sync's:
    # the conflicted key's recheck (every 10 s by default; 2 s here) is what ends it.
    start_controller(conflict_recheck=2.0)
    eventually(
        lambda: target_status(sync_world.hub, policy, TARGETS[0]).get("conflicts") == 1,
        message="the conflict counted",
    )
    delete(b, "ConfigMap", sync_ns, "taken")  # its owner gives the name up
    eventually(
        lambda: (read(b, "ConfigMap", sync_ns, "taken") or {}).get("data") == {"x": "source"},
        timeout=60,
        message="the sync creating its own once the foreign object is gone",
    )
    eventually(
        lambda: target_status(sync_world.hub, policy, TARGETS[0]).get("inSync") == 1,
        message="in sync on b",
    )
