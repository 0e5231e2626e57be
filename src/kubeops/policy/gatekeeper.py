"""Gatekeeper's ConstraintTemplates and constraints, run in-process with the input
Gatekeeper gives them, so a cluster's Gatekeeper policies also run in CI and before
``apply``.

A template names a constraint kind (``spec.crd.spec.names.kind``), a parameters
schema and Rego (``spec.targets[0].rego`` and ``libs``, or its ``code`` entry
for the Rego engine; Rego v0 unless ``source.version: v1``).  Each constraint of
that kind is one policy: its ``spec.match`` picks the objects, its
``spec.parameters`` (checked against the schema at load) are
``input.parameters``, and the admission request is ``input.review``.  The
template's ``violation[{"msg": m, "details": d}]`` results are the violations;
``spec.enforcementAction`` deny/warn/dryrun means Deny/Warn/Audit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeops.config.safe_yaml import MarkedDict, MarkedList
from kubeops.models.selector import Selector, SelectorError
from kubeops.policy import rego_params
from kubeops.policy.model import (
    Action,
    Context,
    Document,
    FailurePolicy,
    GroupVersionKind,
    Object,
    PolicyEvaluationError,
    PolicyLoadError,
    Problem,
    Review,
    Source,
    Violation,
    resource_of,
)
from kubeops.policy.rego_engine import Module, Program, RegoError

TARGET = "admission.k8s.gatekeeper.sh"
ACTIONS: dict[str, frozenset[Action]] = {
    "deny": frozenset({Action.DENY}),
    "warn": frozenset({Action.WARN}),
    "dryrun": frozenset({Action.AUDIT}),
}
_SCOPES = ("*", "Cluster", "Namespaced")


@dataclass(frozen=True)
class Template:
    """A loaded ConstraintTemplate: the kind it defines, its program and schema."""

    kind: str
    name: str
    source: Source
    program: Program
    package: str
    schema: Mapping[str, Any] | None
    files: dict[str, Source] = field(default_factory=dict)
    inventory: tuple[tuple[str, str], ...] | None = None
    """The (apiVersion, kind) pairs of ``data.inventory`` (the template's
    ``requires-sync-data``); None when its Rego never reads the inventory."""


def load(templates: Sequence[Document], constraints: Sequence[Document]) -> list[ConstraintPolicy]:
    """One policy per constraint; :class:`PolicyLoadError` names each bad template
    (Rego that does not compile, at its YAML line), constraint without a template,
    parameter the schema refuses, or unknown enforcement action -- and then none load."""
    problems: list[Problem] = []
    by_kind: dict[str, Template] = {}
    broken: set[str] = set()  # kinds whose template failed: their constraints say nothing more
    for doc in templates:
        try:
            template = _template(doc)
        except PolicyLoadError as err:
            problems.extend(err.problems)
            broken.add(_kind_of(doc.value))
            continue
        if template.kind in by_kind:
            first = by_kind[template.kind].source
            problems.append(
                Problem(
                    template.source,
                    template.name,
                    f"kind {template.kind} defined twice (first at {first})",
                )
            )
        by_kind[template.kind] = template
    policies: list[ConstraintPolicy] = []
    for doc in constraints:
        if isinstance(doc.value, dict) and str(doc.value.get("kind")) in broken:
            continue
        try:
            policies.append(_constraint(doc, by_kind))
        except PolicyLoadError as err:
            problems.extend(err.problems)
    if problems:
        raise PolicyLoadError(problems)
    return policies


def _kind_of(template: Any) -> str:
    try:
        return str(template["spec"]["crd"]["spec"]["names"]["kind"])
    except (KeyError, TypeError):
        return ""


def _line(node: Any, key: str | int, fallback: int) -> int:
    if isinstance(node, (MarkedDict, MarkedList)):
        return node.line_of(key) or fallback  # type: ignore[arg-type]
    return fallback


def _template(doc: Document) -> Template:
    obj = doc.value
    line = doc.source.line
    name = str((obj.get("metadata") or {}).get("name") or "")

    def fail(cause: str, at: int = line) -> PolicyLoadError:
        return PolicyLoadError([Problem(Source(doc.source.file, at), name, cause)])

    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    crd = (spec.get("crd") or {}).get("spec") or {}
    kind = str((crd.get("names") or {}).get("kind") or "")
    if not kind:
        raise fail("spec.crd.spec.names.kind is required", _line(spec, "crd", line))
    targets = spec.get("targets")
    if not isinstance(targets, list) or not targets or not isinstance(targets[0], dict):
        raise fail("spec.targets needs one target with rego", _line(spec, "targets", line))
    target = targets[0]
    if target.get("target") != TARGET:
        at = _line(target, "target", line)
        raise fail(f"target {target.get('target')!r} is not {TARGET}", at)
    rego, libs, v1, rego_node, rego_key = _code(target)
    if not isinstance(rego, str) or not rego.strip():
        raise fail("the target has no rego (spec.targets[0].rego or a Rego code entry)")
    texts: list[tuple[str, Source]] = [
        (rego, Source(doc.source.file, _line(rego_node, rego_key, line) + 1))
    ]
    libs_node = rego_node.get("libs") if isinstance(rego_node, dict) else None
    for index, lib in enumerate(libs):
        at = _line(libs_node, index, line) + 1
        texts.append((str(lib), Source(doc.source.file, at)))
    modules = [Module(f"{name or kind}-{i}.rego", text) for i, (text, _) in enumerate(texts)]
    files = {m.name: src for m, (_, src) in zip(modules, texts, strict=True)}
    try:
        program = Program(modules, v0=not v1)
    except RegoError as err:
        raise PolicyLoadError([_problem(err, files, name)]) from None
    package = next((r.package for r in program.rules if r.file == modules[0].name), "")
    violation = [r for r in program.rules if r.package == package and r.name == "violation"]
    if not violation:
        raise fail(
            f"the rego (package {package or '?'}) has no violation rule", texts[0][1].line - 1
        )
    try:
        program.compile(violation)
        program.check(violation)
    except RegoError as err:
        raise PolicyLoadError([_problem(err, files, name)]) from None
    validation = crd.get("validation") or {}
    schema = validation.get("openAPIV3Schema") if isinstance(validation, dict) else None
    source = Source(doc.source.file, line)
    reads = any("data.inventory" in text for text, _ in texts)
    synced = _sync_kinds(obj) if reads else None
    return Template(kind, name, source, program, package, schema, files, synced)


SYNC_ANNOTATION = "metadata.gatekeeper.sh/requires-sync-data"


def _sync_kinds(template: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The kinds a template's ``requires-sync-data`` annotation asks Gatekeeper to sync
    (a JSON list of lists of ``{groups, versions, kinds}``)."""
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    try:
        # Gatekeeper's own examples wrap the JSON in quotes; it trims them, as here.
        wanted = json.loads(str(annotations.get(SYNC_ANNOTATION) or "[]").strip('\n" '))
    except ValueError:
        return ()
    kinds: dict[tuple[str, str], None] = {}
    for alternatives in wanted if isinstance(wanted, list) else []:
        for entry in alternatives if isinstance(alternatives, list) else [alternatives]:
            if not isinstance(entry, dict):
                continue
            for group in entry.get("groups") or [""]:
                for version in entry.get("versions") or []:
                    for kind in entry.get("kinds") or []:
                        api_version = f"{group}/{version}" if group else str(version)
                        kinds[(api_version, str(kind))] = None
    return tuple(kinds)


