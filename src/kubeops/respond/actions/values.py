"""Action settings as rules write them: ``${<CEL>}`` values and checked parameters.

Any string in an action's settings may hold ``${<CEL>}``: a string that is one
such expression alone takes the expression's value as it is (a number stays a
number: ``replicas: "${payload.replicas}"``); inside a longer string each one is
replaced by its text (``"web ${object.metadata.name} crashed"``); ``$${`` writes
a literal ``${``.  Expressions are compiled when the rules load, so a bad one is
reported then, and evaluated over :meth:`Event.as_activation` when the action is
planned.

:class:`Params` reads one action's settings, checking each the same way at load
time (a value still to be computed is accepted as a placeholder) and at plan
time (every value known), so the two cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeops import cel
from kubeops.respond.action import ActionSpecError

__all__ = ["Params", "Template", "compile_values", "has_templates", "render"]


@dataclass(frozen=True)
class Template:
    """A string with ``${<CEL>}`` parts, compiled; :meth:`render` evaluates it."""

    text: str
    parts: tuple[str | cel.Program, ...]
    """Literal strings and compiled programs, in order."""

    def render(self, activation: Mapping[str, Any]) -> Any:
        """The value of a lone expression, or the string with each expression's text."""
        if len(self.parts) == 1 and not isinstance(self.parts[0], str):
            return _plain(self.parts[0].evaluate(dict(activation)))
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_text(_plain(part.evaluate(dict(activation)))))
        return "".join(out)


def _plain(value: Any) -> Any:
    """CEL results as plain Python (a CEL library may return its own int/str/map types)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _split(text: str, field: str) -> list[str | tuple[str]]:
    """``text`` as literal strings and ``(expression,)`` tuples."""
    parts: list[str | tuple[str]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
            continue
        if not text.startswith("${", i):
            literal.append(text[i])
            i += 1
            continue
        end = _closing(text, i + 2)
        if end < 0:
            raise ActionSpecError(f"{field}: unclosed ${{ in {text!r}")
        expression = text[i + 2 : end].strip()
        if not expression:
            raise ActionSpecError(f"{field}: empty ${{}} in {text!r}")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append((expression,))
        i = end + 1
    if literal:
        parts.append("".join(literal))
    return parts


def _closing(text: str, start: int) -> int:
    """Where the ``}`` closing an expression stands (braces and quotes inside skipped)."""
    depth, quote, i = 0, "", start
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _compile(expression: str, field: str) -> Any:
    try:
        return cel.compile(expression)
    except cel.CelError as err:
        raise ActionSpecError(f"{field}: {err}") from None


def compile_values(value: Any, field: str = "") -> Any:
    """``value`` with every string holding ``${...}`` replaced by its :class:`Template`."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        parts = _split(value, field or "value")
        if all(isinstance(p, str) for p in parts):
            return "".join(p for p in parts if isinstance(p, str))
        compiled = tuple(p if isinstance(p, str) else _compile(p[0], field) for p in parts)
        return Template(value, compiled)
    if isinstance(value, Mapping):
        return {k: compile_values(v, _join(field, str(k))) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [compile_values(v, f"{field}[{i}]") for i, v in enumerate(value)]
    return value


def has_templates(value: Any) -> bool:
    """Whether ``value`` (compiled) still has something to evaluate."""
    if isinstance(value, Template):
        return True
    if isinstance(value, Mapping):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_templates(v) for v in value)
    return False


class RenderError(ActionSpecError):
    """A ``${...}`` value could not be evaluated for this event."""


