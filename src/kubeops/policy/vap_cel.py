"""CEL as ValidatingAdmissionPolicy runs it: the variables each expression sees, the
type each kind of expression must have, and runtime errors in the API server's words.

kubeops compiles on cel-cpp (:mod:`kubeops.cel`); the API server runs cel-go.  The
two agree on values but word errors differently, and a denial's message quotes the
error (``expression 'X' resulted in error: no such key: spec``), so
:func:`go_error` rewords cel-cpp's causes as cel-go's -- the oracle test holds
each wording against a real API server.  ``variables.NAME`` are declared one by
one (a dotted name each), so a misspelt or later variable fails when loaded, as
on the API server; they are evaluated eagerly, in order, and one that fails is left
out of the activation, so an expression fails with its error only if it reads it
-- what the API server's lazy evaluation gives.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel import CelError, CelEvaluationError, Prepared, Program, compile, prepare
from kubeops.cel import authorizer as cel_authorizer
from kubeops.policy.model import Object, Review
from kubeops.policy.vap_match import NAMESPACE_LABEL

__all__ = [
    "BASE_VARIABLES",
    "EvaluationFailure",
    "activation",
    "compile_expression",
    "go_error",
    "namespace_object",
    "result_type",
]

BASE_VARIABLES: Final = ("object", "oldObject", "request", "namespaceObject")
PARAMS: Final = "params"
AUTHORIZER: Final = "authorizer"
VARIABLE_PREFIX: Final = "variables."

# The fields of the API server's typed ``request`` and ``namespaceObject`` (others
# are compile errors there: "undefined field 'uid'").
REQUEST_FIELDS: Final = frozenset(
    {
        "kind",
        "resource",
        "subResource",
        "requestKind",
        "requestResource",
        "requestSubResource",
        "name",
        "namespace",
        "operation",
        "userInfo",
        "dryRun",
        "options",
    }
)
NAMESPACE_FIELDS: Final = frozenset({"metadata", "spec", "status"})
_NAMESPACE_METADATA: Final = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "finalizers",
)
_STRINGS = re.compile(r"'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", re.S)


class EvaluationFailure(Exception):
    """An expression that failed on one request; ``message`` is the API server's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def compile_expression(
    text: str,
    *,
    params: bool,
    variables: Sequence[tuple[str, Program]],
    authorizer: bool = False,
) -> Program:
    """``text`` compiled for a policy: with ``params`` when it has a paramKind, each
    variable declared before it (typed as its expression), ``authorizer`` where the API
    server offers it.  :class:`CelError` when it does not compile or reads a field
    ``request``/``namespaceObject`` does not have."""
    names: dict[str, Any] = dict.fromkeys(BASE_VARIABLES, cel.Type.DYN)
    for name, program in variables:
        names[VARIABLE_PREFIX + name] = _type_of(program)
    if params:
        names[PARAMS] = cel.Type.DYN
    if authorizer:
        names[AUTHORIZER] = cel_authorizer.AUTHORIZER.type
    program = compile(text, variables=names)
    code = _STRINGS.sub("''", text)
    for root, known in (("request", REQUEST_FIELDS), ("namespaceObject", NAMESPACE_FIELDS)):
        for found in re.finditer(rf"(?<![\w.]){root}\s*\.\s*(\w+)", code):
            if found.group(1) not in known:
                raise CelError(text, f"undefined field '{found.group(1)}' of {root}")
    return program


def _type_of(program: Program) -> Any:
    return program.result_type


def result_type(program: Program) -> str:
    """The type the compiled expression returns: ``bool``, ``string``, ``dyn``, ..."""
    typed = _type_of(program)
    name = typed.name() if hasattr(typed, "name") else str(typed)
    return str(name).lower().replace("null", "null_type")


def typed_by_server(text: str) -> bool:
    """Whether the API server types part of ``text`` more precisely than kubeops
    (``request.name`` is a string there, ``namespaceObject.metadata.labels`` a map of
    strings), so a ``dyn`` result here may be a bool or a string there."""
    code = _STRINGS.sub("''", text)
    return bool(re.search(r"(?<![\w.])(request|namespaceObject)\s*\.", code))


def namespace_object(name: str, namespace: Object | None) -> Object | None:
    """``namespaceObject``: the request's Namespace with the fields the API server
    exposes (a namespace the context does not know: its name and automatic label)."""
    if not name:
        return None
    if namespace is None:
        return {"metadata": {"name": name, "labels": {NAMESPACE_LABEL: name}}}
    meta = namespace.get("metadata") or {}
    shown: Object = {"metadata": {k: meta[k] for k in _NAMESPACE_METADATA if k in meta}}
    for key in ("spec", "status"):
        if key in namespace:
            shown[key] = namespace[key]
    return shown


def request_value(review: Review) -> Object:
    """``request``: the admission request without object, oldObject and uid."""
    request = dict(review.request())  # shared by every policy: changed only as a copy
    for key in ("object", "oldObject", "uid"):
        request.pop(key, None)
    if not request.get("namespace") and review.resource.resource == "namespaces":
        request["namespace"] = review.name  # the API server's way for Namespace objects
    for key in _OMITTED_WHEN_EMPTY:
        if not request.get(key):
            request.pop(key, None)
    user = dict(request.get("userInfo") or {})
    request["userInfo"] = {k: v for k, v in user.items() if v or k == "username"}
    return request


# AdmissionRequest's ``omitempty`` fields: absent, not "", when empty (so reading
# ``request.namespace`` of a cluster-scoped object is "no such key", as on the server).
_OMITTED_WHEN_EMPTY: Final = ("name", "namespace", "subResource", "requestSubResource", "options")


