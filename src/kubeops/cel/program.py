"""Compiled CEL expressions over plain JSON-shaped values, on Google's cel-cpp.

One environment per set of variables, built once: a variable is ``dyn`` unless
given a type (objects are the API server's JSON, not typed messages), with the
CEL that Kubernetes 1.37's ValidatingAdmissionPolicy compiles against: optional
fields (``object.?spec.x.orValue(0)``), cross-type numeric comparisons, the
strings (v2), sets, lists (v2) and two-variable comprehension extensions, and
Kubernetes' lists, regex, URL, IP, CIDR, format, semver, quantity and authorizer
libraries -- plus kubeops' ``sha256``/``canonical``.  Compiling type-checks, so an
unknown variable or ``size(1)`` fails when a rule is loaded, not when it fires.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from cel_expr_python import cel  # type: ignore[import-untyped]
from cel_expr_python.ext import ext_optional, ext_strings  # type: ignore[import-untyped]

from kubeops.cel import (
    authorizer,
    content,
    formats,
    lists,
    net,
    overloads,
    quantity,
    regex,
    semver,
    standard,
    urls,
)
from kubeops.cel.errors import CelError, CelEvaluationError

__all__ = ["VARIABLES", "Prepared", "Program", "compile", "prepare"]

VARIABLES: Final = ("object", "oldObject", "payload", "event")
"""The variables a respond rule sees (kubeops.respond.event.Event.as_activation)."""

_ERROR: Final = cel.Type.ERROR
_POSITION = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")
_STATUS = re.compile(r"^[A-Z_]+: |\s*\[[A-Z_]+\]$")
_REWORDED: Final = (
    (re.compile(r'^Key not found in map : "?(.*?)"?$'), r"no such key: \1"),
    (
        re.compile(r"^Applying SELECT to non-message type$"),
        "selecting a field of a value that is not a map (null, or a scalar)",
    ),
    (re.compile(r'^No value with name "(.*)" found in Activation$'), r"no value for variable \1"),
    (
        re.compile(r"^No matching overloads found : (.*)$"),
        r"no function or operator \1 for these types",
    ),
    (re.compile(r" \(in container ''\)"), ""),
    (re.compile(r"kubeopsValidate"), "validate"),
    (re.compile(r"format\.kubeopsNamed"), "format.named"),
)


def _reword(message: str) -> str:
    """cel-cpp's status text as a kubeops cause: no status codes, one line."""
    text = _STATUS.sub("", message.strip())
    for pattern, replacement in _REWORDED:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def _compile_cause(message: str) -> str:
    """Each compile error with its place: "column 23: Syntax error: ..."."""
    causes = []
    for line, column, text in _POSITION.findall(message):
        where = f"column {column}" if line == "1" else f"line {line} column {column}"
        causes.append(f"{where}: {_reword(text)}")
    return "; ".join(causes) or _reword(message)


_CONFIG: Final = "\n".join(
    [
        "stdlib:",
        "  exclude_functions:",
        *(f'    - name: "{name}"' for name in standard.REDECLARED),
        "extensions:",
        "  - name: cel.lib.ext.sets",
        "  - name: cel.lib.ext.comprev2",
        "  - name: cel.lib.ext.lists",
        "    version: 2",
        "",
    ]
)
"""What cel-expr-python takes as configuration: the extensions, and the standard
functions :mod:`kubeops.cel.standard` declares again (cross-type comparisons)."""

_TYPED: Final = {
    "authorizer": authorizer.AUTHORIZER.type,
    authorizer.REQUEST_RESOURCE: authorizer.REQUEST_RESOURCE_TYPE,
}


def _overloads() -> list[overloads.Fn]:
    return [
        *standard.overloads(),
        *quantity.overloads(),
        *lists.overloads(),
        *regex.overloads(),
        *urls.overloads(),
        *net.overloads(),
        *formats.overloads(),
        *semver.overloads(),
        *authorizer.overloads(),
    ]


_ENVIRONMENTS: dict[tuple[tuple[str, str], ...], Any] = {}


def _environment(variables: tuple[tuple[str, Any], ...]) -> Any:
    key = tuple((name, str(kind.name())) for name, kind in variables)
    env = _ENVIRONMENTS.get(key)
    if env is None:
        env = _ENVIRONMENTS[key] = cel.NewEnv(
            config=cel.NewEnvConfigFromYaml(_CONFIG),
            variables=dict(variables),
            extensions=[
                ext_optional.ExtOptional(),
                ext_strings.ExtStrings(2),
                # names the strings extension declares too: only an extension may add to them
                cel.CelExtension(
                    "kubernetes.lists", overloads.declare(lists.extension_overloads())
                ),
            ],
            functions=overloads.declare(_overloads()) + content.declarations(),
        )
    return env


