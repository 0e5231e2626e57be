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

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, Final

from cel_expr_python import cel  # type: ignore[import-untyped]

from kubeops.models.quantity import Quantity, QuantityError

__all__ = ["TAG", "declarations", "from_cel", "to_cel"]

TAG: Final = "kubernetes.Quantity"
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


def _parse(text: str) -> dict[str, str]:
    try:
        return to_cel(Quantity(text))
    except QuantityError as error:
        raise ValueError(str(error)) from None


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
        raise ValueError(f"cannot convert quantity {quantity} to an integer")
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


def declarations() -> list[Any]:
    """The library's functions, declared with their overloads for cel-expr-python."""
    t = cel.Type
    q = t.Map(t.STRING, t.STRING)

    def member(name: str, result: Any, params: list[Any], impl: Callable[..., Any]) -> Any:
        return cel.Overload(f"quantity_{name}", result, params, is_member=True, impl=impl)

    return [
        cel.FunctionDecl(
            "quantity", [cel.Overload("string_to_quantity", q, [t.STRING], impl=_parse)]
        ),
        cel.FunctionDecl(
            "isQuantity",
            [cel.Overload("is_quantity_string", t.BOOL, [t.STRING], impl=_is_quantity)],
        ),
        cel.FunctionDecl("sign", [member("sign", t.INT, [q], lambda v: from_cel(v).sign())]),
        cel.FunctionDecl("isInteger", [member("is_integer", t.BOOL, [q], _is_integer)]),
        cel.FunctionDecl("asInteger", [member("as_integer", t.INT, [q], _as_integer)]),
        cel.FunctionDecl(
            "asApproximateFloat",
            [member("as_approximate_float", t.DOUBLE, [q], lambda v: float(from_cel(v)))],
        ),
        cel.FunctionDecl(
            "add", [member("add", q, [q, q], _add), member("add_int", q, [q, t.INT], _add)]
        ),
        cel.FunctionDecl(
            "sub", [member("sub", q, [q, q], _sub), member("sub_int", q, [q, t.INT], _sub)]
        ),
        cel.FunctionDecl(
            "isLessThan", [member("less", t.BOOL, [q, q], lambda a, b: _compare(a, b) < 0)]
        ),
        cel.FunctionDecl(
            "isGreaterThan", [member("greater", t.BOOL, [q, q], lambda a, b: _compare(a, b) > 0)]
        ),
        cel.FunctionDecl("compareTo", [member("compare_to", t.INT, [q, q], _compare)]),
    ]
