"""Shared helpers for the library tables: evaluate an expression, or get its error."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops import cel


def value(expression: str, **activation: Any) -> Any:
    """The expression's value over ``activation`` (variables: the activation's names)."""
    return cel.compile(expression, variables=tuple(activation) or ("object",)).evaluate(activation)


def evaluation_error(expression: str, **activation: Any) -> str:
    """The one-line cause an evaluation fails with."""
    with pytest.raises(cel.CelEvaluationError) as caught:
        value(expression, **activation)
    message = str(caught.value)
    assert "\n" not in message
    return message


def compile_error(expression: str) -> str:
    """The one-line cause compiling fails with."""
    with pytest.raises(cel.CelError) as caught:
        cel.compile(expression)
    message = str(caught.value)
    assert "\n" not in message
    return message
