"""Standard CEL functions kubeops declares again, to the type checker only.

Kubernetes turns on cel-go's cross-type numeric comparisons, so ``1 < 1.5`` and
``object.spec.replicas >= 0.5`` compile and compare by value.  cel-cpp's runtime
compares across int, uint and double already, but cel-expr-python offers no option
for its type checker; so the standard library's ordering operators are left out of
the checker (``stdlib.exclude_functions``) and declared here with the cross-type
overloads added, none with an implementation: the runtime's own run.  ``string``
is declared again the same way, so the IP and CIDR libraries can add theirs.
Equality across number types (``1 == 1.0``) stays a type error, as in Kubernetes.
"""

from __future__ import annotations

from typing import Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.overloads import Fn, fn

__all__ = ["REDECLARED", "overloads"]

REDECLARED: Final = ("_<_", "_<=_", "_>_", "_>=_", "string")
"""The standard functions taken out of the checker's standard library and declared here."""

_T = cel.Type
_ORDERED: Final = (
    ("bool", _T.BOOL),
    ("int64", _T.INT),
    ("uint64", _T.UINT),
    ("double", _T.DOUBLE),
    ("string", _T.STRING),
    ("bytes", _T.BYTES),
    ("timestamp", _T.TIMESTAMP),
    ("duration", _T.DURATION),
)
_NUMBERS: Final = (("int64", _T.INT), ("uint64", _T.UINT), ("double", _T.DOUBLE))
_OPERATORS: Final = (
    ("_<_", "less"),
    ("_<=_", "less_equals"),
    ("_>_", "greater"),
    ("_>=_", "greater_equals"),
)
_TO_STRING: Final = (
    ("string_to_string", _T.STRING),
    ("bool_to_string", _T.BOOL),
    ("int64_to_string", _T.INT),
    ("uint64_to_string", _T.UINT),
    ("double_to_string", _T.DOUBLE),
    ("bytes_to_string", _T.BYTES),
    ("timestamp_to_string", _T.TIMESTAMP),
    ("duration_to_string", _T.DURATION),
)


def overloads() -> list[Fn]:
    """The redeclared standard overloads (no implementations: the runtime has them)."""
    result = []
    for operator, word in _OPERATORS:
        for name, kind in _ORDERED:
            result.append(fn(operator, f"{word}_{name}", _T.BOOL, [kind, kind], None))
        for left, a in _NUMBERS:
            for right, b in _NUMBERS:
                if left != right:
                    result.append(fn(operator, f"{word}_{left}_{right}", _T.BOOL, [a, b], None))
    result += [fn("string", id, _T.STRING, [kind], None) for id, kind in _TO_STRING]
    return result