def render(value: Any, activation: Mapping[str, Any], field: str = "") -> Any:
    """``value`` (compiled) with every template evaluated over ``activation``."""
    if isinstance(value, Template):
        try:
            return value.render(activation)
        except cel.CelError as err:
            raise RenderError(f"{field or 'value'}: {err}") from err
    if isinstance(value, Mapping):
        return {k: render(v, activation, _join(field, str(k))) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [render(v, activation, f"{field}[{i}]") for i, v in enumerate(value)]
    return value


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


# -- checked parameters --------------------------------------------------------------------


class Params:
    """One action's settings, read and checked; see the module doc.

    Each reader names the field in its error (``max: must be a whole number``);
    :meth:`done` refuses keys no reader asked for.  A value that is still a
    template (at load time) is accepted and read as the given placeholder, and
    :meth:`known` tells whether a value was really there to check across fields.
    """

    def __init__(self, params: Mapping[str, Any], prefix: str = "") -> None:
        if not isinstance(params, Mapping):
            raise ActionSpecError(f"{prefix or 'settings'}: must be a mapping, not {_type(params)}")
        self.params = params
        self.prefix = prefix
        self.seen: set[str] = set()
        self.deferred: set[str] = set()

    def field(self, key: str) -> str:
        """The field's name in messages."""
        return _join(self.prefix, key)

    def fail(self, key: str, cause: str) -> ActionSpecError:
        """The error for ``key``."""
        return ActionSpecError(f"{self.field(key)}: {cause}")

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        value = self.params.get(key)
        if value is None and required:
            raise self.fail(key, "is required")
        if has_templates(value):
            self.deferred.add(key)
        return value

    def known(self, *keys: str) -> bool:
        """Whether every one of ``keys`` has a value known now (not a template)."""
        return not any(k in self.deferred for k in keys)

    def has(self, key: str) -> bool:
        """Whether ``key`` is set."""
        return self.params.get(key) is not None

    def raw(self, key: str, *, required: bool = False) -> Any:
        """The value as it is (maps, lists, manifests)."""
        return self._get(key, required)

    def string(self, key: str, *, required: bool = False, default: str = "") -> str:
        """A non-empty string."""
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, Template):
            return "<computed>"
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, not {_show(value)}")
        return value

    def choice(self, key: str, choices: Sequence[str], default: str) -> str:
        """One of ``choices``."""
        value = self.string(key, default=default)
        if key in self.deferred:
            return default
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def integer(
        self, key: str, *, required: bool = False, default: int | None = None, minimum: int = 0
    ) -> int | None:
        """A whole number, at least ``minimum``."""
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, Template):
            return minimum
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, not {_show(value)}")
        if value < minimum:
            raise self.fail(key, f"must be {minimum} or more, not {value}")
        return value

    def number(self, key: str, *, required: bool = False, positive: bool = False) -> float | None:
        """A number (``positive``: above zero)."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, Template):
            return 1.0
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.fail(key, f"must be a number, not {_show(value)}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise self.fail(key, f"must be a number, not {_show(value)}")
        if positive and value <= 0:
            raise self.fail(key, f"must be greater than 0, not {value}")
        return float(value)

    def boolean(self, key: str, default: bool = False) -> bool:
        """true or false."""
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, Template):
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_show(value)}")
        return value

    def mapping(self, key: str, *, required: bool = False) -> Mapping[str, Any] | None:
        """A mapping."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, Template):
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping, not {_show(value)}")
        return value

    def string_map(
        self, key: str, *, required: bool = False, allow_null: bool = False
    ) -> dict[str, str | None]:
        """A mapping of strings to strings (``allow_null``: or null, to remove a key)."""
        value = self.mapping(key, required=required)
        if value is None:
            return {}
        if required and not value and key not in self.deferred:
            raise self.fail(key, "must not be empty")
        out: dict[str, str | None] = {}
        for name, item in value.items():
            if not isinstance(name, str) or not name:
                raise self.fail(key, f"keys must be non-empty strings, not {_show(name)}")
            if isinstance(item, Template):
                out[name] = "<computed>"
            elif item is None and allow_null:
                out[name] = None
            elif isinstance(item, bool):
                out[name] = "true" if item else "false"
            elif isinstance(item, (str, int, float)):
                out[name] = str(item)
            else:
                raise self.fail(f"{key}.{name}", f"must be a string, not {_show(item)}")
        return out

    def nested(self, key: str, *, required: bool = False) -> Params | None:
        """The mapping at ``key``, as :class:`Params` of its own."""
        value = self._get(key, required)
        if value is None:
            return None
        return Params(value if not isinstance(value, Template) else {}, self.field(key))

    def done(self) -> None:
        """Refuse keys no reader asked for."""
        unknown = sorted(str(k) for k in self.params if k not in self.seen)
        if unknown:
            known = ", ".join(sorted(self.seen)) or "none"
            raise self.fail(unknown[0], f"unknown setting (known: {known})")


def _type(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    if isinstance(value, (Mapping, list, tuple)):
        return _type(value)
    return repr(value)
