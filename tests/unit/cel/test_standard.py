"""Kubernetes' language settings: cross-type numeric comparisons, sets, typed variables."""

from __future__ import annotations

import pytest

from kubeops import cel

from ._table import compile_error, value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 < 1.5", True),
        ("2u >= 1", True),
        ("1.0 > 2", False),
        ("object.replicas <= 2.5", True),
        ("[1, 2, 3].filter(v, v > 1.5)", [2, 3]),
        ("dyn(1) == 1.0", True),
        ("'a' < 'b' && b'a' < b'b' && duration('1s') < duration('2s')", True),
        ("string(true) + string(1u) + string(1.5)", "true11.5"),
        ("sets.contains([1, 2, 3], [2, 3])", True),
        ("sets.equivalent([1, 2], [2, 1, 1])", True),
        ("sets.intersects([1], [2])", False),
        ("object.?missing.orValue(7)", 7),
        ("'a,b'.split(',')", ["a", "b"]),
    ],
)
def test_language(expression: str, expected: object) -> None:
    assert value(expression, object={"replicas": 2}) == expected


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("1 == 1.0", "no matching overload for '_==_'"),  # equality stays typed, as in Kubernetes
        ("'a' < 1", "no matching overload for '_<_'"),
        ("math.greatest(1, 2)", "undeclared reference"),  # not in Kubernetes' environment
        ("base64.encode(b'a')", "undeclared reference"),
    ],
)
def test_what_kubernetes_does_not_have(expression: str, cause: str) -> None:
    assert cause in compile_error(expression)


def test_transform_map_is_refused_when_compiled() -> None:
    # cel-expr-python type-checks it but cannot run it (no cel.@mapInsert at run time)
    assert "transformMap is not supported by kubeops' CEL" in compile_error(
        "{'a': 1}.transformMap(k, v, v + 1)"
    )


def test_typed_variables_and_result_types() -> None:
    program = cel.compile("variables.count > 1", variables={"variables.count": cel_int()})
    assert program.evaluate({"variables.count": 3}) is True
    assert program.result_type.name() == "BOOL"
    assert cel.compile("object.x", variables=["object"]).result_type.name() == "DYN"
    with pytest.raises(cel.CelError, match="no matching overload"):
        cel.compile("variables.count.size()", variables={"variables.count": cel_int()})


def cel_int() -> object:
    from cel_expr_python import cel as raw  # type: ignore[import-untyped]

    return raw.Type.INT


def test_raw_values_go_back_into_an_activation() -> None:
    first = cel.compile("quantity(object.q)", variables=["object"])
    value = first.evaluate({"object": {"q": "500m"}}, raw=True)
    assert first.evaluate({"object": {"q": "500m"}}) == "500m"
    typed = {"variables.q": first.result_type}
    later = cel.compile("variables.q.isLessThan(quantity('1'))", variables=typed)
    assert later.evaluate({"variables.q": value}) is True


VAP = ("object", "oldObject", "request", "params", "namespaceObject", "authorizer", "variables")


def test_the_variables_a_validating_admission_policy_sees() -> None:
    program = cel.compile(
        "variables.parts.size() <= params.max && namespaceObject.metadata.name == 'prod'"
        " && oldObject == null && request.operation == 'CREATE'",
        variables=VAP,
    )
    activation = {
        "object": {},
        "oldObject": None,
        "request": {"operation": "CREATE"},
        "params": {"max": 2},
        "namespaceObject": {"metadata": {"name": "prod"}},
        "variables": {"parts": ["a", "b"]},
    }
    assert program.matches(activation) is True
    assert program.variables == tuple(sorted({*VAP, "authorizer.requestResource"}))
    # no authorizer binding in the activation: a check is an error, not a silent answer
    check = cel.compile("authorizer.path('/x').check('get').allowed()", variables=VAP)
    with pytest.raises(cel.CelEvaluationError, match="no value for variable authorizer"):
        check.evaluate(activation)


def test_a_prepared_activation_serves_many_programs() -> None:
    from types import MappingProxyType

    from kubeops.cel.authorizer import activation

    asked = []

    def authorize(spec: object) -> tuple[str, str]:
        asked.append(spec)
        return "allowed", ""

    prepared = cel.prepare(
        {
            "object": MappingProxyType({"ports": (80, 443)}),  # reshaped once, as evaluate does
            "request": {"userInfo": {"username": "alice"}},
            "authorizer": activation(authorize),
        }
    )
    names = ("object", "request", "authorizer")
    assert cel.compile("object.ports.sum()", variables=names).evaluate(prepared) == 523
    check = cel.compile("authorizer.path('/x').check('get').allowed()", variables=names)
    assert check.matches(prepared) is True
    assert check.matches(prepared) is True
    assert [spec["user"] for spec in asked] == ["alice", "alice"]  # type: ignore[index]
