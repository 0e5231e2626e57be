"""How the sync marks what it owns on a target, so it never touches what it did not create.

Every object the sync writes carries the label :data:`POLICY_LABEL` (the
policy's name: target informers select on it) and the annotation
:data:`SOURCE_ANNOTATION` (``<cluster>/<namespace>/<name>`` of the source
object), and is written under the field manager :data:`FIELD_MANAGER`.  An
object is ours when either mark names our policy and source: a hand-removed
label is drift, not a foreign object.  :data:`HASH_ANNOTATION` holds the hash of
the desired object last applied, so a changed source is told apart from drift.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kubeops.sync.model import GROUP

FIELD_MANAGER = "kubeops-sync"
POLICY_LABEL = f"{GROUP}/policy"
SOURCE_ANNOTATION = f"{GROUP}/source"
HASH_ANNOTATION = f"{GROUP}/desired-hash"
WORK_FINALIZER = f"{GROUP}/agent"
"""On every ``SyncWork``: the agent removes the object on its member before the work goes."""


@dataclass(frozen=True, order=True)
class ObjectKey:
    """One object of one kind, the same on the source and on every target."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectKey:
        """The key of ``obj`` (its apiVersion gives the group)."""
        api_version = str(obj.get("apiVersion") or "")
        group = api_version.rpartition("/")[0]
        meta = obj.get("metadata") or {}
        return cls(group, str(obj.get("kind") or ""), meta.get("namespace") or "", meta["name"])

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{kind} {where}"


def source_reference(cluster: str, key: ObjectKey) -> str:
    """The :data:`SOURCE_ANNOTATION` value of an object synced from ``cluster``."""
    return f"{cluster}/{key.namespace}/{key.name}"


def owner_policy(obj: Mapping[str, Any]) -> str | None:
    """The policy that owns ``obj`` by its label, or None for a foreign object."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(POLICY_LABEL)
    return value if isinstance(value, str) else None


def is_owned(obj: Mapping[str, Any], policy: str, source_ref: str) -> bool:
    """Whether ``obj`` was written by ``policy`` from ``source_ref`` (either mark suffices)."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return labels.get(POLICY_LABEL) == policy or (
        annotations.get(SOURCE_ANNOTATION) == source_ref
        and labels.get(POLICY_LABEL) in (None, policy)
    )


def desired_hash(obj: Mapping[str, Any]) -> str:
    """A short stable hash of a desired object (keys sorted; the hash annotation left out)."""
    meta = dict(obj.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != HASH_ANNOTATION}
    meta["annotations"] = annotations
    body = orjson.dumps({**obj, "metadata": meta}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()[:16]
