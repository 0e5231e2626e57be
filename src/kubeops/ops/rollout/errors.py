"""What a rollout verb raises: each names the verb, the object, its namespace and the cause."""

from __future__ import annotations

from kubeops.ops.errors import OperationError

__all__ = [
    "ContainerNotFound",
    "ProgressDeadlineExceeded",
    "RevisionNotFound",
    "RolloutError",
    "RolloutNotSupported",
    "RolloutPaused",
    "RolloutTimeout",
]


class RolloutError(OperationError):
    """A rollout verb failed: names the verb, the object, its namespace and the cause."""


class RevisionNotFound(RolloutError):
    """The revision asked for is not in the history (or there is no earlier one)."""


class RolloutPaused(RolloutError):
    """The Deployment is paused: it will not roll out, be rolled back or restarted."""


class ProgressDeadlineExceeded(RolloutError):
    """The Deployment made no progress for ``spec.progressDeadlineSeconds``."""


class RolloutTimeout(RolloutError):
    """The rollout did not complete in the time given; says how far it got."""


class RolloutNotSupported(RolloutError):
    """The verb does not apply to this kind (pausing a StatefulSet, undoing a Pod)."""


class ContainerNotFound(RolloutError):
    """``set_image`` named a container the pod template does not have."""
