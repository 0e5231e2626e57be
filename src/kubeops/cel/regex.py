"""Kubernetes' CEL regex library: ``'abc 123'.find('[0-9]+')``, ``.findAll(re)``, ``.findAll(re, n)``.

As k8s.io/apiserver's ``library.Regex``: the leftmost match (``''`` when there is
none), and every match left to right, an empty match right after a match skipped
as Go's regexp does.  Patterns are RE2's, as the API server's Go regexp (and
CEL's own ``matches``) read them: google-re2, so ``(?=...)`` is refused as there.
"""

from __future__ import annotations

import functools
from typing import Any

import re2  # type: ignore[import-untyped]
from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.overloads import Fn, method

__all__ = ["find", "find_all", "overloads"]


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except re2.error as error:
        cause = error.args[0] if error.args else error
        if isinstance(cause, bytes):
            cause = cause.decode(errors="replace")
        raise ValueError(f"Illegal regex: {cause}") from None


def find(text: str, pattern: str) -> str:
    """The leftmost match of ``pattern`` in ``text``, or ``''``."""
    match = _compiled(pattern).search(text)
    return "" if match is None else str(match.group(0))


def find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    """Up to ``limit`` matches (all when negative), as Go's ``FindAllString``."""
    regex = _compiled(pattern)
    found: list[str] = []
    position, previous_end = 0, -1
    while (limit < 0 or len(found) < limit) and position <= len(text):
        match = regex.search(text, position)
        if match is None:
            break
        start, end = match.span()
        accept = True
        if end == start:
            accept = start != previous_end  # no empty match right after a match
            position = start + 1 if start >= position else position + 1
        else:
            position = end
        previous_end = end
        if accept:
            found.append(str(match.group(0)))
    return found


def overloads() -> list[Fn]:
    """The library's overloads."""
    t = cel.Type
    return [
        method("find", "string_find_string", t.STRING, [t.STRING, t.STRING], find),
        method(
            "findAll", "string_find_all_string", t.List(t.STRING), [t.STRING, t.STRING], find_all
        ),
        method(
            "findAll",
            "string_find_all_string_int",
            t.List(t.STRING),
            [t.STRING, t.STRING, t.INT],
            find_all,
        ),
    ]
