"""The wire format: kubeops events round-trip exactly through CloudEvents JSON; other
producers' messages become ``kafka`` events; anything else is one line of cause."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeops.bus.cloudevents import DecodeError, from_message, key_of, to_cloudevent
from kubeops.respond.event import KAFKA, Event, identity_of

T = datetime.datetime(2026, 12, 5, 9, 30, 1, 123456, tzinfo=datetime.UTC)
CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "7"},
    "data": {"a": "1"},
}


def decode(value: bytes, key: bytes | None = b"k", offset: int = 5) -> Event:
    return from_message(value, topic="t", partition=2, offset=offset, key=key)


def test_a_resource_event_becomes_the_contracts_cloudevent() -> None:
    event = Event("modified", "resource", T, {"x": 1}, CM, {**CM, "data": {}}, identity="abc")
    doc = orjson.loads(to_cloudevent(event, "prod-eu"))
    assert doc == {
        "specversion": "1.0",
        "id": "abc",
        "source": "kubeops://prod-eu",
        "type": "io.kubeops.resource.modified",
        "time": "2026-12-05T09:30:01.123456+00:00",
        "subject": "ConfigMap/shop/web",
        "datacontenttype": "application/json",
        "kubeopssource": "resource",
        "kubeopsname": "modified",
        "data": {"object": CM, "oldObject": {**CM, "data": {}}, "payload": {"x": 1}},
    }
    assert key_of(event, "prod-eu") == b"prod-eu/shop/ConfigMap/web"
    back = decode(to_cloudevent(event, "prod-eu"))
    assert back.origin == {"topic": "t", "partition": 2, "offset": 5, "key": "k"}
    assert dataclasses.replace(back, origin={}) == event


def test_an_event_without_an_object_is_keyed_by_source_and_name() -> None:
    event = Event("nightly", "schedule", T, identity="i")
    assert key_of(event, "c") == b"c/schedule/nightly"
    doc = orjson.loads(to_cloudevent(event, "c"))
    assert "subject" not in doc
    assert doc["data"] == {"payload": {}}


def test_an_event_without_identity_gets_a_stable_id() -> None:
    event = Event("x", "http", T)
    first = orjson.loads(to_cloudevent(event, "c"))["id"]
    assert first
    assert first == orjson.loads(to_cloudevent(event, "c"))["id"]


def test_a_foreign_cloudevent_is_a_kafka_event_with_its_data() -> None:
    ce = {
        "specversion": "1.0",
        "id": "42",
        "source": "nagios://dc1",
        "type": "server_down",
        "time": "2026-12-05T09:00:00Z",
        "data": {"host": "db1"},
    }
    event = decode(orjson.dumps(ce), key=None)
    assert (event.source, event.name, dict(event.payload)) == (
        KAFKA,
        "server_down",
        {"host": "db1"},
    )
    assert event.identity == identity_of("42", "nagios://dc1")
    assert event.time == datetime.datetime(2026, 12, 5, 9, tzinfo=datetime.UTC)
    assert event.origin["key"] is None
    assert decode(orjson.dumps({**ce, "data": "text"})).payload == {"data": "text"}


def test_plain_json_is_a_kafka_event_identified_by_where_it_was_read() -> None:
    event = decode(b'{"name": "server_down", "payload": {"host": "db1"}}', offset=9)
    assert (event.source, event.name, dict(event.payload)) == (
        KAFKA,
        "server_down",
        {"host": "db1"},
    )
    assert event.identity == identity_of("t", 2, 9)
    assert decode(b'{"name": "ping"}').payload == {}


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (b"\xff not json", "not JSON: "),
        (b"[1, 2]", "not a JSON object but list"),
        (b'{"payload": {}}', "neither a CloudEvent nor"),
        (b'{"name": "x", "payload": 3}', "payload must be a JSON object, not int"),
        (b'{"specversion": "1.0", "id": "1", "source": "s"}', "a CloudEvent without 'type'"),
        (b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "time": "yesterday"}', "time 'yesterday' is not RFC 3339"),
        (b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "kubeopssource": "resource", "kubeopsname": "added", "time": "2026-01-01T00:00:00Z", "data": []}', "a kubeops CloudEvent whose data is not"),
        (b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "kubeopssource": "resource", "kubeopsname": "added", "data": {}}', "a kubeops CloudEvent without its time"),
    ],
)  # fmt: skip
def test_an_undecodable_message_is_one_line_of_cause(value: bytes, cause: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(value)
    assert str(caught.value).startswith(cause)
    assert "\n" not in str(caught.value)


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(text, json_values, max_size=5)
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
times = st.datetimes(
    min_value=datetime.datetime(1970, 1, 2),
    timezones=st.sampled_from(
        [datetime.UTC, datetime.timezone(datetime.timedelta(hours=5, minutes=30))]
    ),
)


@st.composite
def kube_objects(draw: Any) -> dict[str, Any]:
    obj = draw(json_objects)
    obj["kind"] = draw(names)
    obj["metadata"] = {"name": draw(names), "namespace": draw(text)}
    return obj


events = st.builds(
    Event,
    name=names,
    source=names,
    time=times,
    payload=json_objects,
    object=st.none() | kube_objects(),
    old_object=st.none() | json_objects,
    identity=names,
)


@given(events, names)
def test_every_kubeops_event_round_trips_exactly(event: Event, cluster: str) -> None:
    back = decode(to_cloudevent(event, cluster))
    assert dataclasses.replace(back, origin={}) == event
    assert back.time.utcoffset() == event.time.utcoffset()


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_an_event_or_a_decode_error(value: bytes) -> None:
    cause = ""
    try:
        event = decode(value)
    except DecodeError as err:
        cause = str(err)
    else:
        assert event.name
    assert "\n" not in cause
