"""A real local Kubernetes control plane for tests, demos and benchmarks.

``Environment`` starts one or more clusters on 127.0.0.1 -- etcd, kube-apiserver
and, unless ``api_only``, kube-controller-manager, kube-scheduler and kwok's
simulated nodes -- from binaries built from pinned Kubernetes sources.  The
pytest plugin (:mod:`kubeops.testenv.pytest_plugin`) exposes it as fixtures;
``eventually``/``async_eventually`` are how tests wait on it.
``PostgresServer`` runs a throwaway PostgreSQL (Debian's binaries) the same way, and
``Alertmanager`` a real Alertmanager notifying a webhook.  ``Environment(metrics=True)``
adds metrics-server, so metrics.k8s.io reports the usage a test sets.
"""

from kubeops.testenv.alertmanager import Alertmanager
from kubeops.testenv.assets import Assets, Pins, ensure_assets, read_pins
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.environment import Environment
from kubeops.testenv.errors import (
    AssetsError,
    ComponentFailed,
    ControlPlaneError,
    EnvironmentBusy,
    PortInUse,
    UnknownCluster,
)
from kubeops.testenv.eventually import async_eventually, eventually
from kubeops.testenv.postgres import PostgresError, PostgresServer, postgres_binaries

__all__ = [
    "Alertmanager",
    "Assets",
    "AssetsError",
    "Cluster",
    "ComponentFailed",
    "ControlPlaneError",
    "Environment",
    "EnvironmentBusy",
    "Pins",
    "PortInUse",
    "PostgresError",
    "PostgresServer",
    "UnknownCluster",
    "async_eventually",
    "ensure_assets",
    "eventually",
    "postgres_binaries",
    "read_pins",
]
