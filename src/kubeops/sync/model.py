"""What a ``ClusterSyncPolicy`` and a ``MemberCluster`` say, as immutable values.

The API server validates both objects against their CRD schema and CEL rules
(:mod:`kubeops.sync.crds`); this module turns an object the server accepted --
or a local file that ``kubeops sync plan -f`` reads -- into typed values the
diff engine and the controllers use, and refuses what the schema cannot
express with one :class:`PolicyError` naming the policy, the field and the cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from kubeops.errors import KubeopsError
from kubeops.models.selector import Selector, SelectorError

GROUP = "sync.kubeops.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
POLICY_KIND = "ClusterSyncPolicy"
MEMBER_KIND = "MemberCluster"
WORK_KIND = "SyncWork"
E = TypeVar("E", bound=StrEnum)

SYSTEM_NAMESPACE = "kubeops-sync"
"""Where the hub keeps member kubeconfig Secrets, the controller's Lease and its RBAC."""


class PolicyError(KubeopsError, ValueError):
    """A policy or member the engine cannot use; the message names it, the field and the cause."""


class Conflict(StrEnum):
    """What to do with a target object of the same name that the sync did not create."""

    ABORT = "Abort"
    """Leave it alone and report the conflict in the policy's status."""
    OVERWRITE = "Overwrite"
    """Replace it whole with the desired object (foreign fields are removed) and own it."""
    ADOPT = "Adopt"
    """Take it over with server-side apply: our fields win, foreign fields stay."""


class Deletion(StrEnum):
    """What to do on a target when the source object is gone (or leaves the selector)."""

    PRUNE = "Prune"
    ORPHAN = "Orphan"
    """Leave the target object, without the sync's marks, so nothing manages it any more."""


class Drift(StrEnum):
    """What to do when a target object we own no longer matches the desired one."""

    CORRECT = "Correct"
    REPORT = "Report"


class SyncMode(StrEnum):
    """How a member receives its objects."""

    PUSH = "Push"
    """The hub's controller applies to the member directly (it needs the member's kubeconfig)."""
    PULL = "Pull"
    """An agent beside the member fetches its work from the hub and reports back."""


