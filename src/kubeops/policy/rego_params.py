"""A Gatekeeper constraint's ``spec.parameters`` checked against its template's
``openAPIV3Schema``, as the API server checks the constraint CRD Gatekeeper generates
(kubectl's strict field validation: an unknown field is an error).

Only what templates use: type, properties, additionalProperties, items, required,
enum, x-kubernetes-preserve-unknown-fields.  Each problem names the field path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def check(value: Any, schema: Mapping[str, Any], path: str = "parameters") -> list[str]:
    """Every way ``value`` breaks ``schema`` (empty when it conforms)."""
    if not isinstance(schema, Mapping) or value is None:
        return []
    problems: list[str] = []
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _TYPES:
        wanted = _TYPES[kind]
        if (isinstance(value, bool) and bool not in wanted) or not isinstance(value, wanted):
            return [f"{path}: must be {_article(kind)}, got {_name(value)}"]
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        problems.append(f"{path}: must be one of {', '.join(map(repr, enum))}, got {value!r}")
    if isinstance(value, dict):
        problems.extend(_object(value, schema, path))
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                problems.extend(check(item, items, f"{path}[{index}]"))
    return problems


def _object(value: dict[str, Any], schema: Mapping[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    open_ended = schema.get("x-kubernetes-preserve-unknown-fields") is True
    for name in schema.get("required") or []:
        if name not in value:
            problems.append(f"{path}.{name}: required")
    for key, item in value.items():
        if isinstance(properties, Mapping) and key in properties:
            problems.extend(check(item, properties[key], f"{path}.{key}"))
        elif isinstance(extra, Mapping):
            problems.extend(check(item, extra, f"{path}.{key}"))
        elif isinstance(properties, Mapping) and extra is not True and not open_ended:
            problems.append(f"{path}.{key}: unknown field")
    return problems


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _name(value: Any) -> str:
    for kind, types in _TYPES.items():
        if isinstance(value, bool) == (kind == "boolean") and isinstance(value, types):
            return kind
    return "null" if value is None else type(value).__name__
