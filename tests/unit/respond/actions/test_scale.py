"""Scale arithmetic: replicas, a step or a factor, always within min and max; the
change in percent the blast-radius limit reads."""

from __future__ import annotations

import pytest

from kubeops.respond.actions.scale import ScaleSettings, _mark_of, desired_replicas, scale_percent
from kubeops.respond.actions.target import TargetSpec


def settings(*, replicas: int | None = None, by: int | None = None, factor: float | None = None,
             minimum: int = 1, maximum: int = 10) -> ScaleSettings:  # fmt: skip
    return ScaleSettings(TargetSpec(), replicas, by, factor, minimum, maximum)


@pytest.mark.parametrize(
    ("current", "given", "expected"),
    [
        (3, settings(replicas=5), 5),
        (3, settings(replicas=50), 10),
        (3, settings(replicas=0), 1),
        (3, settings(by=2), 5),
        (9, settings(by=5), 10),
        (2, settings(by=-5), 1),
        (3, settings(factor=2), 6),
        (3, settings(factor=1.5), 5),  # 4.5 rounds up when growing
        (3, settings(factor=0.5), 1),  # 1.5 rounds down when shrinking
        (7, settings(factor=0.5, minimum=0), 3),
        (0, settings(factor=2, minimum=0), 0),  # a factor cannot grow zero
        (6, settings(factor=2), 10),
        (20, settings(by=1), 10),  # above max already: brought to max
        (3, settings(factor=1.1), 4),  # always moves
    ],
)
def test_desired_replicas_within_bounds(current: int, given: ScaleSettings, expected: int) -> None:
    assert desired_replicas(current, given) == expected


def test_scale_percent() -> None:
    assert scale_percent(3, 6) == 100.0
    assert scale_percent(4, 5) == 25.0
    assert scale_percent(4, 2) == 50.0
    assert scale_percent(0, 3) == 300.0  # from zero: measured from one
    assert scale_percent(5, 5) == 0.0


def test_the_mark_counts_only_for_its_own_action() -> None:
    assert _mark_of("abc 3 6", "abc") == (3, 6)
    assert _mark_of("abc 3 6", "other") is None
    assert _mark_of("abc three 6", "abc") is None
    assert _mark_of(None, "abc") is None
