"""The receiver's reading of posted bodies, without a server: identities stable across
resends and leaders, every bad field named on one line."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubeops.respond.receiver import BadEvent, alert_events, http_event

AT = datetime.datetime(2026, 12, 5, 1, 2, 3, tzinfo=datetime.UTC)


def webhook(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4), as v0.31 sends it."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ServerDown"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "kubeops",
        "groupLabels": {"alertname": "ServerDown"},
        "commonLabels": {"alertname": "ServerDown"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def alert(
    instance: str, status: str = "firing", starts: str = "2026-12-05T01:00:00Z"
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "ServerDown", "instance": instance},
        "annotations": {"summary": f"{instance} is down"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": f"fp-{instance}",
    }


def test_one_event_per_alert_named_after_it_with_a_stable_identity() -> None:
    first = alert_events(webhook(alert("db-1"), alert("db-2")), received=AT)
    assert [e.name for e in first] == ["ServerDown", "ServerDown"]
    assert first[0].payload["labels"]["instance"] == "db-1"
    assert first[0].payload["receiver"] == "kubeops"
    # Resent later (group interval, another leader): the same occurrences.
    again = alert_events(webhook(alert("db-1")), received=AT + datetime.timedelta(minutes=5))
    assert again[0].identity == first[0].identity
    assert first[1].identity != first[0].identity
    resolved = alert_events(webhook(alert("db-1", "resolved"), status="resolved"))
    assert resolved[0].identity != first[0].identity
    refired = alert_events(webhook(alert("db-1", starts="2026-12-05T02:00:00Z")))
    assert refired[0].identity != first[0].identity


def test_a_posted_event_is_one_occurrence_per_id_or_per_minute() -> None:
    body = {"name": "server_down", "payload": {"server": "db-1", "n": 1}}
    one = http_event(body, received=AT)
    assert one.name == "server_down"
    assert one.payload == {"server": "db-1", "n": 1}
    reordered = {"name": "server_down", "payload": {"n": 1, "server": "db-1"}}
    assert (
        http_event(reordered, received=AT + datetime.timedelta(seconds=30)).identity == one.identity
    )
    assert http_event(body, received=AT + datetime.timedelta(minutes=1)).identity != one.identity
    with_id = http_event({**body, "id": "probe-7"}, received=AT)
    later = http_event({**body, "id": "probe-7"}, received=AT + datetime.timedelta(hours=1))
    assert with_id.identity == later.identity != one.identity


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("text", "body: expected a JSON object with name, payload and id"),
        ({"name": ""}, "name: expected a non-empty string"),
        ({"name": "a\nb"}, "name: expected at most 253 printable characters"),
        ({"name": "x", "payload": "p"}, "payload: expected a JSON object"),
        ({"name": "x", "id": ""}, "id: expected 1 to 253 characters"),
    ],
)
def test_bad_posted_events_name_the_field(body: object, message: str) -> None:
    with pytest.raises(BadEvent) as caught:
        http_event(body)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "body: expected Alertmanager's webhook JSON object"),
        ({}, "alerts: expected a list (is this an Alertmanager webhook?)"),
        ({"alerts": [1]}, "alerts[0]: expected an object"),
        ({"alerts": [{"labels": {"a": 1}}]}, "alerts[0].labels: expected an object of strings"),
        ({"alerts": [{"labels": {}}]}, "alerts[0].labels.alertname: missing"),
        (
            {"alerts": [{"labels": {"alertname": "X"}, "status": "odd"}]},
            "alerts[0].status: expected firing or resolved, not 'odd'",
        ),
    ],
)
def test_bad_webhooks_name_the_field(body: object, message: str) -> None:
    with pytest.raises(BadEvent) as caught:
        alert_events(body)
    assert str(caught.value) == message
