"""Kubernetes' regex library on RE2: find, findAll, findAll with a limit."""

from __future__ import annotations

import pytest

from ._table import evaluation_error, value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'abc 123'.find('[0-9]+')", "123"),
        ("'abc'.find('[0-9]+')", ""),
        ("'a1b22c333'.findAll('[0-9]+')", ["1", "22", "333"]),
        ("'a1b22c333'.findAll('[0-9]+', 2)", ["1", "22"]),
        ("'a1b22c333'.findAll('[0-9]+', 0)", []),
        ("'abc'.findAll('x')", []),
        ("'baaac'.findAll('a*')", ["", "aaa", ""]),  # Go skips the empty match after "aaa"
        ("'abc'.find('(b)(c)')", "bc"),  # the whole match, not a group
        ("'xy'.find('[[:alpha:]]+')", "xy"),  # RE2's POSIX classes
        ("'héllo'.find('\\\\pL+')", "héllo"),
    ],
)
def test_regex(expression: str, expected: object) -> None:
    assert value(expression) == expected


@pytest.mark.parametrize(
    "expression",
    ["'abc'.find('(?=a)')", "'abc'.findAll('(', 1)", "'abc'.find('a{2,1}')"],
)
def test_patterns_re2_refuses_are_errors(expression: str) -> None:
    assert "Illegal regex" in evaluation_error(expression)