def inventory(kinds: Sequence[tuple[str, str]], context: Context) -> Object:
    """Gatekeeper's ``data.inventory`` of the context's objects of ``kinds``:
    ``cluster[groupVersion][kind][name]`` and ``namespace[ns][groupVersion][kind][name]``."""
    cluster: dict[str, Any] = {}
    namespaced: dict[str, Any] = {}
    for api_version, kind in kinds:
        for obj in context.objects(api_version, kind):
            meta = obj.get("metadata") or {}
            name, namespace = str(meta.get("name") or ""), meta.get("namespace")
            into = namespaced.setdefault(str(namespace), {}) if namespace else cluster
            into.setdefault(api_version, {}).setdefault(kind, {})[name] = obj
    return {"cluster": cluster, "namespace": namespaced}


def _code(target: Mapping[str, Any]) -> tuple[Any, list[Any], bool, Any, str]:
    """The rego, libs, whether it is Rego v1, and the node/key it was read from."""
    for entry in target.get("code") or []:
        if isinstance(entry, dict) and entry.get("engine") == "Rego":
            source = entry.get("source") or {}
            if isinstance(source, dict) and source.get("rego"):
                libs = source.get("libs") or []
                return source["rego"], list(libs), source.get("version") == "v1", source, "rego"
    libs = target.get("libs") or []
    return target.get("rego"), list(libs), False, target, "rego"


def _problem(err: RegoError, files: Mapping[str, Source], policy: str) -> Problem:
    base = files.get(err.file)
    if base is None:
        return Problem(Source(err.file or "rego", err.line), policy, err.cause)
    return Problem(Source(base.file, base.line + max(err.line, 1) - 1), policy, err.cause)


