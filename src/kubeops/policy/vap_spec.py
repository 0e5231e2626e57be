"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding documents read into
checked values, with every problem the API server would refuse them for (and the
few kubeops adds: a binding naming no policy, a paramKind without paramRef) named
by file, line, policy and field.

The checks mirror admissionregistration.k8s.io/v1's validation on 1.37: required
fields, allowed values, names, and every expression compiled and typed (a
validation must be a bool, a messageExpression a string, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kubeops.cel import CelError, Program
from kubeops.config import safe_yaml
from kubeops.models.selector import Selector, SelectorError
from kubeops.policy import vap_cel
from kubeops.policy.model import Action, Document, FailurePolicy, Problem, Source
from kubeops.policy.vap_match import MatchResources

__all__ = ["BindingSpec", "PolicySpec", "read"]

OPERATIONS: Final = frozenset({"*", "CREATE", "UPDATE", "DELETE", "CONNECT"})
SCOPES: Final = frozenset({"*", "Cluster", "Namespaced"})
REASONS: Final = ("Forbidden", "Invalid", "RequestEntityTooLarge")
MAX_MESSAGE_EXPRESSION_BYTES: Final = 5 * 1024
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_IDENTIFIER = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")


@dataclass(frozen=True)
class Validation:
    """One ``validations`` entry, compiled."""

    program: Program
    message: str = ""
    message_program: Program | None = None
    reason: str = ""


@dataclass(frozen=True)
class AuditAnnotation:
    """One ``auditAnnotations`` entry, compiled."""

    key: str
    program: Program


@dataclass(frozen=True)
class PolicySpec:
    """A ValidatingAdmissionPolicy, checked and compiled."""

    name: str
    source: Source
    document: Mapping[str, Any]
    failure_policy: FailurePolicy
    match: MatchResources
    param_kind: tuple[str, str] | None
    uses_authorizer: bool = False
    authorizer_variables: frozenset[str] = frozenset()
    conditions: tuple[tuple[str, Program], ...] = ()
    variables: tuple[tuple[str, Program], ...] = ()
    validations: tuple[Validation, ...] = ()
    audit_annotations: tuple[AuditAnnotation, ...] = ()


@dataclass(frozen=True)
class ParamRef:
    """A binding's ``paramRef``."""

    name: str = ""
    namespace: str = ""
    selector: Selector | None = None
    not_found: str = "Deny"


@dataclass(frozen=True)
class BindingSpec:
    """A ValidatingAdmissionPolicyBinding, checked."""

    name: str
    source: Source
    document: Mapping[str, Any]
    policy_name: str
    actions: frozenset[Action]
    param_ref: ParamRef | None = None
    match: MatchResources | None = None
    line_of_policy_name: int = 0


@dataclass
class _Reader:
    """One document's fields, with the line of each for problems."""

    doc: Document
    problems: list[Problem]
    name: str = ""
    prefix: str = ""
    lines: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = safe_yaml.field_lines(self.doc.value)

    def line(self, path: str) -> int:
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return self.doc.source.line

    def problem(self, path: str, cause: str) -> None:
        source = Source(self.doc.source.file, self.line(path))
        self.problems.append(Problem(source, self.name, f"{self.prefix}{path}: {cause}"))

    def get(self, path: str) -> Any:
        value: Any = self.doc.value
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            if part.startswith("["):
                index = int(part[1:-1])
                value = value[index] if isinstance(value, list) and index < len(value) else None
            else:
                value = value.get(part) if isinstance(value, Mapping) else None
        return value

    def mapping(self, path: str, *, required: bool = False) -> Mapping[str, Any] | None:
        value = self.get(path)
        if value is None:
            if required:
                self.problem(path, "Required value")
            return None
        if not isinstance(value, Mapping):
            self.problem(path, f"must be a mapping, not {type(value).__name__}")
            return None
        return value

    def items(self, path: str, *, required: bool = False) -> list[Any]:
        value = self.get(path)
        if value is None or value == []:
            if required:
                self.problem(path, "Required value")
            return []
        if not isinstance(value, list):
            self.problem(path, f"must be a list, not {type(value).__name__}")
            return []
        return value

    def string(self, path: str, *, required: bool = False) -> str:
        value = self.get(path)
        if value is None or value == "":
            if required:
                self.problem(path, "Required value")
            return ""
        if not isinstance(value, str):
            self.problem(path, f"must be a string, not {type(value).__name__}")
            return ""
        return value

    def choice(self, path: str, allowed: Sequence[str], default: str) -> str:
        value = self.string(path)
        if value and value not in allowed:
            shown = ", ".join(f'"{a}"' for a in allowed)
            self.problem(path, f'Unsupported value: "{value}": supported values: {shown}')
            return default
        return value or default

    def compile(
        self,
        path: str,
        *,
        params: bool,
        variables: Sequence[tuple[str, Program]],
        returns: Sequence[str],
        authorizer: bool = True,
    ) -> Program | None:
        text = self.string(path, required=True)
        if not text:
            return None
        try:
            program = vap_cel.compile_expression(
                text, params=params, variables=variables, authorizer=authorizer
            )
        except CelError as error:
            hint = ""
            if not params and re.search(r"reference to 'params\b", error.cause):
                hint = " (the policy has no spec.paramKind)"
            self.problem(path, f"compilation failed: {error.cause}{hint}")
            return None
        got = vap_cel.result_type(program)
        if returns and got not in returns and not (got == "dyn" and vap_cel.typed_by_server(text)):
            wanted = returns[0] if len(returns) == 1 else f"one of [{' '.join(returns)}]"
            self.problem(path, f"must evaluate to {wanted} but got {got}")
            return None
        return program


def _metadata_name(reader: _Reader) -> str:
    name = reader.string("metadata.name", required=True)
    reader.name = name
    return name


def _selector(reader: _Reader, path: str) -> None:
    value = reader.get(path)
    if value is None:
        return
    try:
        Selector.from_label_selector(value)
    except SelectorError as error:
        reader.problem(path, str(error))


def _rules(reader: _Reader, path: str, *, required: bool) -> None:
    for index, rule in enumerate(reader.items(path, required=required)):
        at = f"{path}[{index}]"
        if not isinstance(rule, Mapping):
            reader.problem(at, "must be a mapping")
            continue
        for key in ("apiGroups", "apiVersions", "resources", "operations"):
            for item_index, item in enumerate(reader.items(f"{at}.{key}", required=True)):
                if not isinstance(item, str):
                    reader.problem(f"{at}.{key}[{item_index}]", "must be a string")
                elif key == "operations" and item not in OPERATIONS:
                    reader.problem(f"{at}.{key}[{item_index}]", f'Unsupported value: "{item}"')
        reader.choice(f"{at}.scope", sorted(SCOPES), "*")
        reader.items(f"{at}.resourceNames")


def _match(reader: _Reader, path: str, *, rules_required: bool) -> MatchResources | None:
    spec = reader.mapping(path, required=rules_required)
    if spec is None:
        return None
    before = len(reader.problems)
    _rules(reader, f"{path}.resourceRules", required=rules_required)
    _rules(reader, f"{path}.excludeResourceRules", required=False)
    _selector(reader, f"{path}.namespaceSelector")
    _selector(reader, f"{path}.objectSelector")
    reader.choice(f"{path}.matchPolicy", ("Exact", "Equivalent"), "Equivalent")
    return MatchResources.of(spec) if len(reader.problems) == before else None


def _unique_name(
    reader: _Reader, path: str, seen: set[str], valid: Callable[[str], str | None]
) -> str:
    name = reader.string(path, required=True)
    if not name:
        return ""
    if (why := valid(name)) is not None:
        reader.problem(path, f'Invalid value: "{name}": {why}')
    elif name in seen:
        reader.problem(path, f'Duplicate value: "{name}"')
    seen.add(name)
    return name


def _qualified(name: str) -> str | None:
    if len(name) > 63 or not _QUALIFIED.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


def _identifier(name: str) -> str | None:
    return None if _IDENTIFIER.match(name) else "must be a valid CEL identifier"


def read_policy(doc: Document, problems: list[Problem]) -> PolicySpec | None:
    """One ValidatingAdmissionPolicy; None (problems added) when it cannot be loaded."""
    reader = _Reader(doc, problems)
    before = len(problems)
    name = _metadata_name(reader)
    if reader.mapping("spec", required=True) is None:
        return None
    failure = reader.choice("spec.failurePolicy", ("Fail", "Ignore"), "Fail")
    param_kind = None
    if reader.mapping("spec.paramKind") is not None:
        param_kind = (
            reader.string("spec.paramKind.apiVersion", required=True),
            reader.string("spec.paramKind.kind", required=True),
        )
    match = _match(reader, "spec.matchConstraints", rules_required=True)
    params = param_kind is not None
    variables: list[tuple[str, Program]] = []
    seen: set[str] = set()
    for index, _ in enumerate(reader.items("spec.variables")):
        at = f"spec.variables[{index}]"
        var_name = _unique_name(reader, f"{at}.name", seen, _identifier)
        program = reader.compile(
            f"{at}.expression", params=params, variables=list(variables), returns=()
        )
        if var_name and program is not None:
            variables.append((var_name, program))
    declared = list(variables)
    conditions: list[tuple[str, Program]] = []
    seen = set()
    for index, _ in enumerate(reader.items("spec.matchConditions")):
        at = f"spec.matchConditions[{index}]"
        condition = _unique_name(reader, f"{at}.name", seen, _qualified)
        program = reader.compile(
            f"{at}.expression", params=params, variables=declared, returns=("bool",)
        )
        if program is not None:
            conditions.append((condition, program))
    validations = _validations(reader, params, declared)
    annotations: list[AuditAnnotation] = []
    seen = set()
    for index, _ in enumerate(reader.items("spec.auditAnnotations")):
        at = f"spec.auditAnnotations[{index}]"
        key = _unique_name(reader, f"{at}.key", seen, _qualified)
        program = reader.compile(
            f"{at}.valueExpression",
            params=params,
            variables=declared,
            returns=("string", "null_type"),
        )
        if program is not None:
            annotations.append(AuditAnnotation(key, program))
    if not reader.items("spec.validations") and not reader.items("spec.auditAnnotations"):
        reader.problem("spec.validations", "at least one of validations or auditAnnotations")
    if len(problems) > before or match is None:
        return None
    return PolicySpec(
        name=name,
        source=Source(doc.source.file, reader.line("metadata.name")),
        document=doc.value,
        failure_policy=FailurePolicy(failure),
        match=match,
        param_kind=param_kind,
        uses_authorizer="authorizer" in str(doc.value.get("spec")),
        authorizer_variables=_authorizer_variables(variables),
        conditions=tuple(conditions),
        variables=tuple(variables),
        validations=tuple(validations),
        audit_annotations=tuple(annotations),
    )


def _authorizer_variables(variables: Sequence[tuple[str, Program]]) -> frozenset[str]:
    """The variables that read the authorizer, themselves or through earlier ones."""
    found: set[str] = set()
    for name, program in variables:
        reads = set(re.findall(r"variables\s*\.\s*(\w+)", program.expression))
        if re.search(r"(?<![\w.])authorizer\b", program.expression) or reads & found:
            found.add(name)
    return frozenset(found)


def _validations(
    reader: _Reader, params: bool, declared: list[tuple[str, Program]]
) -> list[Validation]:
    found: list[Validation] = []
    for index, _ in enumerate(reader.items("spec.validations")):
        at = f"spec.validations[{index}]"
        program = reader.compile(
            f"{at}.expression", params=params, variables=declared, returns=("bool",)
        )
        message = reader.string(f"{at}.message")
        if "\n" in message:
            reader.problem(f"{at}.message", "message must not contain line breaks")
        message_program = None
        if reader.get(f"{at}.messageExpression") is not None:
            message_program = reader.compile(
                f"{at}.messageExpression",
                params=params,
                variables=declared,
                returns=("string",),
                authorizer=False,
            )
        reason = reader.choice(f"{at}.reason", REASONS, "")
        if program is not None:
            found.append(Validation(program, message, message_program, reason))
    return found


def read_binding(doc: Document, problems: list[Problem]) -> BindingSpec | None:
    """One ValidatingAdmissionPolicyBinding; None (problems added) when it cannot be loaded."""
    reader = _Reader(doc, problems)
    before = len(problems)
    name = _metadata_name(reader)
    policy_name = reader.get("spec.policyName")
    reader.prefix = f"binding {name}: "
    reader.name = policy_name if isinstance(policy_name, str) and policy_name else name
    if reader.mapping("spec", required=True) is None:
        return None
    policy_name = reader.string("spec.policyName", required=True)
    actions: set[Action] = set()
    for index, action in enumerate(reader.items("spec.validationActions", required=True)):
        at = f"spec.validationActions[{index}]"
        if action not in {a.value for a in Action}:
            reader.problem(at, f'Unsupported value: "{action}"')
        elif Action(action) in actions:
            reader.problem(at, f'Duplicate value: "{action}"')
        else:
            actions.add(Action(action))
    if {Action.DENY, Action.WARN} <= actions:
        reader.problem(
            "spec.validationActions",
            "must not contain both Deny and Warn (repeating the same validation failure "
            "information in the API response and headers serves no purpose)",
        )
    param_ref = _param_ref(reader)
    match = None
    if reader.get("spec.matchResources") is not None:
        match = _match(reader, "spec.matchResources", rules_required=False)
    if len(problems) > before:
        return None
    return BindingSpec(
        name=name,
        source=Source(doc.source.file, reader.line("metadata.name")),
        document=doc.value,
        policy_name=policy_name,
        actions=frozenset(actions),
        param_ref=param_ref,
        match=match,
        line_of_policy_name=reader.line("spec.policyName"),
    )


def _param_ref(reader: _Reader) -> ParamRef | None:
    if reader.mapping("spec.paramRef") is None:
        return None
    ref_name = reader.string("spec.paramRef.name")
    selector_value = reader.get("spec.paramRef.selector")
    selector = None
    if ref_name and selector_value is not None:
        reader.problem("spec.paramRef.name", "Forbidden: name and selector are mutually exclusive")
    elif not ref_name and selector_value is None:
        reader.problem("spec.paramRef", "one of name or selector must be provided")
    elif selector_value is not None:
        try:
            selector = Selector.from_label_selector(selector_value)
        except SelectorError as error:
            reader.problem("spec.paramRef.selector", str(error))
    action = reader.string("spec.paramRef.parameterNotFoundAction", required=True)
    if action and action not in ("Allow", "Deny"):
        reader.problem(
            "spec.paramRef.parameterNotFoundAction",
            f'Unsupported value: "{action}": supported values: "Allow", "Deny"',
        )
    return ParamRef(
        name=ref_name,
        namespace=reader.string("spec.paramRef.namespace"),
        selector=selector,
        not_found=action or "Deny",
    )


def read(
    policies: Sequence[Document], bindings: Sequence[Document]
) -> tuple[list[PolicySpec], list[BindingSpec], list[Problem]]:
    """Every document read and checked, and the problems, cross-checks included."""
    problems: list[Problem] = []
    specs: dict[str, PolicySpec] = {}
    for doc in policies:
        spec = read_policy(doc, problems)
        if spec is None:
            continue
        if spec.name in specs:
            first = specs[spec.name].source
            problems.append(Problem(spec.source, spec.name, f"defined twice (first at {first})"))
            continue
        specs[spec.name] = spec
    known = {str((d.value.get("metadata") or {}).get("name") or "") for d in policies}
    found: dict[str, BindingSpec] = {}
    for doc in bindings:
        binding = read_binding(doc, problems)
        if binding is None:
            continue
        where = Source(binding.source.file, binding.line_of_policy_name)
        if binding.name in found:
            first = found[binding.name].source
            problems.append(
                Problem(
                    binding.source,
                    binding.policy_name,
                    f"binding {binding.name} defined twice (first at {first})",
                )
            )
            continue
        found[binding.name] = binding
        if binding.policy_name not in known:
            problems.append(
                Problem(
                    where,
                    binding.policy_name,
                    f"binding {binding.name}: spec.policyName: no ValidatingAdmissionPolicy "
                    f"named {binding.policy_name!r} is loaded",
                )
            )
            continue
        spec = specs.get(binding.policy_name)
        if spec is not None and spec.param_kind is not None and binding.param_ref is None:
            problems.append(
                Problem(
                    Source(binding.source.file, binding.source.line),
                    binding.policy_name,
                    f"binding {binding.name}: spec.paramRef: Required value (the policy's "
                    f"paramKind is {spec.param_kind[1]}; without paramRef the API server "
                    "evaluates it with params null)",
                )
            )
    return list(specs.values()), list(found.values()), problems
