"""Kubernetes' semver library (version 1, with normalize), as blang/semver reads versions."""

from __future__ import annotations

import pytest

from ._table import compile_error, evaluation_error, value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("isSemver('1.2.3')", True),
        ("isSemver('1.2.3-rc.1+build.5')", True),
        ("isSemver('v1.2.3')", False),
        ("isSemver('1.2')", False),
        ("isSemver('01.2.3')", False),
        ("isSemver('1.2.3-01')", False),
        ("isSemver('v1.2', true)", True),
        ("isSemver('1.02.3', true)", True),
        ("isSemver('1.2-rc', true)", False),
        ("semver('1.2.3').major()", 1),
        ("semver('1.2.3').minor()", 2),
        ("semver('1.2.3').patch()", 3),
        ("semver('v01.2', true).major()", 1),
        ("semver('1.2.3').isLessThan(semver('1.10.0'))", True),
        ("semver('1.0.0-alpha').isLessThan(semver('1.0.0'))", True),
        ("semver('1.0.0-alpha.1').isLessThan(semver('1.0.0-alpha.beta'))", True),
        ("semver('1.0.0-2').isLessThan(semver('1.0.0-10'))", True),
        ("semver('1.0.0-rc.1').isGreaterThan(semver('1.0.0-beta.11'))", True),
        ("semver('2.0.0').compareTo(semver('1.9.9'))", 1),
        ("semver('1.0.0+a').compareTo(semver('1.0.0+b'))", 0),
        ("semver('1.0.0+a') == semver('1.0.0+b')", True),  # build metadata ignored
        ("semver('1.2.3')", "1.2.3"),
        # quantity shares the comparison names: each still gets its own
        (
            "quantity('1').isLessThan(quantity('2')) && semver('2.0.0').isGreaterThan(semver('1.0.0'))",
            True,
        ),
    ],
)
def test_semver(expression: str, expected: object) -> None:
    assert value(expression) == expected


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("semver('1.2')", "No Major.Minor.Patch elements found"),
        ("semver('1.2.03')", "Patch number must not contain leading zeroes"),
        ("semver('1.2.3-')", "Prerelease is empty"),
        ("semver('1.2-rc', true)", "short version cannot contain PreRelease/Build meta data"),
    ],
)
def test_bad_versions_are_evaluation_errors(expression: str, cause: str) -> None:
    assert cause in evaluation_error(expression)


def test_a_semver_is_not_a_quantity_when_compiled() -> None:
    assert "no matching overload for 'isLessThan'" in compile_error(
        "semver('1.0.0').isLessThan(quantity('1'))"
    )
