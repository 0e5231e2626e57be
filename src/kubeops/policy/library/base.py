"""What every built-in shares: the :class:`BuiltinPolicy` that runs one built-in's
check under its PolicyLibrary entry (name, action, match), and how a check finds
the Pod spec inside a Pod or a workload.

A check is a plain function ``(review, context) -> [Finding]``; the policy turns
findings into :class:`~kubeops.policy.model.Violation` values carrying the
entry's actions, so no built-in knows how it is enforced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeops.api.resource import BUILTIN
from kubeops.policy.model import (
    Action,
    Context,
    FailurePolicy,
    GroupVersionKind,
    Object,
    Operation,
    Review,
    Source,
    Violation,
    resource_of,
)

# Where each kind keeps its Pod template's spec (a Pod is its own).
TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
POD_KINDS = frozenset(TEMPLATE_PATHS)

CONTAINER_FIELDS = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)


@dataclass(frozen=True)
class PodSpec:
    """The Pod spec of a Pod or workload: the spec, its metadata (the template's for a
    workload) and the spec's field path in the object (``spec.template.spec``)."""

    spec: Object
    meta: Object
    path: str

    def containers(self) -> Iterator[tuple[str, str, Object]]:
        """(label, field path, container) of every container: init, regular, ephemeral
        (the order the Pod Security admission visits them in)."""
        for field_name, kind in CONTAINER_FIELDS:
            for index, container in enumerate(self.spec.get(field_name) or []):
                if isinstance(container, dict):
                    label = f'{kind} "{container.get("name", "")}"'
                    yield label, f"{self.path}.{field_name}[{index}]", container


def pod_spec(obj: Object) -> PodSpec | None:
    """The Pod spec ``obj`` carries, or None for a kind that has none (or a malformed one)."""
    path = TEMPLATE_PATHS.get(str(obj.get("kind") or ""))
    if path is None:
        return None
    template: Any = obj
    for step in path:
        template = template.get(step) if isinstance(template, dict) else None
    if not isinstance(template, dict):
        return None
    spec = template.get("spec")
    meta = template.get("metadata")
    if not isinstance(spec, dict):
        return None
    prefix = ".".join([*path, "spec"])
    return PodSpec(spec, meta if isinstance(meta, dict) else {}, prefix)


ANY_OBJECT: Mapping[str, Any] = {
    "apiGroups": ["*"],
    "apiVersions": ["*"],
    "resources": ["*"],
    "operations": ["CREATE", "UPDATE"],
    "scope": "*",
}


def _resource(kind: str) -> tuple[str, str]:
    """(API group, plural) a kind is served as: the built-in table, else the API
    server's guess (any group, lower-case plural)."""
    for known in BUILTIN:
        if known.kind == kind:
            return known.group, known.plural
    guessed, _ = resource_of(GroupVersionKind("", "v1", kind))
    return "*", guessed.resource


@dataclass(frozen=True)
class Finding:
    """What a check found: the message and the field it is about."""

    message: str
    field_path: str = ""


Check = Callable[[Review, Context], list[Finding]]


@dataclass(frozen=True)
class Match:
    """Which reviews a built-in judges: namespaces (all when empty), namespaces left
    out, and kinds (the built-in's own when empty)."""

    namespaces: frozenset[str] = frozenset()
    exclude_namespaces: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()

    def covers(self, review: Review, default_kinds: frozenset[str] | None) -> bool:
        """Whether ``review`` is one this match selects."""
        kinds = self.kinds or default_kinds
        if kinds is not None and review.kind.kind not in kinds:
            return False
        if self.namespaces and review.namespace not in self.namespaces:
            return False
        return review.namespace not in self.exclude_namespaces


@dataclass(eq=False)
class BuiltinPolicy:
    """One built-in as a PolicyLibrary entry configured it (a :class:`Policy`)."""

    name: str
    builtin: str
    source: Source
    check: Check = field(compare=False, repr=False)
    actions: frozenset[Action] = frozenset({Action.DENY})
    match: Match = Match()
    kinds: frozenset[str] | None = POD_KINDS  # None: every kind
    admission_kinds: frozenset[str] | None = None  # what the webhook is sent when kinds is None
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False)
    engine: str = "builtin"
    failure_policy: FailurePolicy = FailurePolicy.FAIL

    def admission_rules(self) -> list[dict[str, Any]]:
        """What the webhook must send this entry (admissionregistration's
        RuleWithOperations): the kinds it judges (its match's, else the built-in's,
        else those the built-in names for admission); every object otherwise."""
        kinds = self.match.kinds or self.kinds or self.admission_kinds
        if kinds is None:
            return [dict(ANY_OBJECT)]
        by_group: dict[str, set[str]] = {}
        for kind in sorted(kinds):
            group, plural = _resource(kind)
            by_group.setdefault(group, set()).add(plural)
        return [
            {
                "apiGroups": [group],
                "apiVersions": ["*"],
                "resources": sorted(plurals),
                "operations": ["CREATE", "UPDATE"],
                "scope": "*",
            }
            for group, plurals in sorted(by_group.items())
        ]

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        """The entry's violations on ``review``: none for deletions or reviews its
        match leaves out."""
        if review.operation == Operation.DELETE or not isinstance(review.object, dict):
            return []
        if not self.match.covers(review, self.kinds):
            return []
        return [
            Violation(
                policy=self.name,
                message=finding.message,
                actions=self.actions,
                reason="Forbidden",
                severity="error" if Action.DENY in self.actions else "warning",
                field_path=finding.field_path,
            )
            for finding in self.check(review, context)
        ]
