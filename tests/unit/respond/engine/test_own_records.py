"""The daemon's own bookkeeping never triggers a rule: a rule on the ConfigMaps of the
ledger's namespace would otherwise answer each action's claim with another action."""

from __future__ import annotations

import datetime

import pytest

from kubeops.respond import heartbeat, ledger, shared_limits
from kubeops.respond.engine import trigger_matches
from kubeops.respond.event import OWN_RECORD_LABELS, RESOURCE, Event
from kubeops.respond.model import Trigger

TRIGGER = Trigger(RESOURCE, names=("added",), kind="ConfigMap", namespaces=("ops",))


def added(labels: dict[str, str]) -> Event:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "respond-0a1b", "namespace": "ops", "labels": labels},
    }
    return Event("added", RESOURCE, datetime.datetime.now(datetime.UTC), object=obj)


def test_every_bookkeeping_label_is_known_as_the_daemons_own() -> None:
    for label in (
        ledger.LEDGER_LABEL,
        ledger.WATERMARK_LABEL,
        shared_limits.LIMITS_LABEL,
        heartbeat.REPLICA_LABEL,
    ):
        assert label in OWN_RECORD_LABELS


@pytest.mark.parametrize("label", OWN_RECORD_LABELS)
def test_an_event_about_the_daemons_own_record_matches_no_rule(label: str) -> None:
    assert not trigger_matches(TRIGGER, added({label: "true"}))
    assert not trigger_matches(Trigger(""), added({label: "true"}))


def test_the_same_configmap_without_those_labels_matches() -> None:
    assert trigger_matches(TRIGGER, added({"app": "shop"}))
    assert trigger_matches(TRIGGER, added({}))