def _constraint(doc: Document, templates: Mapping[str, Template]) -> ConstraintPolicy:
    obj = doc.value
    line = doc.source.line
    name = str((obj.get("metadata") or {}).get("name") or "")
    kind = str(obj.get("kind") or "")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}

    def fail(cause: str, at: int = line) -> PolicyLoadError:
        return PolicyLoadError([Problem(Source(doc.source.file, at), name, cause)])

    template = templates.get(kind)
    if template is None:
        raise fail(f"no ConstraintTemplate defines kind {kind}", _line(obj, "kind", line))
    action_name = str(spec.get("enforcementAction") or "deny")
    if action_name == "scoped":
        actions = _scoped(spec.get("scopedEnforcementActions"))
        if not actions:
            raise fail(
                "scoped enforcement needs scopedEnforcementActions",
                _line(spec, "enforcementAction", line),
            )
    elif action_name in ACTIONS:
        actions = ACTIONS[action_name]
    else:
        raise fail(
            f"enforcementAction {action_name!r} is not deny, warn, dryrun or scoped",
            _line(spec, "enforcementAction", line),
        )
    parameters = spec.get("parameters")
    if template.schema is not None:
        problems = rego_params.check(parameters, template.schema)
        if problems:
            at = _line(spec, "parameters", line)
            raise PolicyLoadError([Problem(Source(doc.source.file, at), name, p) for p in problems])
    try:
        match = Match.of(spec.get("match") or {})
    except (SelectorError, ValueError) as err:
        raise fail(f"spec.match: {err}", _line(spec, "match", line)) from None
    return ConstraintPolicy(
        name=name,
        kind=kind,
        source=Source(doc.source.file, line),
        template=template,
        parameters=_plain(parameters) if parameters is not None else {},
        match=match,
        actions=actions,
    )


def _scoped(entries: Any) -> frozenset[Action]:
    """The actions of ``scopedEnforcementActions`` that apply at admission/audit."""
    found: set[Action] = set()
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        points = [str((p or {}).get("name")) for p in entry.get("enforcementPoints") or []]
        if not points or any(
            p in ("*", "validation.gatekeeper.sh", "audit.gatekeeper.sh") for p in points
        ):
            found |= ACTIONS.get(str(entry.get("action")), frozenset())
    return frozenset(found)


def _plain(value: Any) -> Any:
    """A YAML value (Marked containers) as plain JSON-able dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def wildcard(pattern: str, value: str) -> bool:
    """Gatekeeper's name glob: ``kube-*`` (prefix), ``*-system`` (suffix), or exact."""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


