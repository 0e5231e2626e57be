"""What an inspection produces: findings on objects, checks that could not run, and
the per-cluster results the scores and reports are made from.

These types are the JSON schema's source (see ``docs/inspect.md``): a field added
here is a field added to every report, so keep them plain and stable.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; the order matters for ``--fail-on`` and for scoring."""

    INFO = 0
    WARNING = 1
    ERROR = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        """The severity named by ``text`` (any case); ValueError lists the names."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (one of: {names})") from None

    def __str__(self) -> str:
        return self.name.lower()


CATEGORIES = (
    "nodes",
    "pods",
    "security",
    "workloads",
    "networking",
    "storage",
    "configuration",
    "rbac",
    "quotas",
    "events",
    "deprecations",
    "usage",
)


@dataclass(frozen=True)
class ObjectRef:
    """The object a finding is about, as kubectl would name it."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectRef:
        """The reference to an object (a dict as the API server sends it)."""
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("apiVersion", "")),
            str(obj.get("kind", "")),
            meta.get("namespace") or None,
            str(meta.get("name", "")),
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"

    def to_json(self) -> dict[str, Any]:
        """The reference as the report document carries it."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }


@dataclass(frozen=True)
class Finding:
    """One check failing on one object."""

    check: str
    severity: Severity
    category: str
    cluster: str
    object: ObjectRef
    message: str
    title: str = ""
    remediation: str = ""
    # Static mode: the manifest file and line the object came from.
    location: tuple[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding as the report document carries it."""
        found: dict[str, Any] = {
            "check": self.check,
            "severity": str(self.severity),
            "category": self.category,
            "cluster": self.cluster,
            "object": self.object.to_json(),
            "message": self.message,
            "title": self.title,
            "remediation": self.remediation,
        }
        if self.location is not None:
            found["location"] = {"file": self.location[0], "line": self.location[1]}
        return found


@dataclass(frozen=True)
class NotRun:
    """A check that could not be judged, and why (forbidden, API absent, cluster down)."""

    check: str
    cluster: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The entry as the report document carries it."""
        return asdict(self)


@dataclass(frozen=True)
class Score:
    """0 to 100 with its letter grade."""

    value: int
    grade: str

    def to_json(self) -> dict[str, Any]:
        """The score and grade as the report document carries them."""
        return {"score": self.value, "grade": self.grade}


@dataclass
class ClusterResult:
    """Everything one cluster's inspection produced."""

    name: str
    server: str = ""
    version: str = ""
    reachable: bool = True
    error: str = ""
    findings: list[Finding] = field(default_factory=list)
    not_run: list[NotRun] = field(default_factory=list)
    checks_run: list[str] = field(default_factory=list)
    # How many objects each check looked at, by namespace ("" for cluster-scoped
    # objects): the denominator of the scores.
    examined: dict[str, dict[str, int]] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Report:
    """One inspection run over one or more clusters (or a set of manifests)."""

    clusters: list[ClusterResult]
    generated: str
    mode: str = "live"
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Severity and category of every check that ran, for scoring.
    check_info: dict[str, tuple[str, Severity]] = field(default_factory=dict)
