"""Resource quantities ("500m", "1Gi", "1e3") that parse, compare and print as Kubernetes does.

Requests, limits, capacities and quotas are quantities.  Reports add them up and
compare them with what the API server stored, so kubeops reproduces the
semantics of apimachinery's ``resource.Quantity``: the accepted syntax, the
rounding of everything finer than a nano-unit *up* to the next nano-unit, the
three format families (``DecimalSI``, ``BinarySI``, ``DecimalExponent``) and the
canonical form the API server writes back.  Values are exact integers of
nano-units underneath; floats appear only when asked for.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final, NoReturn

from kubeops.errors import KubeopsError

__all__ = [
    "Quantity",
    "QuantityError",
    "QuantityFormat",
    "bytes_",
    "cpu_cores",
    "parse_quantity",
]


class QuantityError(KubeopsError, ValueError):
    """A string is not a quantity, or a value cannot become one."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid quantity {text!r}: {reason}")


class QuantityFormat(StrEnum):
    """How a quantity is written; the values are Kubernetes' own names."""

    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
    BINARY_SI = "BinarySI"  # 12Mi, 12 * 2**20
    DECIMAL_SI = "DecimalSI"  # 12M, 12 * 10**6


_NANO: Final = 10**9
# Kubernetes caps BinarySI values at the int64 maximum when it parses them.
_BINARY_MAX_NANOS: Final = (2**63 - 1) * _NANO
_DECIMAL_SUFFIXES: Final = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT: Final = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER: Final = {exp // 10: suffix for suffix, exp in _BINARY_SUFFIXES.items()}
_MAX_BINARY_POWER: Final = max(_BINARY_BY_POWER)
_EXPONENT: Final = re.compile(r"[eE][+-]?[0-9]+")
_INT64_MAX: Final = 2**63 - 1
# Python refuses to convert ints of more than 4300 digits to and from text;
# these limits keep every quantity far below that, and far beyond any real one.
_MAX_DIGITS: Final = 1000
_MAX_INTEGER_DIGITS: Final = 1000
_SUFFIX_HELP: Final = (
    "expected a decimal suffix (n, u, m, k, M, G, T, P, E), a binary suffix "
    "(Ki, Mi, Gi, Ti, Pi, Ei) or an exponent (e3, E-6)"
)


def _fail(text: str, reason: str) -> NoReturn:
    raise QuantityError(text, reason)


def _split_number(text: str) -> tuple[bool, str, str, str]:
    """``text`` as (negative, integer digits, fraction digits, suffix), checking the syntax."""
    if text == "":
        _fail(text, "an empty string is not a quantity")
    for pos, char in enumerate(text):
        if char.isspace():
            _fail(text, f"whitespace at position {pos}; a quantity is written without spaces")
    pos = 0
    negative = text[0] == "-"
    if text[0] in "+-":
        pos = 1
    start = pos
    while pos < len(text) and "0" <= text[pos] <= "9":
        pos += 1
    integer = text[start:pos]
    fraction = ""
    if pos < len(text) and text[pos] == ".":
        pos += 1
        start = pos
        while pos < len(text) and "0" <= text[pos] <= "9":
            pos += 1
        fraction = text[start:pos]
    suffix = text[pos:]
    if not integer and not fraction:
        known = (
            suffix in _DECIMAL_SUFFIXES or suffix in _BINARY_SUFFIXES or _EXPONENT.fullmatch(suffix)
        )
        if suffix and known:
            _fail(text, f"no number before the suffix {suffix!r}")
        _fail(text, "expected a number such as 1, 0.5, 500m or 1Gi")
    if suffix and not suffix[0].isalpha():
        if suffix[0] == ".":
            _fail(text, f"a second decimal point at position {pos}")
        _fail(text, f"unexpected {suffix[0]!r} at position {pos}")
    return negative, integer, fraction, suffix


def _interpret_suffix(text: str, suffix: str) -> tuple[int, int, QuantityFormat]:
    """The suffix as (base, exponent, format)."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], QuantityFormat.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], QuantityFormat.BINARY_SI
    if _EXPONENT.fullmatch(suffix):
        exponent = int(suffix[1:])
        if abs(exponent) > _INT64_MAX:
            _fail(text, f"the exponent in {suffix!r} is out of range")
        return 10, exponent, QuantityFormat.DECIMAL_EXPONENT
    _fail(text, f"unknown suffix {suffix!r}; {_SUFFIX_HELP}")


def _ceil_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded up, for non-negative operands."""
    return -(-numerator // denominator)


def _parse(text: str) -> tuple[int, QuantityFormat]:
    """``text`` as (nano-units, format), rounded and capped as Kubernetes does."""
    negative, integer, fraction, suffix = _split_number(text)
    base, exponent, fmt = _interpret_suffix(text, suffix)
    # Zeros that cannot change the value are dropped before the digit limit applies.
    fraction = fraction.rstrip("0")
    digits = (integer + fraction).lstrip("0")
    if len(digits) > _MAX_DIGITS:
        _fail(text, f"more than {_MAX_DIGITS} significant digits")
    mantissa = int(digits) if digits else 0
    if mantissa == 0:
        nanos = 0
    elif base == 2:
        # Everything finer than one nano-unit rounds up, away from zero.
        nanos = min(
            _ceil_div(mantissa * 2**exponent * _NANO, 10 ** len(fraction)), _BINARY_MAX_NANOS
        )
    else:
        shift = exponent - len(fraction) + 9
        if shift >= 0:
            if len(digits) + shift - 9 > _MAX_INTEGER_DIGITS:
                _fail(
                    text, f"out of range: more than {_MAX_INTEGER_DIGITS} digits before the point"
                )
            nanos = mantissa * 10**shift
        elif -shift > len(digits):
            nanos = 1  # a positive value below one nano-unit
        else:
            nanos = _ceil_div(mantissa, 10**-shift)
    # A fraction of one is not written in binary units (Kubernetes switches here too).
    if fmt is QuantityFormat.BINARY_SI and 0 < nanos < _NANO:
        fmt = QuantityFormat.DECIMAL_SI
    return (-nanos if negative else nanos), fmt


def _canonical(nanos: int, fmt: QuantityFormat) -> str:
    """Kubernetes' canonical text: no fraction, no lost precision, the largest suffix."""
    if nanos == 0:
        return "0"
    sign = "-" if nanos < 0 else ""
    magnitude = abs(nanos)
    if fmt is QuantityFormat.BINARY_SI and magnitude >= 1024 * _NANO and magnitude % _NANO == 0:
        amount, power = magnitude // _NANO, 0
        # Kubernetes has no suffix above Ei; larger multiples keep it and grow the number.
        while amount % 1024 == 0 and power < _MAX_BINARY_POWER:
            amount //= 1024
            power += 1
        return f"{sign}{amount}{_BINARY_BY_POWER.get(power, '')}"
    # Binary values below 1Ki or with a fraction print as decimal SI, never rounded.
    exponent = -9
    while magnitude % 10 == 0:
        magnitude //= 10
        exponent += 1
    remainder = exponent % 3
    magnitude *= 10**remainder
    exponent -= remainder
    if fmt is QuantityFormat.DECIMAL_EXPONENT:
        return f"{sign}{magnitude}" + (f"e{exponent}" if exponent else "")
    # Kubernetes has no suffix above E and would drop the exponent; keep the value.
    if exponent > 18:
        magnitude *= 10 ** (exponent - 18)
        exponent = 18
    return f"{sign}{magnitude}{_DECIMAL_BY_EXPONENT[exponent]}"


def _round_away(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded away from zero."""
    result = _ceil_div(abs(numerator), denominator)
    return -result if numerator < 0 else result


class Quantity:
    """An exact, immutable resource quantity with its format family.

    ``Quantity("1.5Gi")``, ``Quantity(2)`` or ``Quantity("1073741824", QuantityFormat.BINARY_SI)``;
    ``format`` overrides the family the text implies, as setting ``Format`` does in Go.
    Quantities compare, hash and test equal by value across formats
    (``Quantity("1Ki") == Quantity("1024")``); ``str()`` is the canonical form.
    """

    __slots__ = ("_format", "_nanos")

    _nanos: int
    _format: QuantityFormat

    def __init__(
        self, value: str | int | Quantity = 0, format: QuantityFormat | None = None
    ) -> None:
        if isinstance(value, Quantity):
            nanos, fmt = value._nanos, value._format
        elif isinstance(value, str):
            nanos, fmt = _parse(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            nanos, fmt = value * _NANO, QuantityFormat.DECIMAL_SI
        else:
            raise TypeError(
                f"a Quantity is made from a str or an int, not {type(value).__name__}; "
                "use Quantity.from_number() for Fraction and Decimal values"
            )
        object.__setattr__(self, "_nanos", nanos)
        object.__setattr__(self, "_format", QuantityFormat(format) if format else fmt)

    @classmethod
    def _of(cls, nanos: int, fmt: QuantityFormat) -> Quantity:
        quantity = cls.__new__(cls)
        object.__setattr__(quantity, "_nanos", nanos)
        object.__setattr__(quantity, "_format", fmt)
        return quantity

    @classmethod
    def from_number(
        cls, value: int | Fraction | Decimal, format: QuantityFormat = QuantityFormat.DECIMAL_SI
    ) -> Quantity:
        """The exact ``value``, rounded up (away from zero) to a whole nano-unit as parsing does."""
        if isinstance(value, bool) or not isinstance(value, int | Fraction | Decimal):
            raise TypeError(
                f"from_number takes an int, Fraction or Decimal, not {type(value).__name__}; "
                "pass floats as strings, e.g. Quantity(str(x))"
            )
        if isinstance(value, Decimal) and not value.is_finite():
            raise QuantityError(str(value), "not a finite number")
        exact = Fraction(value) * _NANO
        return cls._of(_round_away(exact.numerator, exact.denominator), QuantityFormat(format))

    @classmethod
    def from_milli(cls, milli: int, format: QuantityFormat = QuantityFormat.DECIMAL_SI) -> Quantity:
        """``milli`` thousandths, e.g. millicores: ``Quantity.from_milli(250)`` is ``250m``."""
        return cls._of(milli * 10**6, QuantityFormat(format))

    @property
    def format(self) -> QuantityFormat:
        """The format family ``str()`` writes in (it may fall back to decimal SI, see ``str``)."""
        return self._format

    def with_format(self, format: QuantityFormat) -> Quantity:
        """The same value, written in another format family."""
        return Quantity._of(self._nanos, QuantityFormat(format))

    def is_zero(self) -> bool:
        """Whether the value is zero."""
        return self._nanos == 0

    def sign(self) -> int:
        """-1, 0 or 1."""
        return (self._nanos > 0) - (self._nanos < 0)

    def as_fraction(self) -> Fraction:
        """The exact value."""
        return Fraction(self._nanos, _NANO)

    def as_decimal(self) -> Decimal:
        """The exact value as a Decimal, without trailing zeros after the point."""
        whole, nanos = divmod(abs(self._nanos), _NANO)
        if nanos == 0:
            return Decimal(-whole if self._nanos < 0 else whole)
        magnitude, exponent = abs(self._nanos), -9
        while magnitude % 10 == 0:
            magnitude //= 10
            exponent += 1
        # Built from its digits, so no context precision can round it.
        digits = tuple(int(digit) for digit in str(magnitude))
        return Decimal((int(self._nanos < 0), digits, exponent))

    def scaled_value(self, scale: int) -> int:
        """The value in units of ``10**scale``, rounded away from zero (Kubernetes' ScaledValue)."""
        shift = scale + 9
        if shift <= 0:
            factor: int = 10**-shift
            return self._nanos * factor
        return _round_away(self._nanos, 10**shift)

    def value(self) -> int:
        """The value as an integer, rounded away from zero: ``Quantity("1.1").value() == 2``."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """The value in thousandths, rounded away from zero: ``Quantity("0.5").milli_value() == 500``."""
        return self.scaled_value(-3)

    def round_up(self, scale: int) -> Quantity:
        """The value rounded away from zero to a multiple of ``10**scale`` (Kubernetes' RoundUp).

        The API server rounds container resources to ``scale=-3`` (milli-units).
        """
        shift = scale + 9
        if shift <= 0:
            return self
        unit = 10**shift
        return Quantity._of(_round_away(self._nanos, unit) * unit, self._format)

    def __str__(self) -> str:
        return _canonical(self._nanos, self._format)

    def __repr__(self) -> str:
        text = str(self)
        nanos, fmt = _parse(text)
        if nanos != self._nanos:
            # Only binary values above the int64 cap (sums) do not parse back.
            return f"Quantity.from_number({self.value()}, QuantityFormat.{self._format.name})"
        if fmt is self._format:
            return f"Quantity({text!r})"
        return f"Quantity({text!r}, QuantityFormat.{self._format.name})"

    def __float__(self) -> float:
        try:
            return float(self.as_fraction())
        except OverflowError:  # beyond a float, as Go's AsApproximateFloat64 gives +-Inf
            return math.inf if self._nanos > 0 else -math.inf

    def __bool__(self) -> bool:
        return self._nanos != 0

    def __hash__(self) -> int:
        return hash(self._nanos)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._nanos == other._nanos
        return NotImplemented

    def __lt__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos < other._nanos
        return NotImplemented

    def __le__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos <= other._nanos
        return NotImplemented

    def __gt__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos > other._nanos
        return NotImplemented

    def __ge__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos >= other._nanos
        return NotImplemented

    # Arithmetic keeps the left operand's format, unless it is zero (as in Go):
    # so ``sum(quantities)`` is written in the format of the first addend.
    def _combine(self, other: Quantity, nanos: int) -> Quantity:
        return Quantity._of(nanos, other._format if self._nanos == 0 else self._format)

    def __add__(self, other: Quantity | int) -> Quantity:
        right = _coerce(other)
        if right is None:
            return NotImplemented
        return self._combine(right, self._nanos + right._nanos)

    def __radd__(self, other: int) -> Quantity:
        left = _coerce(other)
        if left is None:
            return NotImplemented
        return left + self

    def __sub__(self, other: Quantity | int) -> Quantity:
        right = _coerce(other)
        if right is None:
            return NotImplemented
        return self._combine(right, self._nanos - right._nanos)

    def __rsub__(self, other: int) -> Quantity:
        left = _coerce(other)
        if left is None:
            return NotImplemented
        return left - self

    def __mul__(self, factor: int) -> Quantity:
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented
        return Quantity._of(self._nanos * factor, self._format)

    __rmul__ = __mul__

    def __neg__(self) -> Quantity:
        return Quantity._of(-self._nanos, self._format)

    def __pos__(self) -> Quantity:
        return self

    def __abs__(self) -> Quantity:
        return Quantity._of(abs(self._nanos), self._format)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Quantity is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Quantity is immutable; cannot delete {name!r}")

    def __copy__(self) -> Quantity:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Quantity:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._nanos, self._format.value))


def _restore(nanos: int, fmt: str) -> Quantity:
    """Unpickles a :class:`Quantity` (pickle cannot set attributes on an immutable one)."""
    return Quantity._of(nanos, QuantityFormat(fmt))


def _coerce(value: object) -> Quantity | None:
    if isinstance(value, Quantity):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Quantity(value)
    return None


def parse_quantity(text: str) -> Quantity:
    """Parse ``text`` as Kubernetes does; raise :class:`QuantityError` naming it if it is not one."""
    if not isinstance(text, str):
        raise TypeError(f"parse_quantity takes a str, not {type(text).__name__}")
    return Quantity(text)


def cpu_cores(quantity: Quantity | str) -> float:
    """A CPU quantity in cores, for reports: ``cpu_cores("250m") == 0.25``."""
    return float(quantity if isinstance(quantity, Quantity) else parse_quantity(quantity))


def bytes_(quantity: Quantity | str) -> int:
    """A memory or storage quantity in whole bytes, rounded up: ``bytes_("1Ki") == 1024``."""
    return (quantity if isinstance(quantity, Quantity) else parse_quantity(quantity)).value()