def _declared(variables: Iterable[str] | Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Each variable with its CEL type: given, Kubernetes' (``authorizer``), or ``dyn``."""
    if isinstance(variables, Mapping):
        typed = dict(variables)
    else:
        typed = {name: _TYPED.get(name, cel.Type.DYN) for name in variables}
    if "authorizer" in typed:
        typed.setdefault(authorizer.REQUEST_RESOURCE, _TYPED[authorizer.REQUEST_RESOURCE])
    return tuple(sorted(typed.items()))


def _json_shaped(value: Any) -> Any:
    """``value`` with every Mapping a dict and every tuple a list (what cel-cpp converts)."""
    if isinstance(value, Mapping):
        return {k: _json_shaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_shaped(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """A result as plain Python: quantities as their canonical text, IPs and CIDRs as
    theirs, semvers as their version, bytes as bytes."""
    if isinstance(value, dict):
        opaque, shown = overloads.shown(value)
        if opaque:
            return shown
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, cel.Type):
        return value.name().lower()
    return value


def _badly_shaped(value: Any) -> bool:
    """Whether cel-cpp refused an activation value's Python type (a tuple, a mappingproxy)."""
    text = str(value)
    return (
        value.type() == _ERROR
        and "Non-CEL value type for '" in text
        and "Python function" not in text
    )


class Prepared:
    """An activation converted for cel-cpp once, for the many expressions that read it.

    cel-expr-python converts the whole activation on every ``eval(data=...)``; a
    ValidatingAdmissionPolicy runs several expressions over one request, so build this
    once per request (and again when a variable is added) and pass it to
    :meth:`Program.evaluate`.  An ``authorizer`` binding in it answers their checks.
    """

    __slots__ = ("_activation", "_binding", "_shaped", "values")

    def __init__(self, values: Mapping[str, Any]) -> None:
        given = values.get("authorizer")
        self._binding = given if isinstance(given, authorizer.Binding) else None
        data = dict(values)
        if self._binding is not None:
            data.update(authorizer.values(self._binding, values.get("request")))
        self.values: Mapping[str, Any] = data
        self._shaped = False
        self._activation = _environment(()).Activation(data=data)

    def run(self, compiled: Any) -> Any:
        """``compiled`` evaluated over this activation (a cel-cpp value)."""
        with authorizer.bound(self._binding) if self._binding else contextlib.nullcontext():
            value = compiled.eval(activation=self._activation)
            if not self._shaped and _badly_shaped(value):
                # Python callers may hand over tuples or read-only mappings: reshape once.
                self._shaped = True
                self._activation = _environment(()).Activation(data=_json_shaped(self.values))
                value = compiled.eval(activation=self._activation)
        return value


def prepare(activation: Mapping[str, Any]) -> Prepared:
    """``activation`` converted once, for evaluating many programs over it."""
    return Prepared(activation)


class Program:
    """A compiled expression: evaluate it as often as needed (one thread at a time)."""

    __slots__ = ("_compiled", "expression", "variables")

    def __init__(self, expression: str, variables: tuple[str, ...], compiled: Any) -> None:
        self.expression = expression
        self.variables = variables
        self._compiled = compiled

    def __repr__(self) -> str:
        return f"Program({self.expression!r})"

    @property
    def result_type(self) -> Any:
        """The type the checker gave the expression's result (a ``cel.Type``)."""
        return self._compiled.return_type()

    def evaluate(self, activation: Mapping[str, Any] | Prepared, *, raw: bool = False) -> Any:
        """The expression's value over ``activation`` (JSON-shaped values), as plain Python.

        Timestamps come back as aware datetimes, durations as timedeltas.  A missing key,
        a field of null, a type mismatch: :class:`CelEvaluationError`, one line.  With
        ``raw`` an opaque value (a quantity, an IP, an authorizer ...) stays the map that
        carries it, so it can go back into another activation (VAP ``variables``).
        """
        value = self._run(activation if isinstance(activation, Prepared) else Prepared(activation))
        try:
            result = value.plain_value()
        except TypeError:  # an optional (cel-expr-python types it as an error)
            raise CelEvaluationError(
                self.expression,
                "the result has no plain value (an optional? end it with .orValue(default))",
            ) from None
        if value.type() == _ERROR:
            raise CelEvaluationError(self.expression, _reword(str(result)))
        if raw or isinstance(result, bool | int | str | float):
            return result
        return _plain(result)

    def _run(self, activation: Prepared) -> Any:
        try:
            return activation.run(self._compiled)
        except RuntimeError as error:  # cel-cpp could not plan or run it at all
            raise CelEvaluationError(self.expression, _reword(str(error))) from None

    def matches(self, activation: Mapping[str, Any] | Prepared) -> bool:
        """The expression as a condition: true or false, and anything else an error."""
        result = self.evaluate(activation)
        if not isinstance(result, bool):
            raise CelEvaluationError(
                self.expression,
                f"a condition must give true or false, not {_describe(result)}",
            )
        return result


def _describe(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def compile(
    expression: str, *, variables: Iterable[str] | Mapping[str, Any] = VARIABLES
) -> Program:
    """``expression`` compiled and type-checked for ``variables``; cached by its text.

    ``variables`` are names (each ``dyn``; ``authorizer`` is Kubernetes' authorizer,
    with ``authorizer.requestResource``) or a mapping of names to ``cel.Type``.
    Raises :class:`CelError` naming the expression and the cause (with its column).
    """
    declared = _declared(variables)
    key = tuple((name, str(kind.name())) for name, kind in declared)
    program = _CACHE.get((expression, key))
    if program is None:
        if len(_CACHE) >= 4096:
            _CACHE.clear()
        program = _CACHE[(expression, key)] = _compiled(expression, declared)
    return program


_CACHE: dict[tuple[str, tuple[tuple[str, str], ...]], Program] = {}


_UNSUPPORTED: Final = re.compile(r"\.\s*(transformMap(?:Entry)?)\s*\(")


def _compiled(expression: str, variables: tuple[tuple[str, Any], ...]) -> Program:
    if not isinstance(expression, str):
        raise CelError(
            repr(expression), f"an expression is a string, not {type(expression).__name__}"
        )
    if match := _UNSUPPORTED.search(expression):
        # cel-expr-python type-checks these macros but lacks the cel.@mapInsert they expand to.
        raise CelError(
            expression,
            f"column {match.start() + 2}: {match.group(1)} is not supported by kubeops' CEL"
            " (cel-expr-python cannot run it); build the map with a list and .map() instead",
        )
    try:
        compiled = _environment(variables).compile(formats.rewrite(expression))
    except RuntimeError as error:
        raise CelError(expression, _compile_cause(str(error))) from None
    return Program(expression, tuple(name for name, _ in variables), compiled)
