"""What a ledger entry looks like in its ConfigMap: names and labels the API server
accepts, every field read back, and a foreign or damaged ConfigMap ignored."""

from __future__ import annotations

import datetime
import re

import pytest

from kubeops.respond.event import Event, ObjectRef
from kubeops.respond.ledger import (
    FAILED,
    LedgerEntry,
    action_id_of,
    configmap_name,
    from_configmap,
    label_value,
    to_data,
    watermark_name,
)

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@pytest.mark.parametrize(
    "rule",
    ["scale-on-cpu", "Scale On CPU/prod", "-x-", "ü" * 10, "a" * 100, "db.failover_1"],
)
def test_rule_names_become_valid_label_values_kept_apart(rule: str) -> None:
    value = label_value(rule)
    assert LABEL_VALUE.match(value), value
    assert len(value) <= 63
    assert label_value(rule + "!") != value


def test_a_valid_rule_name_is_its_own_label_value() -> None:
    assert label_value("scale-on-cpu") == "scale-on-cpu"


@pytest.mark.parametrize("daemon", ["respond", "Respond Prod", "a" * 300, "--"])
def test_names_are_dns_subdomains(daemon: str) -> None:
    name = watermark_name(daemon)
    assert DNS_SUBDOMAIN.match(name), name
    assert len(name) <= 253
    assert DNS_SUBDOMAIN.match(configmap_name("0123abcdef" * 5))
    assert configmap_name("0123abcdef" * 5) == "respond-" + ("0123abcdef" * 4)


def test_an_entry_reads_back_whole() -> None:
    event = Event(
        name="NodeNotReady",
        source="derived",
        time=datetime.datetime(2026, 1, 1, 10, 0, 0, 500, tzinfo=datetime.UTC),
        object={"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1", "uid": "u1"}},
        payload={"for": 300, "nested": {"a": [1, 2]}},
        identity="abc",
    )
    entry = LedgerEntry.for_action(
        "drain-notready", 1, "drain", event, nodes=("n1",), scale_percent=-50.0
    )
    assert entry.action_id == action_id_of("drain-notready", 1, event)
    finished = LedgerEntry(
        **{
            **{f: getattr(entry, f) for f in entry.__slots__},  # type: ignore[attr-defined]
            "state": FAILED,
            "holder": "replica-b",
            "run": "r1",
            "finished_at": datetime.datetime(2026, 1, 1, 10, 0, 1, tzinfo=datetime.UTC),
            "detail": "drain node/n1: Forbidden",
        }
    )
    data = to_data(finished)
    assert all(isinstance(v, str) for v in data.values())
    assert from_configmap({"data": data}) == finished
    assert finished.subject == ObjectRef("Node", "n1", uid="u1", api_version="v1")


def test_a_payload_too_large_is_not_kept() -> None:
    event = Event("x", "http", datetime.datetime.now(datetime.UTC), payload={"blob": "x" * 70_000})
    data = to_data(LedgerEntry.for_action("r", 0, "notify", event))
    assert "payload" not in data


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"actionId": "a", "rule": "r"},  # no claim time
        {"actionId": "a", "rule": "r", "claimedAt": "yesterday"},
        {"actionId": "a", "rule": "r", "claimedAt": "2026-01-01T00:00:00Z", "nodes": "[oops"},
        {"actionId": "a", "rule": "r", "claimedAt": "2026-01-01T00:00:00Z", "actionIndex": "x"},
    ],
)
def test_a_configmap_that_is_not_an_entry_is_none(data: object) -> None:
    assert from_configmap({"data": data}) is None
