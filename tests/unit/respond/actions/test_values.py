"""``${<CEL>}`` values: a lone expression keeps its type, expressions inside text
become text, ``$${`` is a literal, braces and quotes inside an expression are
skipped when finding its end."""

from __future__ import annotations

import datetime

import pytest

from kubeops.respond.actions.values import (
    RenderError,
    Template,
    compile_values,
    has_templates,
    render,
)
from kubeops.respond.event import Event

EVENT = Event(
    "server_down",
    "http",
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    payload={"service": "db", "replicas": 4, "labels": {"role": "standby"}},
    object={"kind": "Pod", "metadata": {"name": "web-1", "namespace": "prod"}},
)


def rendered(value: object) -> object:
    return render(compile_values(value), EVENT.as_activation())


def test_a_lone_expression_keeps_its_type() -> None:
    assert rendered("${payload.replicas}") == 4
    assert rendered("${payload.replicas * 2}") == 8
    assert rendered("${payload.labels}") == {"role": "standby"}
    assert rendered("${payload.replicas > 3}") is True


def test_expressions_inside_text_become_text() -> None:
    assert (
        rendered("pod ${object.metadata.name} in ${object.metadata.namespace}")
        == "pod web-1 in prod"
    )
    assert rendered("down: ${payload.replicas > 3}") == "down: true"


def test_braces_and_quotes_inside_an_expression() -> None:
    assert rendered("${{'a': 'x}'}['a']}!") == "x}!"
    assert rendered('${"}" + payload.service}') == "}db"


def test_literal_dollar_brace_and_plain_strings() -> None:
    assert rendered("cost $${x}") == "cost ${x}"
    assert compile_values("plain") == "plain"
    assert not has_templates(compile_values({"a": ["b", 1]}))


def test_templates_nest_in_maps_and_lists() -> None:
    compiled = compile_values(
        {"spec": {"selector": {"app": "${payload.service}"}, "args": ["${event.name}"]}}
    )
    assert has_templates(compiled)
    assert isinstance(compiled["spec"]["selector"]["app"], Template)
    assert render(compiled, EVENT.as_activation()) == {
        "spec": {"selector": {"app": "db"}, "args": ["server_down"]}
    }


def test_an_expression_failing_for_this_event_names_the_field() -> None:
    with pytest.raises(RenderError, match=r"^spec.app: CEL expression 'payload.missing'"):
        render(compile_values({"spec": {"app": "${payload.missing}"}}), EVENT.as_activation())


def test_a_value_computed_for_an_event_is_checked_as_at_load_time() -> None:
    from kubeops.respond.action import ActionContext
    from kubeops.respond.actions import ActionError, build_action
    from kubeops.respond.actions.scale import ScaleAction
    from kubeops.respond.model import ActionSpec, Rule, Trigger

    action = build_action(ActionSpec("scale", {"replicas": "${payload.service}", "max": 3}))
    assert isinstance(action, ScaleAction)
    ctx = ActionContext(
        client=None, event=EVENT, rule=Rule("r", Trigger("http"), ()), action_id="a"
    )  # type: ignore[arg-type]
    with pytest.raises(
        ActionError, match=r"^scale pod/prod/web-1: replicas: must be a whole number, not 'db'$"
    ):
        action.settings_for(ctx)
    missing = build_action(ActionSpec("scale", {"replicas": "${payload.nothing}", "max": 3}))
    assert isinstance(missing, ScaleAction)
    with pytest.raises(
        ActionError, match=r"^scale pod/prod/web-1: replicas: CEL expression 'payload.nothing': "
    ):
        missing.settings_for(ctx)
    fine = build_action(ActionSpec("scale", {"replicas": "${payload.replicas - 1}", "max": 3}))
    assert isinstance(fine, ScaleAction)
    assert fine.settings_for(ctx).replicas == 3
