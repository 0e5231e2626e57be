"""The built-in policy library: resources (requests/limits, LimitRange, ResourceQuota),
pod-security (the Pod Security Standards), images (registries, pinning), secrets
(leaked credentials) and vulnerabilities (the scanner-report gate).

Which built-ins run, and how, is said by ``PolicyLibrary`` documents
(``policy.kubeops.io/v1alpha1``)::

    apiVersion: policy.kubeops.io/v1alpha1
    kind: PolicyLibrary
    metadata: {name: platform}
    spec:
      action: Deny                    # default for every entry: Deny, Warn, Audit or a list
      match: {excludeNamespaces: [kube-system]}   # default for every entry
      builtins:
      - builtin: pod-security
        name: pod-security-restricted # the policy's name; the built-in's by default
        action: [Warn, Audit]
        match: {namespaces: [prod], kinds: [Deployment]}
        settings: {level: restricted}
      - builtin: vulnerabilities
        settings:
          severity: HIGH
          cvssAbove: 7.0
          allow: [{id: CVE-2023-44487, expires: 2026-12-31, reason: not reachable}]

With documents, exactly the listed entries run (one built-in may be listed twice
under two names); with none, every built-in runs with its defaults and action
Deny.  Scanner reports given with no ``vulnerabilities`` entry get the default gate,
so a report passed on the command line is never ignored.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kubeops.policy.library import images, leaks, podsecurity, resources, vulnerabilities
from kubeops.policy.library.base import POD_KINDS, BuiltinPolicy, Check, Match
from kubeops.policy.library.settings import Environment, Reader
from kubeops.policy.model import (
    API_VERSION,
    Action,
    Document,
    Policy,
    PolicyLoadError,
    Problem,
    Source,
    Violation,
)
from kubeops.policy.scan import ScanReport

__all__ = ["BUILTINS", "BuiltinPolicy", "load", "unmatched_violations"]

KIND = "PolicyLibrary"
DEFAULTS_SOURCE = Source("(built-in library defaults)")


@dataclass(frozen=True)
class Builtin:
    """A built-in: how its settings make its check, the kinds it judges (None: all),
    and, for one that judges all, the kinds the webhook is sent by default."""

    configure: Callable[[Reader, Environment], Check]
    kinds: frozenset[str] | None = POD_KINDS
    admission_kinds: frozenset[str] | None = None


BUILTINS: Mapping[str, Builtin] = {
    "resources": Builtin(resources.configure),
    "pod-security": Builtin(podsecurity.configure),
    "images": Builtin(images.configure),
    "secrets": Builtin(leaks.configure, None, leaks.ADMISSION_KINDS),
    "vulnerabilities": Builtin(vulnerabilities.configure),
}
"""Every built-in by the name a PolicyLibrary entry gives as ``builtin``."""

_ACTIONS = tuple(a.value for a in Action)


def load(
    documents: Sequence[Document],
    scans: Sequence[ScanReport] = (),
    *,
    today: datetime.date | None = None,
) -> list[Policy]:
    """The built-ins ``documents`` configure (all of them, with their defaults, when
    there are none); ``scans`` feed the vulnerability gate; ``today`` fixes the day
    allow-list entries expire against (tests).  :class:`PolicyLoadError` lists every
    problem, each at its field's line."""
    environment = Environment(tuple(scans), today)
    problems: list[Problem] = []
    policies: list[BuiltinPolicy] = []
    if not documents:
        for name in BUILTINS:
            policies.append(_default(name, environment, problems))
    for document in documents:
        policies += _document(document, environment, problems)
    if scans and not any(p.builtin == "vulnerabilities" for p in policies):
        policies.append(_default("vulnerabilities", environment, problems))
    if problems:
        raise PolicyLoadError(problems)
    return list(policies)


def _default(name: str, environment: Environment, problems: list[Problem]) -> BuiltinPolicy:
    reader = Reader({}, DEFAULTS_SOURCE, name, "settings", problems)
    builtin = BUILTINS[name]
    return BuiltinPolicy(
        name,
        name,
        DEFAULTS_SOURCE,
        builtin.configure(reader, environment),
        kinds=builtin.kinds,
        admission_kinds=builtin.admission_kinds,
    )


