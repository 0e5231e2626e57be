"""The check catalogue: every check declares what it is (ID, title, category,
severity, rationale, remediation, thresholds) next to the function that judges it.

A check is a generator over a :class:`CheckContext` that yields a :class:`Hit` per
failing object.  It never fetches anything: the runner lists what the checks
``need`` once per cluster, so fifty checks cost one LIST per resource, and a
check whose resources could not be listed is reported as not run instead.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubeops.inspect.model import CATEGORIES, Severity
from kubeops.inspect.snapshot import Snapshot

if TYPE_CHECKING:
    from kubeops.api import Object

# The resources behind the virtual subject "podspecs": the objects that carry a
# Pod template (or are Pods), so container checks judge a Deployment once rather
# than each of its Pods, and work the same on manifests.
POD_SPEC_KINDS = (
    "pods",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "jobs",
    "cronjobs",
)


@dataclass(frozen=True)
class Hit:
    """One failing object; ``severity`` overrides the check's own for this object."""

    obj: Object
    message: str
    severity: Severity | None = None


@dataclass(frozen=True)
class PodSpecOwner:
    """An object with a Pod spec: a Pod, or a workload whose template it is."""

    obj: Object
    spec: Object
    template_meta: Object

    def containers(self, *, init: bool = True) -> Iterator[tuple[str, Object]]:
        """(kind of container, container) for containers, init and ephemeral containers."""
        for c in self.spec.get("containers") or []:
            yield "container", c
        if init:
            for c in self.spec.get("initContainers") or []:
                yield "init container", c

    @property
    def service_account(self) -> str:
        """The ServiceAccount the Pods run as: ``default`` when the spec names none
        (``serviceAccount`` is the deprecated alias still found in old manifests)."""
        return str(
            self.spec.get("serviceAccountName") or self.spec.get("serviceAccount") or "default"
        )


CheckFunc = Callable[["CheckContext"], Iterable[Hit]]


@dataclass(frozen=True)
class Check:
    """A registered check: what it judges and says (ID, title, category, severity,
    rationale, remediation, thresholds), what it reads, and the function that judges."""

    id: str
    title: str
    category: str
    severity: Severity
    rationale: str
    remediation: str
    subject: str
    needs: tuple[str, ...]
    thresholds: Mapping[str, Any]
    static: bool
    func: CheckFunc = field(compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The check's catalogue entry as the report document carries it."""
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "severity": str(self.severity),
            "rationale": self.rationale,
            "remediation": self.remediation,
            "thresholds": dict(self.thresholds),
            "static": self.static,
        }


CATALOG: dict[str, Check] = {}


def register_check(
    id: str,
    *,
    title: str,
    category: str,
    severity: Severity,
    rationale: str,
    remediation: str,
    subject: str,
    needs: Iterable[str] = (),
    thresholds: Mapping[str, Any] | None = None,
    static: bool = False,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check.  ``subject`` is the resource whose objects it judges (the
    denominator of the score); ``needs`` lists every other resource it reads;
    ``static`` says the check works on manifests alone."""
    if category not in CATEGORIES:
        raise ValueError(f"check {id}: unknown category {category!r}")

    def register(func: CheckFunc) -> CheckFunc:
        if id in CATALOG:
            raise ValueError(f"check {id} is registered twice")
        # The declaration is the check's documentation: help() shows it.
        func.__doc__ = func.__doc__ or f"{id}: {title}.\n\n{rationale}"
        subject_needs = POD_SPEC_KINDS if subject == "podspecs" else (subject,)
        CATALOG[id] = Check(
            id=id,
            title=title,
            category=category,
            severity=severity,
            rationale=rationale,
            remediation=remediation,
            subject=subject,
            needs=tuple(dict.fromkeys([*subject_needs, *needs])),
            thresholds=dict(thresholds or {}),
            static=static,
            func=func,
        )
        return func

    return register


def catalog() -> dict[str, Check]:
    """Every check, loaded on first use."""
    import kubeops.inspect.checks  # noqa: F401  (registers the checks)

    return CATALOG


@dataclass
class CheckContext:
    """What a check sees: the cluster's objects in scope, its thresholds, the clock."""

    cluster: str
    snapshot: Snapshot
    check: Check
    thresholds: Mapping[str, Any]
    settings: Mapping[str, Any]
    now: datetime.datetime

    def threshold(self, name: str) -> Any:
        """The threshold ``name`` of this check, after the configuration's overrides."""
        return self.thresholds[name]

    def objects(self, resource: str) -> list[Object]:
        """Every object of a resource (a snapshot key such as ``pods``)."""
        return self.snapshot.objects(resource)

    def by_name(self, resource: str) -> dict[tuple[str | None, str], Object]:
        """Objects of a resource by (namespace, name)."""
        return self.snapshot.index(resource)

    def pod_specs(self) -> list[PodSpecOwner]:
        """Every Pod spec once: workload templates, and Pods no listed workload owns."""
        return self.snapshot.pod_specs()

    def age(self, timestamp: str | None) -> datetime.timedelta | None:
        """How long ago an RFC 3339 timestamp was (None when absent or unparsable)."""
        when = parse_time(timestamp)
        return None if when is None else self.now - when


def parse_time(timestamp: str | None) -> datetime.datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when absent or unparsable."""
    if not timestamp:
        return None
    try:
        return datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
