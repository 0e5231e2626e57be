"""The error every operation raises on purpose: the verb, the object, where, and why."""

from __future__ import annotations

from kubeops.errors import KubeopsError


class OperationError(KubeopsError):
    """An operation failed: ``verb target in namespace "ns": cause``."""

    def __init__(self, verb: str, target: str, namespace: str | None, cause: str) -> None:
        super().__init__(verb, target, namespace, cause)
        self.verb = verb
        self.target = target
        self.namespace = namespace
        self.cause = cause

    def __str__(self) -> str:
        where = f' in namespace "{self.namespace}"' if self.namespace else ""
        return f"{self.verb} {self.target}{where}: {self.cause}"
