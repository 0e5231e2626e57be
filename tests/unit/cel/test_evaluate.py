"""Rules' expressions over a Pod: the values they give, and the errors a missing field gives."""

from __future__ import annotations

import datetime
from types import MappingProxyType
from typing import Any

import pytest

from kubeops import cel
from kubeops.errors import KubeopsError


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("object.status.containerStatuses.exists(c, c.restartCount > 3)", True),
        ("object.status.containerStatuses.all(c, c.ready)", False),
        (
            "object.metadata.labels['app'] == 'web' && "
            "oldObject.spec.replicas < object.spec.replicas",
            True,
        ),
        ("has(object.metadata.labels) && !has(object.spec.nodeName)", True),
        ("size(object.spec.containers)", 2),
        ("object.spec.containers.filter(c, has(c.resources.requests)).map(c, c.name)", ["app"]),
        ("object.metadata.name.startsWith('web-')", True),
        ("object.metadata.name.endsWith('x2x7q')", True),
        ("object.spec.containers[0].image.contains('registry')", True),
        ("object.metadata.name.matches('^web-[a-z0-9]+-[a-z0-9]{5}$')", True),
        (
            "'%s/%s'.format([object.metadata.namespace, object.metadata.name])",
            "prod/web-7d4b9c-x2x7q",
        ),
        ("object.metadata.labels.tier.upperAscii()", "FRONTEND"),
        ("int('42') + object.spec.replicas", 45),
        ("double(object.spec.replicas) * 1.5", 4.5),
        ("string(object.spec.replicas)", "3"),
        ("object.?spec.nodeName.orValue('unscheduled')", "unscheduled"),
        ("object.metadata.?annotations[?'a/b'].orValue('none')", "none"),
        ("object.metadata.?labels[?'app'].orValue('none')", "web"),
        ("payload.service + '-standby'", "db-standby"),
        ("event.name in ['added', 'modified']", True),
        ("object.metadata.labels", {"app": "web", "tier": "frontend"}),
        ("null", None),
        ("b'ab'", b"ab"),
        ("type(object.spec.replicas)", "int"),
    ],
)
def test_values_come_back_as_plain_python(
    expression: str, expected: object, activation: dict[str, Any]
) -> None:
    assert cel.compile(expression).evaluate(activation) == expected


def test_timestamps_and_durations_are_datetime_and_timedelta(activation: dict[str, Any]) -> None:
    program = cel.compile("timestamp(object.metadata.creationTimestamp) + duration('90m')")
    assert program.evaluate(activation) == datetime.datetime(2026, 1, 1, 1, 30, tzinfo=datetime.UTC)
    age = cel.compile(
        "timestamp('2026-01-02T00:00:00Z') - timestamp(object.metadata.creationTimestamp)"
    )
    assert age.evaluate(activation) == datetime.timedelta(days=1)
    assert cel.compile("duration('1h') > duration('59m')").matches(activation) is True


@pytest.mark.parametrize(
    ("expression", "cause"),
    [
        ("object.spec.missing == 1", "no such key: missing"),
        ("object.metadata.labels['nope'] == 'x'", "no such key: nope"),
        ("object.spec.containers[5].name == 'x'", "index=5 size=2"),
        ("object.spec.replicas / 0 == 1", "divide by zero"),
        ("object.spec.replicas * 1.5 > 1.0", "_*_(int64, double)"),
        ("object.metadata.name + object.spec.replicas == 'x'", "_+_(string, int64)"),
    ],
)
def test_runtime_errors_are_one_line_naming_the_expression(
    expression: str, cause: str, activation: dict[str, Any]
) -> None:
    program = cel.compile(expression)
    with pytest.raises(cel.CelEvaluationError) as caught:
        program.matches(activation)
    message = str(caught.value)
    assert message.startswith(f"CEL expression {expression!r}: ")
    assert cause in message
    assert "\n" not in message
    assert isinstance(caught.value, cel.CelError | KubeopsError | ValueError)


def test_a_field_of_a_null_old_object_is_an_error_not_false(activation: dict[str, Any]) -> None:
    added = {**activation, "oldObject": None}
    program = cel.compile("oldObject.spec.replicas < object.spec.replicas")
    with pytest.raises(cel.CelEvaluationError, match="not a map"):
        program.matches(added)
    guarded = cel.compile("oldObject == null || oldObject.spec.replicas < object.spec.replicas")
    assert guarded.matches(added) is True


def test_a_variable_missing_from_the_activation_is_an_error(activation: dict[str, Any]) -> None:
    del activation["payload"]
    with pytest.raises(cel.CelEvaluationError, match="no value for variable payload"):
        cel.compile("payload.service == 'db'").evaluate(activation)


def test_tuples_and_read_only_mappings_from_python_callers_are_taken(
    activation: dict[str, Any],
) -> None:
    activation["payload"] = MappingProxyType(
        {"ids": (1, 2), "labels": MappingProxyType({"a": "b"})}
    )
    assert cel.compile("size(payload.ids) == 2 && payload.labels.a == 'b'").matches(activation)


def test_values_cel_has_no_form_for_are_errors(activation: dict[str, Any]) -> None:
    activation["payload"] = {"ids": {1, 2}}  # a set is not a JSON value
    with pytest.raises(cel.CelEvaluationError, match=r"Non-CEL value type .* set"):
        cel.compile("size(payload.ids) == 2").evaluate(activation)
    with pytest.raises(cel.CelEvaluationError, match="orValue"):
        cel.compile("object.?spec.nodeName").evaluate(activation)


@pytest.mark.parametrize("expression", ["object.spec.replicas", "object.metadata.name", "[true]"])
def test_a_condition_that_is_not_a_bool_is_an_error(
    expression: str, activation: dict[str, Any]
) -> None:
    with pytest.raises(cel.CelEvaluationError, match="must give true or false, not "):
        cel.compile(expression).matches(activation)


def test_matches_gives_the_bool(activation: dict[str, Any]) -> None:
    assert cel.compile("object.spec.replicas == 3").matches(activation) is True
    assert cel.compile("object.spec.replicas == 4").matches(activation) is False
