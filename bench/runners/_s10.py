"""S10's shared pieces for the contenders that are not kubeops' engine (standard library only:
the hand-written loop imports it from the ``kubernetes`` virtualenv).

Both the floor and the hand-written loop write what the engine writes: the source
Deployment minus the fields the server sets, plus the engine's ownership marks, by
server-side apply with ``force``.  Each waits for one line on stdin before it
starts, so the harness times all three from the same moment it gives the word.
"""

from __future__ import annotations

import json
import sys
from typing import Any

POLICY = "s10"  # the policy name the marks carry, as the engine's ClusterSyncPolicy is named
POLICY_LABEL = "sync.kubeops.io/policy"
SOURCE_ANNOTATION = "sync.kubeops.io/source"
SERVER_SET = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
)
DROPPED_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)


def desired(source: dict[str, Any], source_cluster: str) -> dict[str, Any]:
    """The object to apply on a target: server-set fields and status gone, marks added."""
    meta = {k: v for k, v in (source.get("metadata") or {}).items() if k not in SERVER_SET}
    labels = dict(meta.get("labels") or {})
    labels[POLICY_LABEL] = POLICY
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in DROPPED_ANNOTATIONS
    }
    annotations[SOURCE_ANNOTATION] = f"{source_cluster}/{meta.get('namespace', '')}/{meta['name']}"
    meta["labels"] = labels
    meta["annotations"] = annotations
    body = {k: v for k, v in source.items() if k not in ("metadata", "status")}
    body["metadata"] = meta
    body.setdefault("apiVersion", "apps/v1")
    body.setdefault("kind", "Deployment")
    return body


def ready_then_wait() -> None:
    """Say ready on stdout, then block until the harness writes the word on stdin."""
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    sys.stdin.readline()
