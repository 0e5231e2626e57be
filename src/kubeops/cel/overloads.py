"""How kubeops' CEL libraries declare their functions on cel-expr-python.

cel-cpp picks a function's implementation at run time by the *kinds* of its
arguments (list, map, string ...), not by their full types.  Kubernetes' libraries
have overloads that differ only inside a kind -- ``list(int).sum()`` and
``list(double).sum()``; quantity's and semver's ``isLessThan``, both carried as
maps -- and cel-cpp refuses a second implementation for the same kinds.  So
:func:`declare` gives the type checker every overload with its exact types but no
implementation, plus one hidden overload per group, on placeholder types no real
value has (``list(null)``, ``map(bool, null)``), whose implementation picks the
right one by the values' tags.  That hidden overload returns the group's result
type when all agree, else ``dyn``, and cel-expr-python turns only plain values
(not durations, timestamps or uints) back from ``dyn``: see docs/decisions.md
for what that leaves out.

Opaque values (an IP, a semver ...) travel as one-key maps, as quantities do;
:class:`Opaque` names one such type and recognizes its values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cel_expr_python import cel  # type: ignore[import-untyped]

__all__ = ["Fn", "Opaque", "declare", "fn", "go_quote", "method"]


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` shows it (the API server's error messages quote so)."""
    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True)
class Opaque:
    """One Kubernetes type carried as a one-key map: its name, its CEL type, its test."""

    name: str
    type: Any
    key: object
    test: Callable[[object], bool] | None = None  # more than the key tells the types apart
    show: Callable[[Any], object] | None = None  # the payload as evaluate() hands it back

    def wrap(self, payload: object) -> dict[object, object]:
        """The map standing for a value whose payload is ``payload``."""
        return {self.key: payload}

    def unwrap(self, value: object) -> Any:
        """The payload of ``value``; ValueError naming this type for anything else."""
        if isinstance(value, dict) and len(value) == 1 and self.key in value:
            return value[self.key]
        raise ValueError(f"expected a {self.name}, got {_kind(value)}")

    def holds(self, value: object) -> bool:
        """Whether ``value`` is one of this type's maps (tagged by its key)."""
        if not (isinstance(value, dict) and len(value) == 1 and self.key in value):
            return False
        return self.test is None or self.test(value[self.key])


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


@dataclass(frozen=True)
class Fn:
    """One overload: its function, id, result and parameter types, and implementation.

    ``impl`` None means the runtime has it built in (a redeclared standard function).
    """

    name: str
    id: str
    result: Any
    params: tuple[Any, ...]
    impl: Callable[..., Any] | None
    member: bool = False


def fn(
    name: str, id: str, result: Any, params: Sequence[Any], impl: Callable[..., Any] | None
) -> Fn:
    """A global overload: ``name(params...)``."""
    return Fn(name, id, result, tuple(params), impl)


def method(name: str, id: str, result: Any, params: Sequence[Any], impl: Callable[..., Any]) -> Fn:
    """A member overload: ``params[0].name(params[1:]...)``."""
    return Fn(name, id, result, tuple(params), impl, member=True)


_OPAQUE: list[Opaque] = []


def register(opaque: Opaque) -> Opaque:
    """Make ``opaque`` known to the dispatcher (each library registers its types once)."""
    if all(o.name != opaque.name for o in _OPAQUE):
        _OPAQUE.append(opaque)
    return opaque


def shown(value: object) -> tuple[bool, object]:
    """``(True, plain form)`` when ``value`` is an opaque value, else ``(False, value)``."""
    if isinstance(value, dict) and len(value) == 1:
        for opaque in _OPAQUE:
            if opaque.holds(value):
                payload = next(iter(value.values()))
                return True, opaque.show(payload) if opaque.show else payload
    return False, value


def _opaque_of(cel_type: Any) -> Opaque | None:
    for opaque in _OPAQUE:
        if opaque.type == cel_type:
            return opaque
    return None


def _kind_of(cel_type: Any) -> str:
    return str(cel_type.name()).split("<", 1)[0]


_PLACEHOLDER = {
    "LIST": cel.Type.List(cel.Type.NULL),
    "MAP": cel.Type.Map(cel.Type.BOOL, cel.Type.NULL),
}


def _dispatcher(name: str, group: Sequence[Fn]) -> Callable[..., Any]:
    tests = [
        (
            [(i, o) for i, p in enumerate(f.params) if (o := _opaque_of(p)) is not None],
            f.impl,
        )
        for f in group
    ]

    def dispatch(*args: Any) -> Any:
        for checks, impl in tests:
            if impl is not None and all(o.holds(args[i]) for i, o in checks):
                result = impl(*args)
                if isinstance(result, datetime | timedelta):
                    raise ValueError(
                        f"{name}() of durations or timestamps is not supported by kubeops' CEL"
                        " (cel-expr-python returns only plain values here)"
                    )
                return result
        raise ValueError(f"no overload of {name} for these arguments")

    return dispatch


def declare(overloads: Iterable[Fn]) -> list[Any]:
    """The ``cel.FunctionDecl`` list for ``overloads``, same-kind groups dispatched."""
    by_name: dict[str, list[Fn]] = {}
    for f in overloads:
        by_name.setdefault(f.name, []).append(f)
    declarations = []
    for name, fns in by_name.items():
        groups: dict[tuple[Any, ...], list[Fn]] = {}
        for f in fns:
            if f.impl is not None:
                key = (f.member, *(_kind_of(p) for p in f.params))
                groups.setdefault(key, []).append(f)
        decls = []
        for f in fns:
            alone = (
                f.impl is not None
                and len(groups[(f.member, *(_kind_of(p) for p in f.params))]) == 1
            )
            decls.append(
                cel.Overload(
                    f.id,
                    f.result,
                    list(f.params),
                    is_member=f.member,
                    impl=f.impl if alone else None,
                )
            )
        for (member, *kinds), group in groups.items():
            if len(group) > 1:
                params = [_PLACEHOLDER.get(k, group[0].params[i]) for i, k in enumerate(kinds)]
                # one result type for the group keeps a dyn argument's call typed (string(x))
                same = all(f.result == group[0].result for f in group)
                decls.append(
                    cel.Overload(
                        f"{group[0].id}__kubeops_dispatch",
                        group[0].result if same else cel.Type.DYN,
                        params,
                        is_member=member,
                        impl=_dispatcher(name, group),
                    )
                )
        declarations.append(cel.FunctionDecl(name, decls))
    return declarations
