"""Kubernetes' CEL quantity library: the functions the API server has, on kubeops' Quantity."""

from __future__ import annotations

import pytest

from kubeops import cel


def _value(expression: str) -> object:
    return cel.compile(expression).evaluate({})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("quantity('500m').isLessThan(quantity('1'))", True),
        ("quantity('1Gi').isGreaterThan(quantity('1000Mi'))", True),
        ("quantity('1').isLessThan(quantity('1000m'))", False),
        ("quantity('1') == quantity('1000m')", True),
        ("quantity('1Ki') == quantity('1024')", True),
        ("quantity('1') != quantity('1001m')", True),
        ("quantity('250m').compareTo(quantity('0.25'))", 0),
        ("quantity('2').compareTo(quantity('1'))", 1),
        ("quantity('500m').asApproximateFloat()", 0.5),
        ("quantity('1.5Gi').asApproximateFloat()", 1.5 * 2**30),
        ("quantity('2k').asInteger()", 2000),
        ("quantity('2k').isInteger()", True),
        ("quantity('1500m').isInteger()", False),
        ("quantity('-3').sign()", -1),
        ("quantity('0').sign()", 0),
        ("isQuantity('128Mi')", True),
        ("isQuantity('12 apples')", False),
        ("quantity('1').add(quantity('500m'))", "1500m"),
        ("quantity('1').add(2)", "3"),
        ("quantity('1').sub(quantity('250m'))", "750m"),
        ("quantity('1Gi').sub(1)", "1073741823"),
        ("[quantity('100m'), quantity('1')]", ["100m", "1"]),
    ],
)
def test_the_library_behaves_as_kubernetes_documents(expression: str, expected: object) -> None:
    assert _value(expression) == expected


def test_a_pods_requests_compare_as_quantities() -> None:
    program = cel.compile(
        "object.spec.containers.all(c, "
        "quantity(c.resources.?requests.?cpu.orValue('0')).isLessThan(quantity('1')))"
    )
    pod = {
        "spec": {"containers": [{"resources": {"requests": {"cpu": "250m"}}}, {"resources": {}}]}
    }
    assert program.matches({"object": pod}) is True
    pod["spec"]["containers"][1]["resources"] = {"requests": {"cpu": "1500m"}}
    assert program.matches({"object": pod}) is False


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("quantity('12 apples').sign() == 1", "quantities must match the regular expression"),
        ("quantity('1kk').sign() == 1", "unable to parse quantity's suffix"),
        ("quantity('1500m').asInteger() == 1", "cannot convert value to integer"),
        ("quantity('20E').asInteger() == 1", "cannot convert value to integer"),
        ("object.x.isLessThan(quantity('1'))", "(string).isLessThan(map)"),
    ],
)
def test_bad_quantities_are_evaluation_errors(expression: str, cause: str) -> None:
    program = cel.compile(expression)
    with pytest.raises(cel.CelEvaluationError) as caught:
        program.matches({"object": {"x": "1"}})
    assert cause in str(caught.value)


def test_misuse_is_a_type_error_when_compiled() -> None:
    with pytest.raises(cel.CelError, match="no matching overload for 'isLessThan'"):
        cel.compile("quantity('1').isLessThan(1)")
