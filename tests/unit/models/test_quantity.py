"""Quantities parse, round, compare, add and print exactly as Kubernetes' resource.Quantity."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal
from fractions import Fraction

import pytest

from kubeops.errors import KubeopsError
from kubeops.models import (
    Quantity,
    QuantityError,
    QuantityFormat,
    bytes_,
    cpu_cores,
    parse_quantity,
)
from kubeops.models.quantity import Quantity as QuantityClass

DEC = QuantityFormat.DECIMAL_SI
BIN = QuantityFormat.BINARY_SI
EXP = QuantityFormat.DECIMAL_EXPONENT
F = Fraction


@pytest.mark.parametrize(
    ("text", "value", "fmt"),
    [
        ("0", F(0), DEC),
        ("500m", F(1, 2), DEC),
        ("1", F(1), DEC),
        ("+1", F(1), DEC),
        ("-2M", F(-2_000_000), DEC),
        ("1.5", F(3, 2), DEC),
        ("100n", F(1, 10_000_000), DEC),
        ("4u", F(4, 1_000_000), DEC),
        ("8k", F(8000), DEC),
        ("6G", F(6 * 10**9), DEC),
        ("5T", F(5 * 10**12), DEC),
        ("2P", F(2 * 10**15), DEC),
        ("1E", F(10**18), DEC),
        ("1e3", F(1000), EXP),
        ("1E3", F(1000), EXP),
        ("1E-3", F(1, 1000), EXP),
        ("1.3E+6", F(1_300_000), EXP),
        ("0.5e-2", F(5, 1000), EXP),
        ("1Ki", F(1024), BIN),
        ("1Gi", F(2**30), BIN),
        ("3Ei", F(3 * 2**60), BIN),
        ("0.1Ki", F(512, 5), BIN),
        ("0.5Mi", F(2**19), BIN),
        ("100.035Ki", F(10243584, 100), BIN),
        ("007", F(7), DEC),
        (".001", F(1, 1000), DEC),
        ("1.", F(1), DEC),
        ("1.G", F(10**9), DEC),
        ("0.0005k", F(1, 2), DEC),
        ("-0", F(0), DEC),
        ("0Ki", F(0), BIN),
    ],
)
def test_parse_gives_the_exact_value_and_format_family(
    text: str, value: Fraction, fmt: QuantityFormat
) -> None:
    quantity = parse_quantity(text)
    assert quantity.as_fraction() == value
    assert quantity.format is fmt


@pytest.mark.parametrize(
    ("text", "value", "fmt"),
    [
        ("3.001n", F(4, 10**9), DEC),
        ("0.9n", F(1, 10**9), DEC),
        ("0.0000000001", F(1, 10**9), DEC),
        ("0.00000012345", F(124, 10**9), DEC),
        ("1.1E-9", F(2, 10**9), EXP),
        ("1e-1000", F(1, 10**9), EXP),
        ("-0.1n", F(-1, 10**9), DEC),
        ("-3.001n", F(-4, 10**9), DEC),
        # A binary value below one becomes decimal SI when parsed, as in Kubernetes.
        ("0.000000000001Ki", F(2, 10**9), DEC),
    ],
)
def test_values_finer_than_a_nano_unit_round_up_away_from_zero(
    text: str, value: Fraction, fmt: QuantityFormat
) -> None:
    quantity = Quantity(text)
    assert quantity.as_fraction() == value
    assert quantity.format is fmt


@pytest.mark.parametrize("text", ["9Ei", "9223372036854775807Ki", "100Ei"])
def test_binary_si_is_capped_at_the_int64_maximum_when_parsed(text: str) -> None:
    assert Quantity(text).as_fraction() == 2**63 - 1
    assert Quantity("-" + text).as_fraction() == -(2**63 - 1)


def test_decimal_si_is_not_capped() -> None:
    assert Quantity("12E").as_fraction() == 12 * 10**18


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1000m", "1"),
        ("1024Mi", "1Gi"),
        ("0.5Gi", "512Mi"),
        ("1.5", "1500m"),
        ("100m", "100m"),
        ("1.5Gi", "1536Mi"),
        ("0.9Gi", "966367641600m"),
        ("0.1Ki", "102400m"),
        ("100.035Ki", "102435840m"),
        ("300Mi", "300Mi"),
        ("307200Ki", "300Mi"),
        ("1001Gi", "1001Gi"),
        ("1024Gi", "1Ti"),
        ("1025", "1025"),
        ("2048Ki", "2Mi"),
        ("1023", "1023"),
        ("1000M", "1G"),
        ("0.001T", "1G"),
        ("1000000k", "1G"),
        ("1000u", "1m"),
        ("80m", "80m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        ("50k", "50k"),
        ("40T", "40T"),
        ("100.035k", "100035"),
        ("10.035M", "10035k"),
        ("7.123456M", "7123456"),
        ("0.30000000000000004", "300000001n"),
        ("1000000000000000000", "1E"),
        ("10000000000000000000000m", "10E"),
        ("999999999999999999.1", "999999999999999999100m"),
        ("1e3", "1e3"),
        ("10e3", "10e3"),
        ("100e2", "10e3"),
        ("12e1", "120"),
        ("0.5e0", "500e-3"),
        (".001e12", "1e9"),
        ("1000e-12", "1e-9"),
        ("1.2e3", "1200"),
        ("0", "0"),
        ("-0", "0"),
        ("0Ki", "0"),
        ("0e3", "0"),
        ("00", "0"),
        ("+1", "1"),
        ("+1Gi", "1Gi"),
        ("-1.5", "-1500m"),
        ("-1024Mi", "-1Gi"),
        ("-1Ki", "-1Ki"),
        ("-512", "-512"),
        ("1.500", "1500m"),
        ("1E", "1E"),
        ("9Ei", "9223372036854775807"),
        ("7Ei", "7Ei"),
        ("8Ei", "9223372036854775807"),
    ],
)
def test_str_is_the_kubernetes_canonical_form(text: str, canonical: str) -> None:
    assert str(Quantity(text)) == canonical


def test_decimal_si_above_exa_keeps_its_value_in_the_mantissa() -> None:
    # Kubernetes has no suffix above E; the mantissa grows instead of the value changing.
    assert str(Quantity("1000E")) == "1000E"
    assert str(Quantity("1e21").with_format(DEC)) == "1000E"
    assert Quantity(str(Quantity("1000E"))) == Quantity("1000E")


def test_binary_sums_beyond_exa_binary_keep_their_value() -> None:
    total = Quantity("4Ei") * 512
    assert str(total) == "2048Ei"
    assert total.as_fraction() == 2**71
    # Parsing would cap "2048Ei"; repr still evaluates back to the same value.
    assert eval(repr(total), {"Quantity": Quantity, "QuantityFormat": QuantityFormat}) == total


ROUND_TRIP_INPUTS = [
    "1",
    "500m",
    "1.5Gi",
    "0.1Ki",
    "1e3",
    "0.5e-2",
    "3.001n",
    "-2M",
    "123456789",
    "0.000000001",
    "1023Ki",
    "1.5e15",
    "12E",
    "1000E",
    "999Ki",
    "1025Mi",
    "-0.9Gi",
    "17e-9",
    "0",
]


@pytest.mark.parametrize("text", ROUND_TRIP_INPUTS)
def test_canonical_form_parses_back_to_itself(text: str) -> None:
    canonical = str(Quantity(text))
    again = Quantity(canonical)
    assert str(again) == canonical
    assert again == Quantity(text)


@pytest.mark.parametrize("text", ROUND_TRIP_INPUTS)
def test_repr_evaluates_back_to_an_equal_quantity_in_the_same_format(text: str) -> None:
    quantity = Quantity(text)
    again = eval(repr(quantity), {"Quantity": Quantity, "QuantityFormat": QuantityFormat})
    assert again == quantity
    assert again.format is quantity.format
    assert str(again) == str(quantity)


def test_equality_compares_values_across_formats() -> None:
    assert Quantity("1Ki") == Quantity("1024")
    assert Quantity("1e3") == Quantity("1k")
    assert Quantity("0.5") == Quantity("500m") == Quantity("500000u")
    assert Quantity("1Ki") != Quantity("1k")
    assert hash(Quantity("1Ki")) == hash(Quantity("1024"))
    assert len({Quantity("1Gi"), Quantity("1024Mi"), Quantity("1073741824")}) == 1


def test_ordering_is_total_and_across_formats() -> None:
    texts = ["1Gi", "1G", "-1", "500m", "1e3", "1Ki", "0", "1n", "1E", "1Ei"]
    ordered = sorted(Quantity(text) for text in texts)
    assert [str(q) for q in ordered] == [
        "-1",
        "0",
        "1n",
        "500m",
        "1e3",
        "1Ki",
        "1G",
        "1Gi",
        "1E",
        "1Ei",
    ]
    assert Quantity("1G") < Quantity("1Gi") <= Quantity("1024Mi") < Quantity("1.1Gi")
    assert Quantity("2") > Quantity("1999m") >= Quantity("1.999")
    assert max(Quantity("100m"), Quantity("0.2")) == Quantity("200m")


def test_quantities_do_not_equal_or_order_against_other_types() -> None:
    assert Quantity("1") != "1"
    assert Quantity("1") != 1
    with pytest.raises(TypeError):
        _ = Quantity("1") < 2  # type: ignore[operator]


def test_addition_and_subtraction_are_exact() -> None:
    assert Quantity("100m") + Quantity("200m") == Quantity("300m")
    assert Quantity("1Gi") - Quantity("512Mi") == Quantity("512Mi")
    assert Quantity("0.1") + Quantity("0.2") == Quantity("0.3")
    assert Quantity("1") - Quantity("1500m") == Quantity("-500m")
    assert Quantity("1Ki") + 1 == Quantity("1025")
    assert 2 - Quantity("500m") == Quantity("1.5")


def test_arithmetic_keeps_the_left_format_unless_the_left_is_zero() -> None:
    assert (Quantity("1Gi") + Quantity("1G")).format is BIN
    assert (Quantity("1G") + Quantity("1Gi")).format is DEC
    assert (Quantity("0") + Quantity("1Gi")).format is BIN
    assert str(Quantity("1Gi") + Quantity("1Gi")) == "2Gi"
    assert str(Quantity("3Gi") - Quantity("1Gi")) == "2Gi"
    assert str(Quantity("1Gi") + Quantity("1m")) == "1073741824001m"


def test_sum_of_quantities_is_written_in_the_first_format() -> None:
    total = sum([Quantity("512Mi"), Quantity("512Mi"), Quantity("1Gi")])
    assert isinstance(total, QuantityClass)
    assert str(total) == "2Gi"
    assert sum([Quantity("250m")] * 4) == Quantity("1")


def test_negation_abs_and_integer_multiplication() -> None:
    assert str(-Quantity("1Gi")) == "-1Gi"
    assert abs(Quantity("-500m")) == Quantity("500m")
    assert +Quantity("1") == Quantity("1")
    assert str(Quantity("250m") * 4) == "1"
    assert str(3 * Quantity("1Gi")) == "3Gi"
    with pytest.raises(TypeError):
        _ = Quantity("1") * 1.5  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "value", "milli"),
    [
        ("1", 1, 1000),
        ("1.1", 2, 1100),
        ("500m", 1, 500),
        ("1n", 1, 1),
        ("1500u", 1, 2),
        ("-1.1", -2, -1100),
        ("-1n", -1, -1),
        ("1Gi", 2**30, 2**30 * 1000),
        ("0.1Ki", 103, 102400),
        ("12E", 12 * 10**18, 12 * 10**21),
        ("0", 0, 0),
    ],
)
def test_value_and_milli_value_round_away_from_zero(text: str, value: int, milli: int) -> None:
    quantity = Quantity(text)
    assert quantity.value() == value
    assert quantity.milli_value() == milli


def test_scaled_value_uses_powers_of_ten() -> None:
    assert Quantity("1.5G").scaled_value(9) == 2
    assert Quantity("1.5G").scaled_value(6) == 1500
    assert Quantity("1").scaled_value(-9) == 10**9
    assert Quantity("1").scaled_value(-12) == 10**12


@pytest.mark.parametrize(
    ("text", "scale", "rounded"),
    [
        ("9.01", -3, "9010m"),
        ("9.01", -1, "9100m"),
        ("9.01", 0, "10"),
        ("9.01", 2, "100"),
        ("-9.01", 0, "-10"),
        ("0.30000000000000004", -3, "301m"),
        ("1n", -9, "1n"),
        ("1n", -12, "1n"),
    ],
)
def test_round_up_rounds_to_a_power_of_ten_away_from_zero(
    text: str, scale: int, rounded: str
) -> None:
    assert str(Quantity(text).round_up(scale)) == rounded


def test_float_conversion_is_correctly_rounded() -> None:
    assert float(Quantity("500m")) == 0.5
    assert float(Quantity("1Gi")) == 1073741824.0
    assert float(Quantity("100n")) == 1e-7
    assert float(Quantity("-1.5")) == -1.5


def test_as_decimal_is_exact() -> None:
    assert Quantity("1.5Gi").as_decimal() == Decimal(1610612736)
    assert str(Quantity("100n").as_decimal()) == "1E-7"
    assert Quantity("-0.9Gi").as_decimal() == Decimal("-966367641.6")
    assert Quantity("123456789012345678901234567890.123456789").as_decimal() == Decimal(
        "123456789012345678901234567890.123456789"
    )


def test_cpu_cores_and_bytes_for_reports() -> None:
    assert cpu_cores("250m") == 0.25
    assert cpu_cores(Quantity("2")) == 2.0
    assert bytes_("1Ki") == 1024
    assert bytes_(Quantity("1.5Gi")) == 1610612736
    assert bytes_("1.5") == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid quantity '': an empty string is not a quantity"),
        ("1.2.3", "invalid quantity '1.2.3': a second decimal point at position 3"),
        ("Gi", "invalid quantity 'Gi': no number before the suffix 'Gi'"),
        ("-", "invalid quantity '-': expected a number"),
        (".", "invalid quantity '.': expected a number"),
        ("aoeu", "invalid quantity 'aoeu': expected a number"),
        ("1 Gi", "invalid quantity '1 Gi': whitespace at position 1"),
        (" 1", "invalid quantity ' 1': whitespace at position 0"),
        ("1 ", "invalid quantity '1 ': whitespace at position 1"),
        ("1gi", "invalid quantity '1gi': unknown suffix 'gi'; expected a decimal suffix"),
        ("1i", "unknown suffix 'i'"),
        ("0.1mi", "unknown suffix 'mi'"),
        ("0.1am", "unknown suffix 'am'"),
        ("1e", "unknown suffix 'e'"),
        ("-3.01e-", "unknown suffix 'e-'"),
        ("1Ki3", "unknown suffix 'Ki3'"),
        ("1ee3", "unknown suffix 'ee3'"),
        ("1+1.0M", "invalid quantity '1+1.0M': unexpected '+' at position 1"),
        ("1.1.M", "a second decimal point at position 3"),
        ("1e99999999999999999999", "the exponent in 'e99999999999999999999' is out of range"),
        ("1e5000", "out of range: more than 1000 digits before the point"),
        ("1" * 1001, "more than 1000 significant digits"),
    ],
)
def test_invalid_strings_raise_quantity_error_naming_the_input(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(text)
    assert message in str(caught.value)
    assert caught.value.text == text


def test_quantity_error_is_a_kubeops_error_and_a_value_error() -> None:
    with pytest.raises(KubeopsError):
        Quantity("1gi")
    with pytest.raises(ValueError, match="1gi"):
        Quantity("1gi")


def test_digit_limits_ignore_zeros_that_do_not_change_the_value() -> None:
    assert Quantity("0" * 2000 + "1") == Quantity("1")
    assert Quantity("1." + "0" * 2000) == Quantity("1")
    assert Quantity("0." + "0" * 2000 + "1") == Quantity("1n")


@pytest.mark.parametrize("value", [1.5, None, b"1", True])
def test_non_text_values_are_rejected_with_a_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        Quantity(value)  # type: ignore[arg-type]


def test_format_argument_overrides_the_family_the_text_implies() -> None:
    assert str(Quantity("1073741824", BIN)) == "1Gi"
    assert str(Quantity("1Gi", DEC)) == "1073741824"
    assert str(Quantity("1Gi", EXP)) == "1073741824"
    assert str(Quantity("1G", EXP)) == "1e9"
    assert str(Quantity("1Gi").with_format(DEC)) == "1073741824"
    assert Quantity("1Gi").with_format(DEC) == Quantity("1Gi")


def test_binary_values_with_fractions_or_below_1ki_print_as_decimal_si() -> None:
    assert str(Quantity("1023", BIN)) == "1023"
    assert str(Quantity("1.5", BIN)) == "1500m"
    assert str(Quantity("1024.5", BIN)) == "1024500m"
    assert Quantity("1.5", BIN).format is BIN


def test_numbers_and_millis_make_quantities() -> None:
    assert Quantity(2) == Quantity("2")
    assert Quantity(2).format is DEC
    assert str(Quantity.from_milli(250)) == "250m"
    assert str(Quantity.from_number(Fraction(1, 3))) == "333333334n"
    assert str(Quantity.from_number(Fraction(-1, 3))) == "-333333334n"
    assert str(Quantity.from_number(Decimal("0.25"))) == "250m"
    assert str(Quantity.from_number(2**30, BIN)) == "1Gi"
    with pytest.raises(TypeError):
        Quantity.from_number(0.1)  # type: ignore[arg-type]
    with pytest.raises(QuantityError):
        Quantity.from_number(Decimal("NaN"))


def test_zero_and_sign() -> None:
    assert Quantity("0").is_zero()
    assert not Quantity("0Gi")
    assert Quantity("1n")
    assert Quantity("-1n").sign() == -1
    assert Quantity("0").sign() == 0
    assert Quantity("1Ki").sign() == 1


def test_quantities_are_immutable() -> None:
    quantity = Quantity("1Gi")
    with pytest.raises(AttributeError):
        quantity._nanos = 1
    with pytest.raises(AttributeError):
        quantity.extra = 1
    assert copy.copy(quantity) is quantity
    assert copy.deepcopy(quantity) is quantity


@pytest.mark.parametrize("text", ["1.5Gi", "0.1Ki", "1e3", "-500m", "100Ei"])
def test_pickling_keeps_value_and_format(text: str) -> None:
    quantity = Quantity(text)
    restored = pickle.loads(pickle.dumps(quantity))
    assert restored == quantity
    assert restored.format is quantity.format
    assert str(restored) == str(quantity)