@dataclass(frozen=True)
class Match:
    """A constraint's ``spec.match``, decided as Gatekeeper's matcher decides it."""

    kinds: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()
    scope: str = "*"
    namespaces: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    labels: Selector | None = None
    namespace_labels: Selector | None = None
    name: str = ""

    @classmethod
    def of(cls, match: Mapping[str, Any]) -> Match:
        """The match of a constraint's ``spec.match`` (raises on a bad selector)."""
        kinds = tuple(
            (
                frozenset(map(str, k.get("apiGroups") or [])),
                frozenset(map(str, k.get("kinds") or [])),
            )
            for k in match.get("kinds") or []
            if isinstance(k, dict)
        )
        scope = str(match.get("scope") or "*")
        labels = match.get("labelSelector")
        ns_labels = match.get("namespaceSelector")
        return cls(
            kinds=kinds,
            scope=scope,
            namespaces=tuple(map(str, match.get("namespaces") or [])),
            excluded=tuple(map(str, match.get("excludedNamespaces") or [])),
            labels=Selector.from_label_selector(labels) if labels is not None else None,
            namespace_labels=Selector.from_label_selector(ns_labels)
            if ns_labels is not None
            else None,
            name=str(match.get("name") or ""),
        )

    def matches(self, review: Review, context: Context) -> bool:
        """Whether the constraint applies to ``review`` (its namespace looked up in
        ``context`` only when a namespaceSelector needs its labels)."""
        obj = review.subject
        meta = obj.get("metadata") or {}
        is_namespace = review.kind.kind == "Namespace" and review.kind.group == ""
        namespace = str(meta.get("name") or "") if is_namespace else review.namespace
        if self.kinds and not any(
            (not kinds or "*" in kinds or review.kind.kind in kinds)
            and (not groups or "*" in groups or review.kind.group in groups)
            for groups, kinds in self.kinds
        ):
            return False
        has_namespace = bool(review.namespace)
        if self.scope == "Cluster" and not (is_namespace or not has_namespace):
            return False
        if self.scope == "Namespaced" and not (not is_namespace and has_namespace):
            return False
        if (
            self.namespaces
            and namespace
            and not any(wildcard(p, namespace) for p in self.namespaces)
        ):
            return False
        if self.excluded and namespace and any(wildcard(p, namespace) for p in self.excluded):
            return False
        if self.labels is not None and not self.labels.matches(meta.get("labels") or {}):
            return False
        if self.namespace_labels is not None and namespace:
            labels = (
                meta.get("labels") if is_namespace else self._namespace_labels(namespace, context)
            )
            if not self.namespace_labels.matches(labels or {}):
                return False
        return not self.name or wildcard(self.name, str(meta.get("name") or review.name))

    def admission_rules(self) -> list[dict[str, Any]]:
        """The resources ``kinds`` names (plurals as the API server guesses them;
        ``*`` stays ``*``), for a webhook's registration."""
        scope = self.scope if self.scope in ("Cluster", "Namespaced") else "*"
        rules = []
        for groups, kinds in self.kinds or ((frozenset(), frozenset()),):
            api_groups = sorted(groups) if groups and "*" not in groups else ["*"]
            resources = ["*"]
            if kinds and "*" not in kinds:
                group = next((g for g in api_groups if g != "*"), "")
                resources = sorted(
                    {resource_of(GroupVersionKind(group, "", k))[0].resource for k in kinds}
                )
            rules.append(
                {
                    "apiGroups": api_groups,
                    "apiVersions": ["*"],
                    "resources": resources,
                    "operations": ["CREATE", "UPDATE"],
                    "scope": scope,
                }
            )
        return rules

    @staticmethod
    def _namespace_labels(namespace: str, context: Context) -> Mapping[str, str]:
        found = context.namespace(namespace)
        if found is None:
            raise PolicyEvaluationError(
                "", f"namespaceSelector needs Namespace {namespace}, which is not known"
            )
        return (found.get("metadata") or {}).get("labels") or {}


@dataclass(eq=False)
class ConstraintPolicy:
    """One constraint: its template's Rego with its parameters, where its match applies."""

    name: str
    kind: str
    source: Source
    template: Template
    parameters: Any
    match: Match
    actions: frozenset[Action]
    engine: str = "gatekeeper"
    failure_policy: FailurePolicy = FailurePolicy.IGNORE

    def admission_rules(self) -> list[dict[str, Any]]:
        """What the constraint's ``match.kinds`` and ``scope`` can match, as
        admissionregistration rules (CREATE and UPDATE, as Gatekeeper's webhook asks)."""
        return self.match.admission_rules()

    def evaluate(self, review: Review, context: Context) -> list[Violation]:
        """The template's violations for ``review``; [] when the match excludes it."""
        try:
            if not self.match.matches(review, context):
                return []
        except PolicyEvaluationError as err:
            raise PolicyEvaluationError(self.name, err.cause) from None
        data = None
        if self.template.inventory is not None:
            data = {"inventory": inventory(self.template.inventory, context)}
        results = self.violations(gatekeeper_input(review, self.parameters), data)
        found = []
        for result in results:
            if not isinstance(result, dict):
                continue
            details = result.get("details")
            found.append(
                Violation(
                    policy=self.name,
                    message=str(result.get("msg", "")),
                    actions=self.actions,
                    binding=self.kind,
                    reason=self.kind,
                    field_path=_field(details),
                )
            )
        return found

    def violations(self, value: Object, data: Object | None = None) -> list[Any]:
        """The template's ``violation`` set for an input (Gatekeeper's ``{review,
        parameters}``) and, for a template that reads it, ``data`` (the inventory)."""
        rule = f"data.{self.template.package}.violation"
        try:
            out = self.template.program.evaluate(value, rule, data)
        except RegoError as err:
            src = self.template.files.get(err.file)
            where = f" at {src.file}:{src.line + err.line - 1}" if src and err.line else ""
            raise PolicyEvaluationError(self.name, f"violation{where}: {err.cause}") from None
        return out if isinstance(out, list) else []


def gatekeeper_input(review: Review, parameters: Any) -> Object:
    """``input`` as Gatekeeper builds it: the admission request and the parameters."""
    return {"review": review.request(), "parameters": parameters if parameters is not None else {}}


def _field(details: Any) -> str:
    if isinstance(details, dict) and isinstance(details.get("field"), str):
        return str(details["field"])
    return ""
