"""Day-to-day operations, as kubectl's verbs: rollouts, scaling, waiting, node
maintenance, events, logs, ConfigMap/Secret data and hot reload, RBAC tools.

Every operation takes either client (``await scale(client, ...)``, or
``scale(sync_client, ...)`` blocking); an object that keeps a client has a
``Sync`` twin (``Rollout``/``SyncRollout``, ``Subscription``/``SyncSubscription``).
Each module's own names (result types, errors, parsers) stay in that module:
``from kubeops.ops.rbac import Subject``.
"""

from kubeops.ops.config_data import configmap, docker_registry_secret, secret, tls_secret
from kubeops.ops.config_data import create as create_config_data
from kubeops.ops.errors import OperationError
from kubeops.ops.events import events_for, list_events
from kubeops.ops.hot_reload import subscribe, sync_directory
from kubeops.ops.logs import logs
from kubeops.ops.node import cordon, drain, uncordon
from kubeops.ops.rbac import access_matrix, can_i, create_service_account, who_can
from kubeops.ops.rollout import Rollout, SyncRollout
from kubeops.ops.scale import scale
from kubeops.ops.wait import parse_condition, wait_for

__all__ = [
    "OperationError",
    "Rollout",
    "SyncRollout",
    "access_matrix",
    "can_i",
    "configmap",
    "cordon",
    "create_config_data",
    "create_service_account",
    "docker_registry_secret",
    "drain",
    "events_for",
    "list_events",
    "logs",
    "parse_condition",
    "scale",
    "secret",
    "subscribe",
    "sync_directory",
    "tls_secret",
    "uncordon",
    "wait_for",
    "who_can",
]
