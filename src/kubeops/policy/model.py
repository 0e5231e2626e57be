"""The values every policy engine shares: what is reviewed, what a policy finds,
and how a policy that cannot be loaded or evaluated is reported.

kubeops runs one policy the same way at every stage -- ``policy test`` on files in
CI, ``apply --policies`` before anything is sent, the admission webhook, and the
audit of what already runs.  Each stage turns what it has into a :class:`Review`
(an admission request, whether or not an API server sent it), hands it to every
:class:`Policy` with a :class:`Context` that answers the policy's lookups
(namespaces, params, quotas, the authorizer), and gets :class:`Violation` values
back.  CEL (ValidatingAdmissionPolicy), Rego (conftest, Gatekeeper) and the
built-in library are engines behind the one :class:`Policy` protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol, runtime_checkable

from kubeops.api.resource import BUILTIN
from kubeops.errors import KubeopsError

Object = dict[str, Any]

API_VERSION: Final = "policy.kubeops.io/v1alpha1"
"""The apiVersion of kubeops' own policy documents (the built-in library's settings)."""


class PolicyLoadError(KubeopsError, ValueError):
    """Policies that cannot be loaded: one line per problem, ``FILE:LINE: policy NAME: cause``.

    Loading refuses the whole set when any policy has a problem, so nothing runs
    half-loaded.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PolicyEvaluationError(KubeopsError, RuntimeError):
    """A policy that failed on one object (an expression error, a missing param, a
    timeout); its failure policy decides whether that denies or is ignored."""

    def __init__(self, policy: str, cause: str) -> None:
        self.policy = policy
        self.cause = cause
        super().__init__(f"policy {policy}: {cause}")