def _as_stored(obj: Object | None) -> Object | None:
    """A Namespace as the API server stores it: with its ``kubernetes.io/metadata.name``
    label (set on every create and update, before validating admission)."""
    if obj is None or obj.get("kind") != "Namespace" or obj.get("apiVersion") != "v1":
        return obj
    meta = dict(obj.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    if labels.get(NAMESPACE_LABEL) == meta.get("name"):
        return obj
    labels[NAMESPACE_LABEL] = str(meta.get("name") or "")
    return {**obj, "metadata": {**meta, "labels": labels}}


def activation(
    review: Review,
    *,
    params: Object | None,
    namespace: Object | None,
    with_params: bool,
    authorize: Any = None,
) -> dict[str, Any]:
    """The variables every expression of one request sees (before ``variables.*``)."""
    values: dict[str, Any] = {
        "object": _as_stored(review.object),
        "oldObject": _as_stored(review.old_object),
        "request": request_value(review),
        "namespaceObject": namespace,
    }
    if with_params:
        values[PARAMS] = params
    if authorize is not None:
        values[AUTHORIZER] = cel_authorizer.activation(authorize, review.user_info)
    return values


def evaluate(program: Program, prepared: Prepared, failed: Mapping[str, str]) -> Any:
    """``program``'s value; :class:`EvaluationFailure` with the API server's message.

    ``failed`` maps each variable that could not be evaluated to its error.
    """
    try:
        return program.evaluate(prepared)
    except CelEvaluationError as error:
        cause = go_error(error.cause, program.expression, prepared.values, failed)
        raise EvaluationFailure(
            f"expression '{program.expression}' resulted in error: {cause}"
        ) from None


def evaluate_variables(
    programs: Sequence[tuple[str, Program]], values: dict[str, Any]
) -> tuple[Prepared, dict[str, str]]:
    """Each variable in order into ``values`` (``variables.NAME``), as CEL holds it (a
    quantity stays a quantity); those that fail are left out and returned with their
    errors (``composited variable "x" fails to ...``).  Also the activation prepared
    for the policy's other expressions."""
    failed: dict[str, str] = {}
    prepared = prepare(values)
    for name, program in programs:
        try:
            values[VARIABLE_PREFIX + name] = program.evaluate(prepared, raw=True)
        except CelEvaluationError as error:
            cause = go_error(error.cause, program.expression, values, failed)
            failed[name] = f'composited variable "{name}" fails to evaluate: {cause}'
            continue
        prepared = prepare(values)
    return prepared, failed


def without_authorizer(values: Mapping[str, Any], tainted: Collection[str]) -> Prepared:
    """The activation of a messageExpression: no authorizer, nor the variables that use
    it (on the API server they fail there, and the static message is used)."""
    kept = {
        key: value
        for key, value in values.items()
        if key != AUTHORIZER
        and not (key.startswith(VARIABLE_PREFIX) and key[len(VARIABLE_PREFIX) :] in tainted)
    }
    return prepare(kept)


_MISSING_VARIABLE = re.compile(r"^no value for variable variables\.(\w+)$")
_INDEX = re.compile(r"^Index error: index=(-?\d+) size=\d+$")
_CONVERT = re.compile(r"^cannot convert (\w+) to (\w+)$")
_NO_OVERLOAD = re.compile(r"^no function or operator (.*) for these types$")
_NOT_A_MAP = "selecting a field of a value that is not a map (null, or a scalar)"
_SAME: Final = {
    "divide by zero": "division by zero",
    "modulus by zero": "modulus by zero",
    "integer overflow": "integer overflow",
}


def go_error(
    cause: str, expression: str, values: Mapping[str, Any], failed: Mapping[str, str]
) -> str:
    """A kubeops CEL runtime cause as cel-go words it (unknown ones unchanged)."""
    if found := _MISSING_VARIABLE.match(cause):
        return failed.get(found.group(1), cause)
    if cause in _SAME:
        return _SAME[cause]
    if found := _INDEX.match(cause):
        return f"index out of bounds: {found.group(1)}"
    if found := _CONVERT.match(cause):
        return f"type conversion error from '{_go_type(found.group(1))}' to '{_go_type(found.group(2))}'"
    if found := _NO_OVERLOAD.match(cause):
        function = found.group(1)
        if function.startswith("size(") or ").size(" in function:
            return "no such overload: size"
        return "no such overload"
    if cause == _NOT_A_MAP:
        field = _unselectable_field(expression, values)
        return f"no such key: {field}" if field else cause
    return cause


def _go_type(name: str) -> str:
    return {"int64": "int", "uint64": "uint"}.get(name, name)


_CHAIN = re.compile(
    r"(?<![\w.])(object|oldObject|params|namespaceObject|request|variables\.\w+)"
    r"((?:\s*\.\s*\w+\b(?!\s*\()|\[\s*'[^']*'\s*\]|\[\s*\"[^\"]*\"\s*\])+)"
)
_STEP = re.compile(r"\.\s*(\w+)\b(?!\s*\()|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]")
_MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter", "orValue", "hasValue"})


def _unselectable_field(expression: str, values: Mapping[str, Any]) -> str | None:
    """The first field the expression selects from null or a scalar, found by walking
    each ``root.a.b`` chain of its text through the values (cel-cpp does not say)."""
    for chain in _CHAIN.finditer(expression):
        current: Any = values.get(chain.group(1))
        if chain.group(1) not in values:
            continue
        for step in _STEP.finditer(chain.group(2)):
            key = step.group(1) or step.group(2) or step.group(3) or ""
            if step.group(1) and key in _MACROS:
                break
            if isinstance(current, dict):
                if key not in current:
                    break
                current = current[key]
                continue
            if isinstance(current, list):
                break
            return key
    return None
