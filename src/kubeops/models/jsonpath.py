"""JSONPath as kubectl reads it, for ``kubectl wait --for=jsonpath=...`` and friends.

The subset of Kubernetes' JSONPath that selecting one value from an object
needs: fields (``.a.b``, ``['a.b']``, ``a\\.b``), indexes and slices (``[0]``,
``[-1]``, ``[1:3]``), wildcards (``[*]``, ``.*``), recursive descent (``..name``)
and filters (``[?(@.type=="Ready")]``), with kubectl's relaxed form (the braces
and the leading dot are optional).  A missing field selects nothing rather than
failing, and :func:`jsonpath_text` prints a value as kubectl compares it (Go's
``%v``)::

    JSONPath.parse("{.status.readyReplicas}").find(deployment)   # [3]
    jsonpath_find(pod, '{.status.conditions[?(@.type=="Ready")].status}')   # ["True"]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeops.errors import KubeopsError

__all__ = ["JSONPath", "JSONPathError", "jsonpath_find", "jsonpath_text"]


class JSONPathError(KubeopsError, ValueError):
    """A JSONPath expression that cannot be parsed, or that matches no single plain value."""


_Step = tuple[str, Any]
_FILTER = re.compile(r"^\s*@((?:\.[^\s=!<>]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*$")


@dataclass(frozen=True)
class JSONPath:
    """A parsed expression: parse once (errors show at once), then ``find`` in many objects."""

    expression: str
    steps: tuple[_Step, ...] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, expression: str) -> JSONPath:
        """Parse ``expression`` (braces and leading dot optional); :class:`JSONPathError` if invalid."""
        return cls(expression, tuple(_parse_path(expression)))

    def find(self, obj: Any) -> list[Any]:
        """Every value the expression selects in ``obj``; a missing field selects nothing."""
        values = [obj]
        for step in self.steps:
            values = _descend(values, step)
        return values

    def __str__(self) -> str:
        return self.expression


def jsonpath_find(obj: Any, expression: str) -> list[Any]:
    """Every value ``expression`` (kubectl's JSONPath, braces optional) selects in ``obj``.

    Missing fields select nothing rather than failing, as with ``kubectl wait``.
    """
    return JSONPath.parse(expression).find(obj)


def _relaxed(expression: str) -> str:
    """kubectl's relaxed form: the braces and the leading dot are optional."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if not text.startswith(".") and not text.startswith("["):
        text = "." + text
    if text in (".", ""):
        raise JSONPathError(f"invalid JSONPath {expression!r}: it names no field")
    return text


def _parse_path(expression: str) -> list[_Step]:
    text = _relaxed(expression)
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("..", i):
            i += 2
            name, i = _read_name(text, i)
            if not name:
                raise JSONPathError(f"invalid JSONPath {expression!r}: '..' needs a field name")
            steps.append(("recursive", name))
        elif char == ".":
            name, i = _read_name(text, i + 1)
            if not name:
                raise JSONPathError(f"invalid JSONPath {expression!r}: empty field at {i}")
            steps.append(("all", None) if name == "*" else ("field", name))
        elif char == "[":
            end = _closing_bracket(text, i, expression)
            steps.append(_bracket(text[i + 1 : end].strip(), expression))
            i = end + 1
        else:
            raise JSONPathError(f"invalid JSONPath {expression!r}: unexpected {char!r} at {i}")
    return steps


def _read_name(text: str, i: int) -> tuple[str, int]:
    name: list[str] = []
    while i < len(text) and text[i] not in ".[":
        if text[i] == "\\" and i + 1 < len(text):
            name.append(text[i + 1])
            i += 2
            continue
        name.append(text[i])
        i += 1
    return "".join(name), i


def _closing_bracket(text: str, start: int, expression: str) -> int:
    depth, quote = 0, ""
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0 and char == "]":
                return i
    raise JSONPathError(f"invalid JSONPath {expression!r}: unclosed '[' at {start}")


def _bracket(inner: str, expression: str) -> _Step:
    if inner == "*":
        return ("all", None)
    if inner[:1] in "'\"" and inner[-1:] == inner[:1] and len(inner) >= 2:
        return ("field", inner[1:-1])
    if inner.startswith("?(") and inner.endswith(")"):
        match = _FILTER.match(inner[2:-1])
        if not match:
            raise JSONPathError(f"invalid JSONPath {expression!r}: unsupported filter [{inner}]")
        path = [p for p in match.group(1).split(".") if p]
        literal = match.group(3)
        return ("filter", (path, match.group(2), _literal(literal) if literal else None))
    try:
        if ":" in inner:
            parts = [int(p) if p.strip() else None for p in inner.split(":")]
            if len(parts) > 3:
                raise ValueError
            return ("slice", slice(*parts))
        return ("index", int(inner))
    except ValueError:
        raise JSONPathError(f"invalid JSONPath {expression!r}: unsupported [{inner}]") from None


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "'\"" and text[-1:] == text[:1] and len(text) >= 2:
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _compare(value: Any, operator: str, literal: Any) -> bool:
    if isinstance(value, bool) or isinstance(literal, bool):
        equal = value == literal
        return equal if operator == "==" else (not equal if operator == "!=" else False)
    if isinstance(literal, int | float) and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return operator == "!="
    if isinstance(literal, str) and isinstance(value, int | float):
        value = jsonpath_text(value)
    try:
        return bool(
            {
                "==": lambda: value == literal,
                "!=": lambda: value != literal,
                "<": lambda: value < literal,
                ">": lambda: value > literal,
                "<=": lambda: value <= literal,
                ">=": lambda: value >= literal,
            }[operator]()
        )
    except TypeError:
        return False


def _descend(values: list[Any], step: _Step) -> list[Any]:
    kind, arg = step
    found: list[Any] = []
    for value in values:
        if kind == "field":
            if isinstance(value, Mapping) and arg in value:
                found.append(value[arg])
        elif kind == "all":
            if isinstance(value, Mapping):
                found.extend(value.values())
            elif isinstance(value, list):
                found.extend(value)
        elif kind == "index":
            if isinstance(value, list) and -len(value) <= arg < len(value):
                found.append(value[arg])
        elif kind == "slice":
            if isinstance(value, list):
                found.extend(value[arg])
        elif kind == "recursive":
            found.extend(_recursive(value, arg))
        elif kind == "filter":
            path, operator, literal = arg
            items = value if isinstance(value, list) else []
            for item in items:
                selected = [item]
                for name in path:
                    selected = _descend(selected, ("field", name))
                if not selected:
                    continue
                if operator is None or _compare(selected[0], operator, literal):
                    found.append(item)
    return found


def _recursive(value: Any, name: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(value, Mapping):
        if name in value:
            found.append(value[name])
        for child in value.values():
            found.extend(_recursive(child, name))
    elif isinstance(value, list):
        for child in value:
            found.extend(_recursive(child, name))
    return found


def jsonpath_text(value: Any) -> str:
    """A JSON scalar as Go's ``%v`` prints it (what kubectl compares against)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)