@dataclass(frozen=True)
class Source:
    """Where a policy or a manifest came from: a file and a line (1-based), for messages."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Problem:
    """One reason a policy cannot be loaded."""

    source: Source
    policy: str
    cause: str

    def __str__(self) -> str:
        who = f"policy {self.policy}: " if self.policy else ""
        return f"{self.source}: {who}{self.cause}"


@dataclass(frozen=True)
class Document:
    """One YAML document (or a whole ``.rego`` file's text) and where it came from."""

    value: Any
    source: Source


class Action(StrEnum):
    """What a violation does at admission (ValidatingAdmissionPolicyBinding's
    ``validationActions``; Gatekeeper's deny/warn/dryrun; conftest's deny/warn)."""

    DENY = "Deny"
    WARN = "Warn"
    AUDIT = "Audit"


class Operation(StrEnum):
    """An admission request's operation."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


class FailurePolicy(StrEnum):
    """What a policy that fails to evaluate does: deny the request, or be skipped."""

    FAIL = "Fail"
    IGNORE = "Ignore"


@dataclass(frozen=True)
class GroupVersionKind:
    """A kind with its group and version, as an admission request names it."""

    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        """``group/version``, or the version alone for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> GroupVersionKind:
        """The kind an object says it is."""
        group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
        return cls(group, version, str(obj.get("kind") or ""))


@dataclass(frozen=True)
class GroupVersionResource:
    """A resource (plural) with its group and version."""

    group: str
    version: str
    resource: str


def resource_of(gvk: GroupVersionKind) -> tuple[GroupVersionResource, bool]:
    """The resource a kind is served as, and whether it is namespaced, without a cluster:
    the built-in table, else the API server's rule (lower-case kind, pluralised)."""
    for known in BUILTIN:
        if known.group == gvk.group and known.kind == gvk.kind:
            return GroupVersionResource(gvk.group, gvk.version, known.plural), known.namespaced
    return GroupVersionResource(gvk.group, gvk.version, _plural(gvk.kind.lower())), True


def _plural(singular: str) -> str:
    """Kubernetes' default plural (k8s.io/apimachinery's UnsafeGuessKindToResource)."""
    if not singular:
        return singular
    if singular.endswith(("s", "x", "z", "ch", "sh")):
        return singular + "es"
    if singular.endswith("y") and singular[-2:-1] not in ("a", "e", "i", "o", "u"):
        return singular[:-1] + "ies"
    return singular + "s"


@dataclass(frozen=True)
class Review:
    """One admission request: what every policy engine evaluates.

    In CI it is made from a manifest (``CREATE`` by an unnamed user, with the
    file and line in ``location``); at admission from the API server's
    AdmissionReview; in an audit from a live object (``UPDATE`` of itself, as
    Gatekeeper's audit reviews it).
    """

    operation: Operation
    object: Object | None
    old_object: Object | None
    kind: GroupVersionKind
    resource: GroupVersionResource
    name: str
    namespace: str
    namespaced: bool = True
    sub_resource: str = ""
    user_info: Mapping[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    options: Object | None = None
    uid: str = ""
    location: Source | None = None

    @classmethod
    def of_object(
        cls,
        obj: Object,
        *,
        operation: Operation = Operation.CREATE,
        old_object: Object | None = None,
        location: Source | None = None,
        resource: GroupVersionResource | None = None,
        namespaced: bool | None = None,
        user_info: Mapping[str, Any] | None = None,
    ) -> Review:
        """The review of ``obj`` (a manifest or a live object) as if it were being sent."""
        gvk = GroupVersionKind.of(obj)
        guessed, guessed_namespaced = resource_of(gvk)
        meta = obj.get("metadata") or {}
        scoped = guessed_namespaced if namespaced is None else namespaced
        return cls(
            operation=operation,
            object=obj if operation != Operation.DELETE else None,
            old_object=old_object if operation != Operation.DELETE else obj,
            kind=gvk,
            resource=resource or guessed,
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or "") if scoped else "",
            namespaced=scoped,
            user_info=dict(user_info or {}),
            location=location,
        )

    @classmethod
    def of_admission(cls, request: Mapping[str, Any]) -> Review:
        """The review of an AdmissionReview's ``request`` (admission.k8s.io/v1)."""
        kind = request.get("kind") or {}
        res = request.get("resource") or {}
        return cls(
            operation=Operation(str(request.get("operation") or "CREATE")),
            object=request.get("object"),
            old_object=request.get("oldObject"),
            kind=GroupVersionKind(
                str(kind.get("group", "")), str(kind.get("version", "")), str(kind.get("kind", ""))
            ),
            resource=GroupVersionResource(
                str(res.get("group", "")),
                str(res.get("version", "")),
                str(res.get("resource", "")),
            ),
            name=str(request.get("name") or ""),
            namespace=str(request.get("namespace") or ""),
            namespaced=bool(request.get("namespace")),
            sub_resource=str(request.get("subResource") or ""),
            user_info=dict(request.get("userInfo") or {}),
            dry_run=bool(request.get("dryRun")),
            options=request.get("options"),
            uid=str(request.get("uid") or ""),
        )

    @property
    def subject(self) -> Object:
        """The object the request is about: the new one, or the old one on DELETE."""
        return self.object if self.object is not None else (self.old_object or {})

    def request(self) -> Object:
        """The admission request as JSON (admission.k8s.io/v1 ``AdmissionRequest``):
        CEL's ``request`` variable and Gatekeeper's ``input.review``.

        Built once per review and shared by every policy that asks: copy it before
        changing it.
        """
        cached: Object | None = self.__dict__.get("_request")
        if cached is None:
            cached = self._build_request()
            object.__setattr__(self, "_request", cached)  # a memo, not a field
        return cached

    def _build_request(self) -> Object:
        kind = {"group": self.kind.group, "version": self.kind.version, "kind": self.kind.kind}
        resource = {
            "group": self.resource.group,
            "version": self.resource.version,
            "resource": self.resource.resource,
        }
        return {
            "uid": self.uid,
            "kind": kind,
            "resource": resource,
            "subResource": self.sub_resource,
            "requestKind": kind,
            "requestResource": resource,
            "requestSubResource": self.sub_resource,
            "name": self.name,
            "namespace": self.namespace,
            "operation": str(self.operation),
            "userInfo": dict(self.user_info),
            "object": self.object,
            "oldObject": self.old_object,
            "dryRun": self.dry_run,
            "options": self.options,
        }

    @property
    def label(self) -> str:
        """``Kind ns/name``: the subject a violation names."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.kind} {where}{self.name or '(no name)'}"

    def describe(self) -> str:
        """``Kind ns/name`` (and ``at FILE:LINE``) for messages."""
        return f"{self.label} at {self.location}" if self.location else self.label


@dataclass(frozen=True)
class Violation:
    """One policy failing on one review.

    ``policy`` is the policy's name as its user wrote it (the
    ValidatingAdmissionPolicy's, the constraint's, the Rego package's, the
    built-in's); ``binding`` names what bound it where that exists.  ``message``
    never holds a secret's value (the secret detector reports where, not what).
    """

    policy: str
    message: str
    actions: frozenset[Action] = frozenset({Action.DENY})
    binding: str = ""
    reason: str = "Invalid"
    severity: str = "error"
    field_path: str = ""
    audit_annotations: Mapping[str, str] = field(default_factory=dict)
    # Set by the policy set, not by engines: the review's object and place.
    subject: str = ""
    location: Source | None = None

    @property
    def denies(self) -> bool:
        """Whether this violation refuses the request."""
        return Action.DENY in self.actions


class Context(Protocol):
    """What a policy may ask of the world while it evaluates one review.

    In CI the answers come from the manifests and the policy directory
    (:class:`~kubeops.policy.context.StaticContext`); at admission and in an audit,
    from the cluster's caches.  Every method is synchronous and cheap: policies
    run on the admission path.
    """

    def namespace(self, name: str) -> Object | None:
        """The Namespace object ``name``, or None if unknown."""

    def objects(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> Sequence[Object]:
        """Objects of a kind (in one namespace, or all): params, quotas, limit ranges,
        Gatekeeper's ``data.inventory``."""

    def authorize(self, attributes: Mapping[str, Any]) -> tuple[str, str] | None:
        """A SubjectAccessReview's answer for ``attributes`` (its ``spec``):
        ``(decision, reason)`` with decision ``allowed``/``denied``/``noOpinion``,
        or None when no authorizer can be asked (CI)."""


@runtime_checkable
class Policy(Protocol):
    """One loaded policy of any engine.

    Engines may also give a policy ``admission_rules() -> list[dict]`` (the
    admissionregistration.k8s.io/v1 RuleWithOperations it can match): the webhook
    registers their union and the audit lists only those kinds.  A policy without it
    may match anything.  A CEL policy also has ``binding`` (its binding's name).  A
    policy whose ``inline`` is true reads only the review and its Namespace, at a
    cost bounded by the object's size: the webhook evaluates it on its event loop.
    """

    name: str
    engine: str  # "cel", "rego", "gatekeeper" or "builtin"
    source: Source
    failure_policy: FailurePolicy

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        """The violations ``review`` causes; [] if the policy does not match it.

        Raises :class:`PolicyEvaluationError` when the policy cannot reach a
        decision (its failure policy then applies).
        """
