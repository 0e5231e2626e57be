"""The check modules; importing this package registers every check in the catalogue."""

from kubeops.inspect.checks import (
    configuration,
    deprecations,
    events,
    networking,
    nodes,
    pods,
    quotas,
    rbac,
    security,
    storage,
    usage,
    workloads,
)

__all__ = [
    "configuration",
    "deprecations",
    "events",
    "networking",
    "nodes",
    "pods",
    "quotas",
    "rbac",
    "security",
    "storage",
    "usage",
    "workloads",
]
