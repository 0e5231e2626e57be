"""Errors testenv raises: each says what failed, where, and what to do next."""

from __future__ import annotations

from collections.abc import Sequence

from kubeops.errors import KubeopsError


class ControlPlaneError(KubeopsError):
    """Base class: a local control plane could not be prepared, started or changed."""


class AssetsError(ControlPlaneError):
    """The control-plane binaries are missing, broken, or could not be built."""


class ComponentFailed(ControlPlaneError):
    """A component (etcd, kube-apiserver, ...) exited or did not become ready in time."""

    def __init__(self, component: str, cluster: str | None, reason: str, log_tail: Sequence[str]):
        self.component = component
        self.cluster = cluster
        self.reason = reason
        self.log_tail = list(log_tail)
        where = f" of cluster {cluster!r}" if cluster else ""
        lines = "\n".join(f"    {line}" for line in self.log_tail) or "    (no output)"
        super().__init__(f"{component}{where} {reason}; its last log lines:\n{lines}")


class PortInUse(ControlPlaneError):
    """A port a component must listen on is held by another process."""


class EnvironmentBusy(ControlPlaneError):
    """A directory is already used by a running testenv."""


class UnknownCluster(ControlPlaneError, KeyError):
    """A cluster name that the environment does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown cluster"
