"""The sources registry, and the pure checks of resource, event, http, alert and
kafka triggers: one phrase per problem naming the field, and matching by params."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubeops.respond import event as ev
from kubeops.respond.event import Event
from kubeops.respond.model import Trigger
from kubeops.respond.sources import SOURCES, matches, validate
from kubeops.respond.sources._params import Scope, duration_param, number_param
from kubeops.respond.sources._watch import Recent
from kubeops.respond.sources.events import count_of, field_selector

NOW = datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC)


def test_every_source_is_registered_and_only_the_receivers_have_no_class() -> None:
    assert set(SOURCES) == set(ev.SOURCES)
    # The receiver's sources, and kafka's consumer (built by the daemon from ``bus:``).
    assert {name for name, entry in SOURCES.items() if entry.cls is None} == {
        ev.HTTP,
        ev.ALERT,
        ev.KAFKA,
    }
    for name, entry in SOURCES.items():
        if entry.cls is not None:
            assert entry.cls.name == name
    assert validate(Trigger("webhooks")) == [
        "source: unknown source 'webhooks' (one of alert, derived, event, http, kafka, resource, schedule, usage)"
    ]


def test_resource_triggers() -> None:
    good = Trigger(ev.RESOURCE, names=("added",), kind="Deployment", api_version="apps/v1")
    assert validate(good) == []
    assert validate(
        Trigger(
            ev.RESOURCE,
            names=("created",),
            kind="deployments.apps",
            api_version="apps/v1/x",
            namespaces=("",),
            params={"for": 1},
        )
    ) == [
        "names: unknown event 'created' for source 'resource' (one of added, modified, deleted)",
        "namespaces: '' is not a namespace name",
        "kind: 'deployments.apps' is not a kind (write it as Deployment, Pod, ...)",
        "apiVersion: 'apps/v1/x' is not group/version or version",
        "params: a resource trigger takes none (for)",
    ]
    assert validate(Trigger(ev.RESOURCE)) == [
        "kind: is required for a resource trigger (Deployment, Pod, ...)"
    ]


def deployment(namespace: str = "prod", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace, "labels": labels},
    }


def test_resource_matching_by_name_kind_version_and_scope() -> None:
    trigger = Trigger(
        ev.RESOURCE,
        names=("modified",),
        kind="deployment",
        api_version="apps/v1",
        namespaces=("prod",),
        selector="tier=web",
    )
    hit = Event("modified", ev.RESOURCE, NOW, object=deployment(tier="web"))
    assert matches(trigger, hit)
    assert not matches(trigger, Event("added", ev.RESOURCE, NOW, object=deployment(tier="web")))
    assert not matches(
        trigger, Event("modified", ev.RESOURCE, NOW, object=deployment("dev", tier="web"))
    )
    assert not matches(trigger, Event("modified", ev.RESOURCE, NOW, object=deployment(tier="db")))
    other_version = {**deployment(tier="web"), "apiVersion": "apps/v1beta1"}
    assert not matches(trigger, Event("modified", ev.RESOURCE, NOW, object=other_version))
    assert not matches(trigger, Event("modified", ev.HTTP, NOW, object=deployment(tier="web")))


def k8s_event(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "prod", "uid": "u"},
        "reason": "BackOff",
        "type": "Warning",
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "prod"},
    }
    body.update(fields)
    return body


def test_event_triggers() -> None:
    good = Trigger(ev.KUBERNETES_EVENT, names=("BackOff",), params={"type": "Warning"})
    assert validate(good) == []
    assert validate(
        Trigger(
            ev.KUBERNETES_EVENT,
            names=("a,b",),
            kind="Pod",
            selector="app=web",
            params={"type": "Error", "involvedName": "", "reason": "x"},
        )
    ) == [
        "params.reason: unknown for an event trigger (one of type, involvedKind, involvedName)",
        "params.type: must be Normal or Warning, not 'Error'",
        "params.involvedName: must be a non-empty string, not ''",
        "names: 'a,b' is not an Event reason",
        "selector: Events carry no labels; narrow with params.involvedKind/involvedName",
        "kind: an event trigger names the involved object's kind in params.involvedKind",
    ]


def test_event_matching_and_the_server_side_filter() -> None:
    trigger = Trigger(
        ev.KUBERNETES_EVENT,
        names=("BackOff",),
        namespaces=("prod",),
        params={"type": "Warning", "involvedKind": "Pod", "involvedName": "web"},
    )
    assert field_selector(trigger) == (
        "reason=BackOff,type=Warning,involvedObject.kind=Pod,involvedObject.name=web"
    )
    make = lambda **f: Event(  # noqa: E731
        str(f.get("reason", "BackOff")), ev.KUBERNETES_EVENT, NOW, object=k8s_event(**f)
    )
    assert matches(trigger, make())
    assert not matches(trigger, make(type="Normal"))
    assert not matches(trigger, make(involvedObject={"kind": "Node", "name": "web"}))
    # events.k8s.io names the involved object "regarding".
    assert matches(trigger, make(involvedObject=None, regarding={"kind": "Pod", "name": "web"}))
    assert count_of(k8s_event(count=4)) == 4
    assert count_of(k8s_event(count=4, series={"count": 9})) == 9
    assert count_of(k8s_event()) == 1


def test_http_and_alert_triggers() -> None:
    assert validate(Trigger(ev.HTTP, names=("server_down",))) == []
    assert validate(Trigger(ev.HTTP, kind="Pod", params={"x": 1})) == [
        "kind: an http trigger is about no object",
        "params.x: an http trigger takes no params (match payload fields with a condition)",
    ]
    alert = Trigger(ev.ALERT, names=("HighLatency",), params={"labels": {"severity": "page"}})
    assert validate(alert) == []
    assert validate(Trigger(ev.ALERT, params={"labels": ["severity"], "status": "pending"})) == [
        "params.labels: must map label names to strings (exact matches)",
        "params.status: must be firing or resolved, not 'pending'",
    ]
    firing = Event(
        "HighLatency",
        ev.ALERT,
        NOW,
        payload={"status": "firing", "labels": {"alertname": "HighLatency", "severity": "page"}},
    )
    assert matches(alert, firing)
    assert not matches(
        alert, Event("HighLatency", ev.ALERT, NOW, payload={**firing.payload, "status": "resolved"})
    )
    assert not matches(
        alert, Event("HighLatency", ev.ALERT, NOW, payload={"status": "firing", "labels": {}})
    )
    assert matches(Trigger(ev.HTTP), Event("anything", ev.HTTP, NOW))


def test_kafka_triggers_name_topics_and_nothing_else() -> None:
    good = Trigger(ev.KAFKA, names=("server_down",), params={"topics": ["monitoring.events"]})
    assert validate(good) == []
    assert validate(Trigger(ev.KAFKA)) == []
    assert validate(
        Trigger(
            ev.KAFKA,
            names=("",),
            kind="Node",
            params={"topic": "a", "topics": ["ok", "no space", "..", "x" * 250, 7]},
        )
    ) == [
        "names: '' is not an event name",
        "kind: a kafka trigger is about no object",
        "params.topic: unknown for a kafka trigger (did you mean 'topics'?); known: topics",
        "params.topics: 'no space' may hold only letters, digits, '.', '_' and '-'",
        "params.topics: '..' cannot be '.' or '..'",
        f"params.topics: {'x' * 250!r} is longer than 249 characters",
        "params.topics: 7 is not a topic name",
    ]
    assert validate(Trigger(ev.KAFKA, params={"topics": "monitoring.events"})) == [
        "params.topics: must be a non-empty list of topic names"
    ]


def test_kafka_matching_by_name_and_the_topic_it_was_read_from() -> None:
    trigger = Trigger(ev.KAFKA, names=("server_down",), params={"topics": ["monitoring"]})
    read = {"topic": "monitoring", "partition": 0, "offset": 7, "key": None}
    down = Event("server_down", ev.KAFKA, NOW, payload={"host": "db-1"}, origin=read)
    assert matches(trigger, down)
    assert not matches(trigger, Event("server_up", ev.KAFKA, NOW, origin=read))
    elsewhere = Event("server_down", ev.KAFKA, NOW, origin={**read, "topic": "other"})
    assert not matches(trigger, elsewhere)
    assert matches(Trigger(ev.KAFKA, names=("server_down",)), elsewhere)
    assert not matches(trigger, Event("server_down", ev.HTTP, NOW, origin=read))
    assert matches(Trigger(ev.KAFKA), Event("anything", ev.KAFKA, NOW))


def test_params_and_scope_helpers() -> None:
    assert duration_param({"for": "1m30s"}, "for") == 90
    assert duration_param({"for": 5}, "for") == 5
    assert duration_param({}, "for", 7) == 7
    with pytest.raises(ValueError, match=r"^params.for: must be a duration like 5m, not True$"):
        duration_param({"for": True}, "for")
    with pytest.raises(ValueError, match=r"^params.for: must not be negative"):
        duration_param({"for": "-1s"}, "for")
    assert number_param({"above": "90.5"}, "above") == 90.5
    with pytest.raises(ValueError, match=r"^params.above: must be a number"):
        number_param({"above": "lots"}, "above")
    scope = Scope.of(Trigger(ev.RESOURCE, namespaces=("prod",), selector="app=web"))
    assert scope.matches({"metadata": {"namespace": "prod", "labels": {"app": "web"}}})
    assert scope.matches({"metadata": {"labels": {"app": "web"}}})  # cluster-scoped
    assert not scope.matches({"metadata": {"namespace": "dev", "labels": {"app": "web"}}})
    assert not scope.matches(None)
    recent = Recent(2)
    assert [recent.first_time(x) for x in "aab"] == [True, False, True]
    assert recent.first_time("c")  # forgets "a"
    assert recent.first_time("a")