@dataclass(frozen=True)
class ResourceSelector:
    """Which source objects one ``spec.resources`` entry selects."""

    group: str
    """``""`` for the core group."""
    kind: str
    namespaces: tuple[str, ...] = ()
    """Empty: every namespace (and cluster-scoped objects of the kind)."""
    names: tuple[str, ...] = ()
    """Empty: every name."""
    selector: Selector = field(default_factory=Selector.everything)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` (of this selector's kind) is selected."""
        meta = obj.get("metadata") or {}
        if self.namespaces and meta.get("namespace", "") not in self.namespaces:
            return False
        if self.names and meta.get("name") not in self.names:
            return False
        return self.selector.matches(meta.get("labels") or {})

    @property
    def group_kind(self) -> str:
        """``Deployment.apps`` / ``ConfigMap``, as kubectl writes a kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


@dataclass(frozen=True)
class ContainerImage:
    """An image override: ``container`` empty means every container of the pod template."""

    image: str
    container: str = ""


@dataclass(frozen=True)
class Override:
    """Changes applied to the desired object for some targets (and optionally some objects)."""

    target_clusters: tuple[str, ...] = ()
    target_selector: Selector | None = None
    """Both empty/None: every target of the policy."""
    resources: tuple[ResourceSelector, ...] = ()
    """Empty: every synced object; else only the objects one of these selects."""
    replicas: int | None = None
    images: tuple[ContainerImage, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    json_patch: tuple[Mapping[str, Any], ...] = ()
    """RFC 6902 operations, applied last."""


@dataclass(frozen=True)
class SyncPolicy:
    """A ``ClusterSyncPolicy``: which objects go from one cluster to which others, and how."""

    name: str
    source_cluster: str
    target_clusters: tuple[str, ...] = ()
    target_selector: Selector | None = None
    """A label selector over ``MemberCluster`` objects; targets are its matches plus the names."""
    resources: tuple[ResourceSelector, ...] = ()
    overrides: tuple[Override, ...] = ()
    conflict: Conflict = Conflict.ABORT
    deletion: Deletion = Deletion.PRUNE
    drift: Drift = Drift.CORRECT
    paused: bool = False
    generation: int = 0
    uid: str = ""

    def selects(self, obj: Mapping[str, Any], group: str, kind: str) -> bool:
        """Whether some resource entry selects ``obj`` (of ``group``/``kind``)."""
        return any(r.group == group and r.kind == kind and r.matches(obj) for r in self.resources)

    def targets(self, members: Mapping[str, Mapping[str, str]]) -> tuple[str, ...]:
        """The target names among ``members`` (name -> labels), the source excluded, sorted."""
        chosen = set(self.target_clusters)
        if self.target_selector is not None:
            chosen.update(
                n for n, labels in members.items() if self.target_selector.matches(labels)
            )
        chosen.discard(self.source_cluster)
        return tuple(sorted(chosen))


@dataclass(frozen=True)
class KubeconfigRef:
    """Where a member's kubeconfig is kept on the hub."""

    namespace: str
    name: str
    key: str = "kubeconfig"


@dataclass(frozen=True)
class Member:
    """A ``MemberCluster``: how to reach one cluster, and its labels."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    mode: SyncMode = SyncMode.PUSH
    kubeconfig: KubeconfigRef | None = None
    """Required in Push mode; the agent of a Pull member brings its own credentials."""
    qps: float = 200.0
    burst: int = 400

    @property
    def work_namespace(self) -> str:
        """The hub namespace holding this member's ``SyncWork`` (Pull mode)."""
        return work_namespace(self.name)


def work_namespace(member: str) -> str:
    """The hub namespace of a Pull member's work: ``kubeops-member-<name>``."""
    return f"kubeops-member-{member}"


# -- parsing -----------------------------------------------------------------------------


def policy_from_object(obj: Mapping[str, Any]) -> SyncPolicy:
    """The policy ``obj`` (a ``ClusterSyncPolicy`` dict) describes, or one :class:`PolicyError`."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    where = f"ClusterSyncPolicy {name!r}" if name else "ClusterSyncPolicy"
    if obj.get("kind") not in (None, POLICY_KIND):
        raise PolicyError(f"{where}: kind is {obj.get('kind')!r}, expected {POLICY_KIND}")
    if not name:
        raise PolicyError(f"{where}: metadata.name is required")
    spec = _mapping(obj.get("spec"), where, "spec")
    source = spec.get("sourceCluster")
    if not isinstance(source, str) or not source:
        raise PolicyError(f"{where}: spec.sourceCluster is required (a MemberCluster's name)")
    targets = _strings(spec.get("targetClusters"), where, "spec.targetClusters")
    selector = _selector(spec.get("targetSelector"), where, "spec.targetSelector")
    if not targets and selector is None:
        raise PolicyError(f"{where}: name targetClusters or give a targetSelector")
    if source in targets:
        raise PolicyError(f"{where}: spec.targetClusters names the source {source!r}")
    raw_resources = _list(spec.get("resources"), where, "spec.resources")
    if not raw_resources:
        raise PolicyError(f"{where}: spec.resources must select at least one kind")
    resources = tuple(
        _resource(r, where, f"spec.resources[{i}]") for i, r in enumerate(raw_resources)
    )
    overrides = tuple(
        _override(o, where, f"spec.overrides[{i}]")
        for i, o in enumerate(_list(spec.get("overrides"), where, "spec.overrides"))
    )
    return SyncPolicy(
        name=name,
        source_cluster=source,
        target_clusters=targets,
        target_selector=selector,
        resources=resources,
        overrides=overrides,
        conflict=_enum(
            Conflict, spec.get("conflictResolution"), Conflict.ABORT, where, "conflictResolution"
        ),
        deletion=_enum(Deletion, spec.get("deletion"), Deletion.PRUNE, where, "deletion"),
        drift=_enum(Drift, spec.get("drift"), Drift.CORRECT, where, "drift"),
        paused=bool(spec.get("paused", False)),
        generation=int(meta.get("generation") or 0),
        uid=str(meta.get("uid") or ""),
    )


def member_from_object(obj: Mapping[str, Any]) -> Member:
    """The member ``obj`` (a ``MemberCluster`` dict) describes, or one :class:`PolicyError`."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    where = f"MemberCluster {name!r}" if name else "MemberCluster"
    if not name:
        raise PolicyError(f"{where}: metadata.name is required")
    spec = _mapping(obj.get("spec"), where, "spec")
    mode = _enum(SyncMode, spec.get("syncMode"), SyncMode.PUSH, where, "syncMode")
    ref = spec.get("kubeconfigSecretRef")
    kubeconfig: KubeconfigRef | None = None
    if ref is not None:
        ref = _mapping(ref, where, "spec.kubeconfigSecretRef")
        secret = ref.get("name")
        if not isinstance(secret, str) or not secret:
            raise PolicyError(f"{where}: spec.kubeconfigSecretRef.name is required")
        kubeconfig = KubeconfigRef(
            namespace=str(ref.get("namespace") or SYSTEM_NAMESPACE),
            name=secret,
            key=str(ref.get("key") or "kubeconfig"),
        )
    if mode is SyncMode.PUSH and kubeconfig is None:
        raise PolicyError(f"{where}: a Push member needs spec.kubeconfigSecretRef")
    limits = _mapping(spec.get("rateLimit") or {}, where, "spec.rateLimit")
    return Member(
        name=name,
        labels=dict(meta.get("labels") or {}),
        mode=mode,
        kubeconfig=kubeconfig,
        qps=float(limits.get("qps", 200.0)),
        burst=int(limits.get("burst", 400)),
    )


def _resource(raw: Any, where: str, path: str) -> ResourceSelector:
    entry = _mapping(raw, where, path)
    kind = entry.get("kind")
    if not isinstance(kind, str) or not kind:
        raise PolicyError(f"{where}: {path}.kind is required")
    group = entry.get("apiGroup", "")
    if not isinstance(group, str):
        raise PolicyError(f"{where}: {path}.apiGroup must be a string")
    if entry.get("matchLabels") is not None and entry.get("labelSelector") is not None:
        raise PolicyError(f"{where}: {path}: give matchLabels or labelSelector, not both")
    selector: Selector | None = None
    if entry.get("matchLabels") is not None:
        selector = _selector({"matchLabels": entry["matchLabels"]}, where, f"{path}.matchLabels")
    elif entry.get("labelSelector") is not None:
        selector = _selector(entry["labelSelector"], where, f"{path}.labelSelector")
    return ResourceSelector(
        group=group,
        kind=kind,
        namespaces=_strings(entry.get("namespaces"), where, f"{path}.namespaces"),
        names=_strings(entry.get("names"), where, f"{path}.names"),
        selector=selector or Selector.everything(),
    )


def _override(raw: Any, where: str, path: str) -> Override:
    entry = _mapping(raw, where, path)
    replicas = entry.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        raise PolicyError(f"{where}: {path}.replicas must be a whole number >= 0")
    images: list[ContainerImage] = []
    if entry.get("image") is not None:
        if not isinstance(entry["image"], str) or not entry["image"]:
            raise PolicyError(f"{where}: {path}.image must be an image reference")
        images.append(ContainerImage(entry["image"]))
    for container, image in _mapping(entry.get("containerImages") or {}, where, path).items():
        if not isinstance(image, str) or not image:
            raise PolicyError(f"{where}: {path}.containerImages[{container!r}] must be an image")
        images.append(ContainerImage(image, str(container)))
    patch = _list(entry.get("jsonPatch"), where, f"{path}.jsonPatch")
    for i, raw_op in enumerate(patch):
        op = _mapping(raw_op, where, f"{path}.jsonPatch[{i}]")
        if op.get("op") not in ("add", "remove", "replace", "move", "copy", "test"):
            raise PolicyError(f"{where}: {path}.jsonPatch[{i}].op {op.get('op')!r} is not RFC 6902")
        if not isinstance(op.get("path"), str) or not str(op["path"]).startswith("/"):
            raise PolicyError(f"{where}: {path}.jsonPatch[{i}].path must start with '/'")
    return Override(
        target_clusters=_strings(entry.get("targetClusters"), where, f"{path}.targetClusters"),
        target_selector=_selector(entry.get("targetSelector"), where, f"{path}.targetSelector"),
        resources=tuple(
            _resource(r, where, f"{path}.resources[{i}]")
            for i, r in enumerate(_list(entry.get("resources"), where, f"{path}.resources"))
        ),
        replicas=replicas,
        images=tuple(images),
        labels=_string_map(entry.get("labels"), where, f"{path}.labels"),
        annotations=_string_map(entry.get("annotations"), where, f"{path}.annotations"),
        json_patch=tuple(patch),
    )


def _mapping(value: Any, where: str, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: {path} must be a mapping, not {type(value).__name__}")
    return value


def _list(value: Any, where: str, path: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise PolicyError(f"{where}: {path} must be a list, not {type(value).__name__}")
    return list(value)


def _strings(value: Any, where: str, path: str) -> tuple[str, ...]:
    items = _list(value, where, path)
    if not all(isinstance(item, str) and item for item in items):
        raise PolicyError(f"{where}: {path} must be a list of names")
    return tuple(items)


def _string_map(value: Any, where: str, path: str) -> dict[str, str]:
    items = _mapping(value, where, path)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in items.items()):
        raise PolicyError(f"{where}: {path} must map strings to strings")
    return dict(items)


def _selector(value: Any, where: str, path: str) -> Selector | None:
    if value is None:
        return None
    try:
        return Selector.from_label_selector(value)
    except SelectorError as err:
        raise PolicyError(f"{where}: {path}: {err}") from None


def _enum(kind: type[E], value: Any, default: E, where: str, name: str) -> E:
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        allowed = " | ".join(member.value for member in kind)
        raise PolicyError(f"{where}: spec.{name} is {value!r}; use {allowed}") from None
