"""The one duration grammar: Go's ``time.ParseDuration`` plus days and bare seconds."""

from __future__ import annotations

import pytest

from kubeops.errors import KubeopsError
from kubeops.models import DurationError, format_age, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2h0m10s", 7210),
        ("1.5h", 5400),
        ("1.5m", 90),
        (".5s", 0.5),
        ("5.s", 5),
        ("500ms", 0.5),
        ("250us", 250e-6),
        ("250µs", 250e-6),
        ("250μs", 250e-6),
        ("100ns", 100e-9),
        ("2d", 172800),
        ("1d12h", 129600),
        ("1m30s500ms", 90.5),
        ("90", 90),  # a bare number is seconds, as kubectl's --timeout=90 is
        ("0", 0),
        ("0s", 0),
        ("1.25", 1.25),
        ("+5s", 5),
        ("-1s", -1),
        ("-1h30m", -5400),
        (" 2S ", 2),  # blanks around the whole, units in any case
        ("10MS", 0.01),
    ],
)
def test_durations_parse_as_go_and_kubectl_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "-",
        "+",
        "s",
        "h",
        ".s",
        "1h30",  # the last number has no unit
        "10 m",
        "1h 30m",
        "10x",
        "1w",
        "1y",
        "5 minutes",
        "ten minutes",
        "1e3",
        "inf",
        "nan",
        "--1s",
        "1s-1s",
    ],
)
def test_bad_durations_name_the_text_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    message = str(info.value)
    assert repr(text) in message
    assert "30s, 5m, 1h30m" in message
    assert "plain seconds" in message
    assert isinstance(info.value, KubeopsError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", ["0", "0s", "0ms", "-1s", "-0.5h"])
def test_a_positive_duration_refuses_zero_and_below(text: str) -> None:
    assert parse_duration(text) <= 0
    with pytest.raises(DurationError, match="greater than zero"):
        parse_duration(text, positive=True)


def test_positive_durations_pass_the_positive_check() -> None:
    assert parse_duration("1ns", positive=True) == pytest.approx(1e-9)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (1.5, "1.5s"),
        (30, "30s"),
        (60, "1m"),
        (90, "1m30s"),
        (61.25, "1m1.25s"),
        (3600, "1h"),
        (3660, "1h1m"),
        (5400, "1h30m"),
        (3601, "1h1s"),
        (86400, "1d"),
        (86400 + 61, "1d1m1s"),
        (0.5, "500ms"),
        (0.0015, "1.5ms"),
        (250e-6, "250µs"),
        (100e-9, "100ns"),
        (-90, "-1m30s"),
        (59.9996, "1m"),  # rounded to the millisecond, carried into the minute
    ],
)
def test_durations_are_written_in_the_short_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "seconds", [0.5, 1, 2, 90, 600, 3600, 5400, 86400 + 61, 0.001, 250e-6, 100e-9, -7210]
)
def test_written_durations_read_back_the_same(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("seconds", "age"),
    [
        (-5, "0s"),
        (45, "45s"),
        (119, "119s"),
        (450, "7m30s"),
        (600, "10m"),
        (5700, "95m"),
        (3 * 3600 + 300, "3h5m"),
        (20 * 3600, "20h"),
        (2 * 86400 + 4 * 3600, "2d4h"),
        (40 * 86400, "40d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_ages_read_as_kubectl_prints_them(seconds: float, age: str) -> None:
    assert format_age(seconds) == age


@pytest.mark.parametrize(
    "text", ["9" * 400, "1e3", "106752d", "9223372037s", "-9" * 1 + "9" * 400 + "h"]
)
def test_durations_beyond_gos_range_are_refused(text: str) -> None:
    # Found by fuzzing: 400 nines read as infinity, which format_duration cannot print.
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


def test_the_longest_duration_is_about_292_years() -> None:
    assert parse_duration("106751d") == 106751 * 86400.0
    assert parse_duration("-2562047h") == -2562047 * 3600.0
