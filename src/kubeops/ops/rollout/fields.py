"""Reading an object as the API server sent it, where any field may be missing or null."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubeops.api import Object


def int_field(value: Any, default: int = 0) -> int:
    """``value`` if it is an integer (a bool is not), else ``default``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def field_at(obj: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` (``("spec", "template")``), or None where a map is missing."""
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def nested(path: Sequence[str], leaf: Object) -> Object:
    """``leaf`` wrapped in maps along ``path``: the shape of a patch that sets it."""
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf
