"""Kubernetes' lists library and cel-go's ext lists (v2) as Kubernetes 1.37 enables them."""

from __future__ import annotations

import pytest

from ._table import compile_error, evaluation_error, value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[1, 2, 3].isSorted()", True),
        ("['a', 'b', 'b', 'c'].isSorted()", True),
        ("[2.0, 1.0].isSorted()", False),
        ("[].isSorted()", True),
        ("[true, false].isSorted()", False),
        ("[1, 3].sum()", 4),
        ("[1.0, 3.5].sum()", 4.5),
        ("[].sum()", 0),
        ("[1, 3].min()", 1),
        ("[1, 3].max()", 3),
        ("['b', 'a', 'c'].min()", "a"),
        ("[2.5, -1.0].max()", 2.5),
        ("[1, 2, 2, 3].indexOf(2)", 1),
        ("['a', 'b', 'b', 'c'].lastIndexOf('b')", 2),
        ("[1.0].indexOf(1.1)", -1),
        ("[].indexOf('x')", -1),
        ("'banana'.indexOf('an')", 1),  # the strings extension's indexOf still works
        ("'banana'.lastIndexOf('an')", 3),
        ("object.items.indexOf(3)", 1),
        ("object.items.sum()", 7),
        ("object.items.isSorted()", False),
        # cel-go ext lists, version 2
        ("[1, [2, [3]]].flatten()", [1, 2, [3]]),
        ("[1, [2, [3]]].flatten(2)", [1, 2, 3]),
        ("[1, 2, 3, 4].slice(1, 3)", [2, 3]),
        ("[1, 2, 1, 3].distinct()", [1, 2, 3]),
        ("[1, 2, 3].reverse()", [3, 2, 1]),
        ("[3, 1, 2].sort()", [1, 2, 3]),
        ("['bb', 'a'].sortBy(s, size(s))", ["a", "bb"]),
        ("lists.range(3)", [0, 1, 2]),
        # two-variable comprehensions (1.32+)
        ("[10, 20].all(i, v, v > i)", True),
        ("{'a': 1}.exists(k, v, k == 'a' && v == 1)", True),
        ("[1, 2].transformList(i, v, v * 10)", [10, 20]),
    ],
)
def test_lists(expression: str, expected: object) -> None:
    assert value(expression, object={"items": [4, 3]}) == expected


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("[].min()", "min called on empty list"),
        ("object.items.max()", "max called on empty list"),
        ("[9223372036854775807, 1].sum()", "integer overflow"),
        ("[1, 2].slice(2, 1)", "slice"),
        ("[duration('1s')].sum()", "sum() of durations or timestamps is not supported"),
        ("[timestamp('2020-01-01T00:00:00Z')].min()", "min() of durations or timestamps"),
    ],
)
def test_list_errors(expression: str, cause: str) -> None:
    assert cause in evaluation_error(expression, object={"items": []})


def test_element_types_are_checked_when_compiled() -> None:
    assert "no matching overload for 'sum'" in compile_error("['a'].sum()")
    assert "no matching overload for 'isSorted'" in compile_error("[[1]].isSorted()")
