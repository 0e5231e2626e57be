"""Kubernetes' CEL quantity library (``quantity('500m').isLessThan(quantity('1'))``).

The functions and their results are those of k8s.io/apiserver's ``library.Quantity``;
the arithmetic is kubeops.models' :class:`Quantity`.  cel-expr-python cannot carry an
opaque Python value through an expression, so a quantity travels as a one-key map
``{"kubernetes.Quantity": "<value in nano-units>"}``: two quantities of the same
value are then ``==`` as in Kubernetes (``quantity('1') == quantity('1000m')``), and
a misuse such as ``quantity('1').isLessThan(1)`` is a type error when compiled.  The
price: type errors name ``map(string, string)``, and a quantity handed back by
``evaluate()`` is its canonical decimal form (the format family is not kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.cel.overloads import Fn, Opaque, fn, method, register
from kubeops.models.quantity import Quantity, QuantityError

__all__ = ["QUANTITY", "TAG", "from_cel", "overloads", "to_cel"]

TAG: Final = "kubernetes.Quantity"
QUANTITY: Final = register(
    Opaque(
        TAG,
        cel.Type.Map(cel.Type.STRING, cel.Type.STRING),
        TAG,
        show=lambda n: str(from_cel({TAG: n})),
    )
)
_NANO: Final = 10**9
_INT64: Final = 2**63


def to_cel(quantity: Quantity) -> dict[str, str]:
    """The map standing for ``quantity`` inside an expression."""
    return {TAG: str(quantity.scaled_value(-9))}


def from_cel(value: object) -> Quantity:
    """The quantity a tagged map stands for; ValueError for any other value."""
    if isinstance(value, Mapping) and len(value) == 1 and TAG in value:
        return Quantity.from_number(Fraction(int(value[TAG]), _NANO))
    raise ValueError(f"expected a quantity, got {type(value).__name__}")


_SHAPE: Final = re.compile(r"[+-]?[0-9]*(?:\.[0-9]*)?[eEinumkKMGTP]*[-+]?[0-9]*")
_FORMAT_WRONG: Final = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def _parse(text: str) -> dict[str, str]:
    """``quantity(text)``; a bad one fails in the words of apimachinery's ``ParseQuantity``."""
    try:
        return to_cel(Quantity(text))
    except QuantityError:
        if not text or not _SHAPE.fullmatch(text):
            raise ValueError(_FORMAT_WRONG) from None
        raise ValueError("unable to parse quantity's suffix") from None


def _is_quantity(text: str) -> bool:
    try:
        Quantity(text)
    except QuantityError:
        return False
    return True


def _as_integer(value: object) -> int:
    quantity = from_cel(value)
    exact = quantity.as_fraction()
    if exact.denominator != 1 or not -_INT64 <= exact.numerator < _INT64:
        raise ValueError("cannot convert value to integer")  # the API server's words
    return exact.numerator


def _is_integer(value: object) -> bool:
    exact = from_cel(value).as_fraction()
    return exact.denominator == 1 and -_INT64 <= exact.numerator < _INT64


def _compare(left: object, right: object) -> int:
    a, b = from_cel(left), from_cel(right)
    return (a > b) - (a < b)


def _add(left: object, right: object) -> dict[str, str]:
    other = right if isinstance(right, int) else from_cel(right)
    return to_cel(from_cel(left) + other)


def _sub(left: object, right: object) -> dict[str, str]:
    other = right if isinstance(right, int) else from_cel(right)
    return to_cel(from_cel(left) - other)


def overloads() -> list[Fn]:
    """The library's overloads."""
    t = cel.Type
    q = QUANTITY.type

    def member(name: str, result: Any, params: list[Any], impl: Callable[..., Any]) -> Fn:
        return method(name, f"quantity_{name}", result, params, impl)

    return [
        fn("quantity", "string_to_quantity", q, [t.STRING], _parse),
        fn("isQuantity", "is_quantity_string", t.BOOL, [t.STRING], _is_quantity),
        member("sign", t.INT, [q], lambda v: from_cel(v).sign()),
        member("isInteger", t.BOOL, [q], _is_integer),
        member("asInteger", t.INT, [q], _as_integer),
        member("asApproximateFloat", t.DOUBLE, [q], lambda v: float(from_cel(v))),
        method("add", "quantity_add", q, [q, q], _add),
        method("add", "quantity_add_int", q, [q, t.INT], _add),
        method("sub", "quantity_sub", q, [q, q], _sub),
        method("sub", "quantity_sub_int", q, [q, t.INT], _sub),
        method("isLessThan", "quantity_less", t.BOOL, [q, q], lambda a, b: _compare(a, b) < 0),
        method(
            "isGreaterThan", "quantity_greater", t.BOOL, [q, q], lambda a, b: _compare(a, b) > 0
        ),
        method("compareTo", "quantity_compare_to", t.INT, [q, q], _compare),
    ]
