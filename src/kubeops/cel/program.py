"""Compiled CEL expressions over plain JSON-shaped values, on Google's cel-cpp.

One environment per set of variable names, built once: every variable is ``dyn``
(objects are the API server's JSON, not typed messages), with Kubernetes' choice
of extensions -- optional fields (``object.?spec.x.orValue(0)``), the strings
library (version 2) -- its quantity library, and kubeops' ``sha256``/``canonical``.  Compiling type-checks, so an
unknown variable or ``size(1)`` fails when a rule is loaded, not when it fires.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from cel_expr_python import cel  # type: ignore[import-untyped]
from cel_expr_python.ext import ext_optional, ext_strings  # type: ignore[import-untyped]

from kubeops.cel import content, quantity
from kubeops.cel.errors import CelError, CelEvaluationError

__all__ = ["VARIABLES", "Program", "compile"]

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


@functools.cache
def _environment(variables: tuple[str, ...]) -> Any:
    return cel.NewEnv(
        variables=dict.fromkeys(variables, cel.Type.DYN),
        extensions=[ext_optional.ExtOptional(), ext_strings.ExtStrings(2)],
        functions=quantity.declarations() + content.declarations(),
    )


def _json_shaped(value: Any) -> Any:
    """``value`` with every Mapping a dict and every tuple a list (what cel-cpp converts)."""
    if isinstance(value, Mapping):
        return {k: _json_shaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_shaped(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """A result as plain Python: quantities as their canonical text, bytes as bytes."""
    if isinstance(value, dict):
        if len(value) == 1 and quantity.TAG in value:
            return str(quantity.from_cel(value))
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, cel.Type):
        return value.name().lower()
    return value


class Program:
    """A compiled expression: evaluate it as often as needed (one thread at a time)."""

    __slots__ = ("_compiled", "expression", "variables")

    def __init__(self, expression: str, variables: tuple[str, ...], compiled: Any) -> None:
        self.expression = expression
        self.variables = variables
        self._compiled = compiled

    def __repr__(self) -> str:
        return f"Program({self.expression!r})"

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """The expression's value over ``activation`` (JSON-shaped values), as plain Python.

        Timestamps come back as aware datetimes, durations as timedeltas.  A missing key,
        a field of null, a type mismatch: :class:`CelEvaluationError`, one line.
        """
        value = self._compiled.eval(data=activation)
        if value.type() == _ERROR and "Non-CEL value type" in str(value):
            # Python callers may hand over tuples or read-only mappings: retry as JSON shapes.
            value = self._compiled.eval(data=_json_shaped(activation))
        try:
            result = value.plain_value()
        except TypeError:  # an optional (cel-expr-python types it as an error)
            raise CelEvaluationError(
                self.expression,
                "the result has no plain value (an optional? end it with .orValue(default))",
            ) from None
        if value.type() == _ERROR:
            raise CelEvaluationError(self.expression, _reword(str(result)))
        return result if isinstance(result, bool | int | str | float) else _plain(result)

    def matches(self, activation: Mapping[str, Any]) -> bool:
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


def compile(expression: str, *, variables: Iterable[str] = VARIABLES) -> Program:
    """``expression`` compiled and type-checked for ``variables``; cached by its text.

    Raises :class:`CelError` naming the expression and the cause (with its column).
    """
    return _compiled(expression, tuple(sorted(set(variables))))


@functools.lru_cache(maxsize=4096)
def _compiled(expression: str, variables: tuple[str, ...]) -> Program:
    if not isinstance(expression, str):
        raise CelError(
            repr(expression), f"an expression is a string, not {type(expression).__name__}"
        )
    try:
        compiled = _environment(variables).compile(expression)
    except RuntimeError as error:
        raise CelError(expression, _compile_cause(str(error))) from None
    return Program(expression, variables, compiled)
