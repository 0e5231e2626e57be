"""Who asks and what about: the :class:`Subject` and the :class:`Target` an authorizer
decides on, the verbs Kubernetes authorizers know, and :class:`RbacError`.

A subject is described as the API server would see it when authenticated or
impersonated (a ServiceAccount carries its ``system:serviceaccounts`` groups,
everyone but ``system:anonymous`` carries ``system:authenticated``), so answers
match ``kubectl auth can-i --as``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kubeops.errors import KubeopsError

__all__ = [
    "KNOWN_VERBS",
    "NON_RESOURCE_VERBS",
    "SPECIAL_VERBS",
    "STANDARD_VERBS",
    "RbacError",
    "Subject",
    "Target",
    "check_verbs",
    "verb_warnings",
]

# The verbs of the standard REST operations, in the order kubectl's help lists them.
STANDARD_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
# Verbs particular resources authorize beyond the standard ones.
SPECIAL_VERBS = ("use", "bind", "escalate", "impersonate", "approve", "sign", "attest", "proxy")
KNOWN_VERBS = frozenset((*STANDARD_VERBS, *SPECIAL_VERBS, "*"))
NON_RESOURCE_VERBS = frozenset(("get", "post", "put", "delete", "patch", "head", "options", "*"))

_SA_PREFIX = "system:serviceaccount:"
_ANONYMOUS = "system:anonymous"
_AUTHENTICATED = "system:authenticated"
_UNAUTHENTICATED = "system:unauthenticated"


class RbacError(KubeopsError):
    """An RBAC question or request that cannot be asked as given; the message says why."""


@dataclass(frozen=True, order=True)
class Subject:
    """Who is asked about: a ``User``, a ``Group`` or a ``ServiceAccount`` (with its namespace)."""

    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def user_named(cls, username: str) -> Subject:
        """The subject behind a user name; ``system:serviceaccount:NS:NAME`` is a ServiceAccount."""
        if username.startswith(_SA_PREFIX):
            namespace, sep, name = username.removeprefix(_SA_PREFIX).partition(":")
            if sep and namespace and name and ":" not in name:
                return cls("ServiceAccount", name, namespace)
        return cls("User", username)

    @classmethod
    def parse(cls, text: str) -> Subject:
        """``alice`` or ``user:alice``; ``group:devs``; ``serviceaccount:NS/NAME`` (``sa:`` too)
        or ``system:serviceaccount:NS:NAME``."""
        kind, sep, rest = text.partition(":")
        lowered = kind.lower()
        if sep and lowered in ("user", "group", "serviceaccount", "sa") and rest:
            if lowered == "user":
                return cls.user_named(rest)
            if lowered == "group":
                return cls("Group", rest)
            namespace, slash, name = rest.partition("/")
            if not slash or not namespace or not name:
                raise RbacError(
                    f"subject {text!r}: a ServiceAccount is written serviceaccount:NAMESPACE/NAME"
                )
            return cls("ServiceAccount", name, namespace)
        if not text:
            raise RbacError("the subject must not be empty")
        return cls.user_named(text)

    @property
    def user(self) -> str:
        """The user name requests of this subject carry (empty for a Group)."""
        if self.kind == "ServiceAccount":
            return f"{_SA_PREFIX}{self.namespace}:{self.name}"
        return "" if self.kind == "Group" else self.name

    def groups(self, extra: Sequence[str] = ()) -> tuple[str, ...]:
        """The groups an impersonated request of this subject carries.

        As the API server's impersonation: a ServiceAccount gets its fixed groups
        unless ``extra`` names groups, and every user except ``system:anonymous``
        gets ``system:authenticated``.  A Group is just itself (and ``extra``).
        """
        if self.kind == "Group":
            return tuple(dict.fromkeys((self.name, *extra)))
        groups = list(extra)
        if self.kind == "ServiceAccount" and not extra:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}"]
        if self.user == _ANONYMOUS:
            if _UNAUTHENTICATED not in groups:
                groups.append(_UNAUTHENTICATED)
        elif _AUTHENTICATED not in groups and _UNAUTHENTICATED not in groups:
            groups.append(_AUTHENTICATED)
        return tuple(groups)

    def to_dict(self) -> dict[str, str]:
        """The subject as an RBAC binding names it (``kind``, ``name``, ``namespace``)."""
        result = {"kind": self.kind, "name": self.name}
        if self.namespace:
            result["namespace"] = self.namespace
        return result

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Target:
    """What is asked about: a verb on a resource (or a non-resource URL ``path``).

    ``namespace`` is ``""`` for a cluster-scoped resource or a question about
    every namespace, as in an access review.
    """

    verb: str
    resource: str = ""
    group: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""

    @property
    def is_resource(self) -> bool:
        """True for a resource (or subresource), False for a non-resource URL."""
        return not self.path

    def _resource_attributes(self) -> dict[str, str]:
        """The fields of a review's ``resourceAttributes``, empty ones included."""
        return {
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "name": self.name,
            "namespace": self.namespace,
        }

    def attributes(self) -> dict[str, Any]:
        """The ``spec`` fields of an access review for this target."""
        if not self.is_resource:
            return {"nonResourceAttributes": {"verb": self.verb, "path": self.path}}
        return {"resourceAttributes": {k: v for k, v in self._resource_attributes().items() if v}}

    def __str__(self) -> str:
        if not self.is_resource:
            return f"{self.verb} {self.path}"
        text = f"{self.verb} {self.resource}" + (f".{self.group}" if self.group else "")
        if self.subresource:
            text += f"/{self.subresource}"
        if self.name:
            text += f' "{self.name}"'
        return text + (f' in namespace "{self.namespace}"' if self.namespace else "")

    def to_dict(self) -> dict[str, str]:
        """The target for JSON output: the resource attributes, or the verb and path."""
        if self.is_resource:
            fields = self._resource_attributes()
            return {k: v for k, v in fields.items() if v or k in ("group", "namespace")}
        return {"verb": self.verb, "path": self.path}


def verb_warnings(verb: str, non_resource: bool = False) -> list[str]:
    """kubectl's warning for a verb no Kubernetes authorizer knows (not an error: webhooks may)."""
    known = NON_RESOURCE_VERBS if non_resource else KNOWN_VERBS
    if verb in known:
        return []
    return [f"verb {verb!r} is not a known verb"]


def check_verbs(verbs: Iterable[str], where: str) -> None:
    """Refuse verbs no Kubernetes authorizer knows (a typo would make a useless rule)."""
    unknown = [v for v in verbs if v not in KNOWN_VERBS]
    if unknown:
        known = ", ".join((*STANDARD_VERBS, *SPECIAL_VERBS, "*"))
        raise RbacError(
            f"{where}: unknown verb{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(v) for v in unknown)} (known verbs: {known})"
        )
