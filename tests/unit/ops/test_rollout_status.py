"""kubectl's status viewers, per kind, on objects as the API server returns them: the
wording ``kubectl rollout status`` prints, when a rollout is done, and when it has failed."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.api import BUILTIN, ResourceType
from kubeops.ops.rollout import (
    ProgressDeadlineExceeded,
    RolloutError,
    RolloutNotSupported,
    rollout_status_of,
)


def builtin(plural: str) -> ResourceType:
    return next(r for r in BUILTIN if r.plural == plural)


DEPLOYMENTS = builtin("deployments")
STATEFULSETS = builtin("statefulsets")
DAEMONSETS = builtin("daemonsets")


def obj(
    spec: dict[str, Any],
    status: dict[str, Any],
    *,
    generation: int = 2,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "generation": generation,
            "annotations": annotations or {},
        },
        "spec": spec,
        "status": {"observedGeneration": 2, **status},
    }


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            {"updatedReplicas": 1, "replicas": 3, "availableReplicas": 2},
            'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
        ),
        (
            {"updatedReplicas": 3, "replicas": 4, "availableReplicas": 3},
            'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
        ),
        (
            {"updatedReplicas": 3, "replicas": 3, "availableReplicas": 2},
            'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
        ),
    ],
)
def test_a_deployment_on_its_way_says_what_it_waits_for(
    status: dict[str, Any], message: str
) -> None:
    seen = rollout_status_of(DEPLOYMENTS, obj({"replicas": 3}, status))
    assert (seen.done, seen.message, seen.target, seen.namespace) == (
        False,
        message,
        "deployment.apps/web",
        "shop",
    )


def test_a_finished_deployment_is_done_with_its_counts_and_revision() -> None:
    status = {"updatedReplicas": 3, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    seen = rollout_status_of(
        DEPLOYMENTS,
        obj({"replicas": 3}, status, annotations={"deployment.kubernetes.io/revision": "4"}),
    )
    assert seen.done
    assert seen.message == 'deployment "web" successfully rolled out'
    assert seen.progress == "updated 3/3, ready 3/3, available 3/3"
    assert seen.revision == 4
    assert seen.to_dict()["progress"] == seen.progress


def test_a_spec_not_yet_observed_is_not_done_whatever_the_counts() -> None:
    status = {"updatedReplicas": 3, "replicas": 3, "availableReplicas": 3}
    seen = rollout_status_of(DEPLOYMENTS, obj({"replicas": 3}, status, generation=3))
    assert not seen.done
    assert not seen.observed
    assert seen.message == "Waiting for deployment spec update to be observed..."


def test_a_deployment_past_its_progress_deadline_fails() -> None:
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "web-7d9" has timed out progressing.',
    }
    stuck = obj({"replicas": 3}, {"updatedReplicas": 1, "conditions": [condition]})
    with pytest.raises(ProgressDeadlineExceeded) as raised:
        rollout_status_of(DEPLOYMENTS, stuck)
    assert str(raised.value) == (
        'rollout status deployment.apps/web in namespace "shop": deployment "web" exceeded '
        'its progress deadline: ReplicaSet "web-7d9" has timed out progressing.'
    )


def test_a_pinned_revision_must_be_the_running_one() -> None:
    running = obj({"replicas": 1}, {}, annotations={"deployment.kubernetes.io/revision": "2"})
    with pytest.raises(RolloutError, match=r"desired revision \(3\) is different"):
        rollout_status_of(DEPLOYMENTS, running, revision=3)


def test_a_daemonset_counts_scheduled_pods() -> None:
    spec = {"updateStrategy": {"type": "RollingUpdate"}}
    rolling = {"desiredNumberScheduled": 4, "updatedNumberScheduled": 4, "numberAvailable": 3}
    seen = rollout_status_of(DAEMONSETS, obj(spec, rolling))
    assert seen.message == (
        'Waiting for daemon set "web" rollout to finish: 3 of 4 updated pods are available...'
    )
    done = rollout_status_of(DAEMONSETS, obj(spec, rolling | {"numberAvailable": 4}))
    assert done.done
    assert done.message == 'daemon set "web" successfully rolled out'


def test_a_statefulset_completes_at_its_update_revision_or_its_partition() -> None:
    spec: dict[str, Any] = {"replicas": 3, "updateStrategy": {"type": "RollingUpdate"}}
    rolling = {
        "readyReplicas": 3,
        "updatedReplicas": 1,
        "currentReplicas": 2,
        "updateRevision": "web-2",
        "currentRevision": "web-1",
    }
    seen = rollout_status_of(STATEFULSETS, obj(spec, rolling))
    assert (
        seen.message
        == "waiting for statefulset rolling update to complete 1 pods at revision web-2..."
    )
    done = rollout_status_of(
        STATEFULSETS, obj(spec, rolling | {"currentRevision": "web-2", "currentReplicas": 3})
    )
    assert done.done
    assert done.message == "statefulset rolling update complete 3 pods at revision web-2..."

    partitioned = {
        **spec,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
    }
    waiting = rollout_status_of(STATEFULSETS, obj(partitioned, rolling))
    assert waiting.message == (
        "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..."
    )
    assert rollout_status_of(STATEFULSETS, obj(partitioned, rolling | {"updatedReplicas": 2})).done


@pytest.mark.parametrize("resource", [STATEFULSETS, DAEMONSETS])
def test_an_on_delete_strategy_has_no_rollout_status(resource: ResourceType) -> None:
    with pytest.raises(RolloutNotSupported, match="only available for RollingUpdate"):
        rollout_status_of(resource, obj({"updateStrategy": {"type": "OnDelete"}}, {}))


def test_a_kind_without_a_viewer_is_refused() -> None:
    with pytest.raises(RolloutNotSupported, match=r"no status viewer for replicasets\.apps"):
        rollout_status_of(builtin("replicasets"), obj({}, {}))
