"""Compiling: type-checked once, cached by text, and a bad expression is one line with its column."""

from __future__ import annotations

import pytest

from kubeops import cel


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("object.spec.replicas >", "column 23: Syntax error: mismatched input '<EOF>'"),
        ("object.metadata.name ==", "column 24: Syntax error"),
        ("size(1) > 0", "column 5: found no matching overload for 'size' applied to '(int)'"),
        ("replicas > 3", "column 1: undeclared reference to 'replicas'"),
        ("object.spec.replicas > 1 &&\n  (true", "line 2 column 8: Syntax error"),
        ("quantity(1)", "column 9: found no matching overload for 'quantity'"),
        ("object.name.noSuchFunction()", "undeclared reference to 'noSuchFunction'"),
        ("", "Syntax error"),
    ],
)
def test_a_bad_expression_is_one_line_with_its_column(expression: str, cause: str) -> None:
    with pytest.raises(cel.CelError) as caught:
        cel.compile(expression)
    message = str(caught.value)
    assert message.startswith("CEL expression ")
    assert cause in message
    assert "\n" not in message
    assert not isinstance(caught.value, cel.CelEvaluationError)
    assert caught.value.expression == expression


def test_a_long_expression_is_shown_cut_and_on_one_line() -> None:
    expression = "object.metadata.name == 'x' &&\n" * 10 + " +"
    with pytest.raises(cel.CelError) as caught:
        cel.compile(expression)
    message = str(caught.value)
    assert "\n" not in message
    assert "... && object.metadata.name" not in message
    assert message.index("...") < 140


def test_the_variables_are_the_rules_unless_given() -> None:
    assert cel.VARIABLES == ("object", "oldObject", "payload", "event")
    with pytest.raises(cel.CelError, match="undeclared reference to 'params"):
        cel.compile("params.max > 1")
    program = cel.compile("params.max > 1", variables=["params"])
    assert program.matches({"params": {"max": 2}}) is True
    with pytest.raises(cel.CelError, match="undeclared reference to 'object"):
        cel.compile("object.x == 1", variables=["params"])


def test_programs_are_cached_by_text_and_reusable() -> None:
    first = cel.compile("object.spec.replicas > 1")
    assert cel.compile("object.spec.replicas > 1") is first
    assert cel.compile("object.spec.replicas > 1", variables=reversed(cel.VARIABLES)) is first
    assert cel.compile("object.spec.replicas > 2") is not first
    for replicas in range(5):
        assert first.matches({"object": {"spec": {"replicas": replicas}}}) is (replicas > 1)
    assert repr(first) == "Program('object.spec.replicas > 1')"


def test_an_expression_must_be_text() -> None:
    with pytest.raises(cel.CelError, match="an expression is a string, not int"):
        cel.compile(3)  # type: ignore[arg-type]