def _document(
    document: Document, environment: Environment, problems: list[Problem]
) -> list[BuiltinPolicy]:
    value = document.value
    meta = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    top = Reader(value, document.source, str(meta.get("name") or ""), "", problems)
    if value.get("apiVersion") != API_VERSION or value.get("kind") != KIND:
        top.problem("kind", f"expected apiVersion {API_VERSION}, kind {KIND}")
        return []
    top.only(("apiVersion", "kind", "metadata", "spec"))
    spec = top.mapping("spec")
    if spec is None:
        top.problem("spec", "a PolicyLibrary needs a spec with builtins")
        return []
    spec.only(("action", "match", "builtins"))
    default_actions = _actions(spec, frozenset({Action.DENY}))
    default_match = _match(spec, Match())
    entries = spec.items("builtins")
    if not entries and "builtins" not in spec.value:
        spec.problem("builtins", "missing: list the built-ins to run")
    policies: list[BuiltinPolicy] = []
    for entry in entries:
        entry.only(("builtin", "name", "action", "match", "settings"))
        kind = entry.string("builtin")
        builtin = BUILTINS.get(kind)
        if builtin is None:
            what = f"unknown built-in {kind!r}" if kind else "missing"
            entry.problem("builtin", f"{what} (expected one of {', '.join(BUILTINS)})")
            continue
        name = entry.string("name", kind) or kind
        entry.policy = name
        settings = entry.mapping("settings") or Reader(
            {}, entry.where(), name, entry.field("settings"), problems
        )
        settings.policy = name
        actions = _actions(entry, default_actions)
        match = _match(entry, default_match)
        check = builtin.configure(settings, environment)
        policies.append(
            BuiltinPolicy(
                name,
                kind,
                entry.where(),
                check,
                actions=actions,
                match=match,
                kinds=builtin.kinds,
                admission_kinds=builtin.admission_kinds,
                settings=dict(settings.value),
            )
        )
    return policies


def _actions(reader: Reader, default: frozenset[Action]) -> frozenset[Action]:
    value = reader.value.get("action")
    if value is None:
        return default
    words = [value] if isinstance(value, str) else value
    if not isinstance(words, list) or not words or not all(w in _ACTIONS for w in words):
        reader.problem("action", f"expected {', '.join(_ACTIONS)} or a list of them, not {value!r}")
        return default
    actions = frozenset(Action(w) for w in words)
    if {Action.DENY, Action.WARN} <= actions:
        reader.problem("action", "Deny and Warn together (a denied request has no warnings)")
    return actions


def _match(reader: Reader, default: Match) -> Match:
    match = reader.mapping("match")
    if match is None:
        return default
    match.only(("namespaces", "excludeNamespaces", "kinds"))
    return Match(
        frozenset(match.strings("namespaces", sorted(default.namespaces))),
        frozenset(match.strings("excludeNamespaces", sorted(default.exclude_namespaces))),
        frozenset(match.strings("kinds", sorted(default.kinds))),
    )


def unmatched_violations(policies: Iterable[Policy], images: Iterable[str]) -> list[Violation]:
    """The vulnerability gates' verdicts on reports whose image no reviewed container
    uses (``images``: every container image of the reviewed manifests): one violation
    per failing report, with the report's file as its location and ``image NAME`` as
    its subject, so a scan of an image the manifests do not name still gates."""
    used = list(images)
    found: list[Violation] = []
    for policy in policies:
        if not isinstance(policy, BuiltinPolicy):
            continue
        for report, message in vulnerabilities.unmatched_findings(policy.check, used):
            found.append(
                Violation(
                    policy=policy.name,
                    message=message,
                    actions=policy.actions,
                    reason="Forbidden",
                    severity="error" if Action.DENY in policy.actions else "warning",
                    subject=f"image {report.artifact}",
                    location=Source(report.source),
                )
            )
    return found
