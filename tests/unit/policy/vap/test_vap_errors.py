"""Runtime errors in the API server's (cel-go's) words: each wording was read from a
real API server's denial (the oracle test checks them end to end)."""

from __future__ import annotations

from typing import Any

import pytest

from kubeops.cel import compile, prepare
from kubeops.policy import vap_cel

VARIABLES = ("object", "oldObject")


@pytest.mark.parametrize(
    ("expression", "obj", "words"),
    [
        ("object.spec.missing == 1", {"spec": {}}, "no such key: missing"),
        ("object.spec.inner.x == 1", {"spec": {"inner": None}}, "no such key: x"),
        ("object.spec.a.b == 1", {"spec": {"a": "text"}}, "no such key: b"),
        ("oldObject.data.x == 1", {}, "no such key: data"),
        ("object.a / 0 == 1", {"a": 1}, "division by zero"),
        ("object.a % 0 == 1", {"a": 3}, "modulus by zero"),
        ("object.a[3] == 1", {"a": [1]}, "index out of bounds: 3"),
        ("int(object.a) > 1", {"a": "x"}, "type conversion error from 'string' to 'int'"),
        ("double(object.a) > 1.0", {"a": "zz"}, "type conversion error from 'string' to 'double'"),
        ("object.a < 1", {"a": "1"}, "no such overload"),
        ("size(object.a) == 1", {"a": 1}, "no such overload: size"),
        ("object.a.size() == 1", {"a": 1}, "no such overload: size"),
        ("object.a.startsWith('x')", {"a": 3}, "no such overload"),
        ("object.a + 1 == 1", {"a": 9223372036854775807}, "integer overflow"),
    ],
)
def test_cel_go_wording(expression: str, obj: dict[str, Any], words: str) -> None:
    program = compile(expression, variables=VARIABLES)
    values = {"object": obj, "oldObject": None}
    with pytest.raises(vap_cel.EvaluationFailure) as caught:
        vap_cel.evaluate(program, prepare(values), {})
    assert caught.value.message == f"expression '{expression}' resulted in error: {words}"


def test_a_failed_variable_is_named_where_it_is_read() -> None:
    first = compile("object.spec.x", variables=VARIABLES)
    values: dict[str, Any] = {"object": {"spec": {}}, "oldObject": None}
    _, failed = vap_cel.evaluate_variables([("x", first)], values)
    assert failed == {"x": 'composited variable "x" fails to evaluate: no such key: x'}
    assert "variables.x" not in values
