"""Rollouts of Deployments, StatefulSets and DaemonSets, as ``kubectl rollout`` does them.

::

    web = Rollout(client, "deploy", "web")
    await web.set_image({"web": "nginx:1.27"}, change_cause="bump nginx")
    await web.status(timeout=120, on_progress=print)   # waits; fails on a stuck rollout
    for revision in await web.history():
        print(revision.revision, revision.change_cause)
    await web.undo()                                     # or undo(to_revision=3)

Every verb follows kubectl's rules and wording, so the cluster ends up exactly as
kubectl would leave it:

* history comes from the revision annotations of a Deployment's ReplicaSets, or
  from the ControllerRevisions of a StatefulSet or DaemonSet; undo copies the
  chosen revision back (:mod:`.history`);
* status applies kubectl's status viewers, and fails on a progress deadline
  exceeded or -- where kubectl would wait for ever -- on a paused Deployment
  with changes it will not roll out (:mod:`.status`);
* set image changes containers of any kind with a pod template (:mod:`.image`);
  restart sets ``kubectl.kubernetes.io/restartedAt`` in the pod template
  (:mod:`.restart`); pause and resume flip ``spec.paused`` (:mod:`.pause`);
* the pod template of a revision is described as kubectl prints it
  (:mod:`.template`).

Writes carry the resourceVersion that was read, so a verb never overwrites a
change it did not see: on a conflict it reads again and decides again
(:func:`kubeops.api.retry_on_conflict`).  :class:`Rollout` holds the verbs for one
object (:mod:`.verbs`); :class:`SyncRollout` is the same for
:class:`~kubeops.api.SyncClient`.
"""

from kubeops.ops.rollout.errors import (
    ContainerNotFound,
    ProgressDeadlineExceeded,
    RevisionNotFound,
    RolloutError,
    RolloutNotSupported,
    RolloutPaused,
    RolloutTimeout,
)
from kubeops.ops.rollout.history import CHANGE_CAUSE, REVISION, Revision, format_history
from kubeops.ops.rollout.restart import RESTARTED_AT
from kubeops.ops.rollout.status import RolloutStatus, rollout_status_of
from kubeops.ops.rollout.target import RolloutResult
from kubeops.ops.rollout.template import describe_pod_template
from kubeops.ops.rollout.verbs import Rollout, SyncRollout

__all__ = [
    "CHANGE_CAUSE",
    "RESTARTED_AT",
    "REVISION",
    "ContainerNotFound",
    "ProgressDeadlineExceeded",
    "Revision",
    "RevisionNotFound",
    "Rollout",
    "RolloutError",
    "RolloutNotSupported",
    "RolloutPaused",
    "RolloutResult",
    "RolloutStatus",
    "RolloutTimeout",
    "SyncRollout",
    "describe_pod_template",
    "format_history",
    "rollout_status_of",
]
