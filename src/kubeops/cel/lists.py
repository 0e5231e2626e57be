"""Kubernetes' CEL lists library: ``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``, ``lastIndexOf``.

As k8s.io/apiserver's ``library.Lists`` (version 0; ``includes`` came with 1.37's
version 1, which the API server does not yet accept in new expressions).  Elements
compare as cel-go compares them: numbers across int, uint and double by value; two
values that do not compare (``[1, 'a']``) count as in order, as in cel-go.  The
typed overloads are the checker's; one implementation serves them all (see
kubeops.cel.overloads), so ``[].sum()`` is ``0`` whatever the list's element type,
and a sum or minimum of durations, timestamps or uints is not supported by
cel-expr-python (an evaluation error, or an int for uints).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.overloads import Fn, method

__all__ = ["indexes", "overloads"]

_T = cel.Type
_INT64: Final = 2**63
_COMPARABLE: Final = (
    ("int", _T.INT),
    ("uint", _T.UINT),
    ("double", _T.DOUBLE),
    ("bool", _T.BOOL),
    ("duration", _T.DURATION),
    ("timestamp", _T.TIMESTAMP),
    ("string", _T.STRING),
    ("bytes", _T.BYTES),
)
_SUMMABLE: Final = (
    ("int", _T.INT),
    ("uint", _T.UINT),
    ("double", _T.DOUBLE),
    ("duration", _T.DURATION),
)
_NUMBER = (int, float)


def _rank(value: object) -> type | None:
    """The class of values ``value`` compares with (bool apart from numbers)."""
    if isinstance(value, bool):
        return bool
    if isinstance(value, _NUMBER):
        return float
    for kind in (str, bytes, bytearray, timedelta, datetime):
        if isinstance(value, kind):
            return bytes if kind is bytearray else kind
    return None


def _greater(left: Any, right: Any) -> bool:
    """cel-go's ``left.Compare(right) == 1``; values that do not compare are not greater."""
    rank = _rank(left)
    if rank is None or rank is not _rank(right):
        return False
    return bool(left > right)


def _is_sorted(items: Sequence[Any]) -> bool:
    return not any(_greater(a, b) for a, b in itertools.pairwise(items))


def _extreme(name: str, items: Sequence[Any], prefer_next: bool) -> Any:
    if not items:
        raise ValueError(f"{name} called on empty list")
    result = items[0]
    for item in items[1:]:
        if _greater(result, item) if prefer_next else _greater(item, result):
            result = item
    return result


def _sum(items: Sequence[Any]) -> Any:
    if not items:
        return 0
    total = items[0]
    for item in items[1:]:
        if type(total) is not type(item) and not (
            isinstance(total, _NUMBER) and isinstance(item, _NUMBER)
        ):
            raise ValueError(f"no such overload: cannot add {_name(total)} and {_name(item)}")
        total = total + item
    if isinstance(total, int) and not -_INT64 <= total < _INT64:
        raise ValueError("integer overflow")
    return total


def _name(value: object) -> str:
    return type(value).__name__


def indexes(items: Sequence[Any], item: Any) -> list[int]:
    """The positions where ``item`` is in ``items``, CEL equality (``1 == 1.0``)."""
    return [i for i, x in enumerate(items) if _equal(x, item)]


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, _NUMBER) and isinstance(right, _NUMBER):
        return bool(left == right)
    if isinstance(left, bytes | bytearray) and isinstance(right, bytes | bytearray):
        return bytes(left) == bytes(right)
    return type(left) is type(right) and bool(left == right)


def _index_of(items: Sequence[Any], item: Any) -> int:
    found = indexes(items, item)
    return found[0] if found else -1


def _last_index_of(items: Sequence[Any], item: Any) -> int:
    found = indexes(items, item)
    return found[-1] if found else -1


def overloads() -> list[Fn]:
    """The library's overloads, one per element type as Kubernetes declares them."""
    result = []
    for name, kind in _COMPARABLE:
        listed = _T.List(kind)
        result += [
            method("isSorted", f"list_{name}_is_sorted_bool", _T.BOOL, [listed], _is_sorted),
            method(
                "min",
                f"list_{name}_min_{name}",
                kind,
                [listed],
                lambda xs: _extreme("min", xs, True),
            ),
            method(
                "max",
                f"list_{name}_max_{name}",
                kind,
                [listed],
                lambda xs: _extreme("max", xs, False),
            ),
        ]
    for name, kind in _SUMMABLE:
        result.append(method("sum", f"list_{name}_sum_{name}", kind, [_T.List(kind)], _sum))
    return result


def extension_overloads() -> list[Fn]:
    """``indexOf``/``lastIndexOf``: names the strings extension declares too (see program)."""
    listed = _T.List(_T.DYN)
    return [
        method("indexOf", "list_a_index_of_int", _T.INT, [listed, _T.DYN], _index_of),
        method("lastIndexOf", "list_a_last_index_of_int", _T.INT, [listed, _T.DYN], _last_index_of),
    ]
