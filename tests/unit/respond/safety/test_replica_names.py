"""The names and records the replicas share: a shared-limits record survives its JSON,
and the ConfigMap and Lease names are valid however the daemon or replica is named."""

from __future__ import annotations

import re

import orjson

from kubeops.respond.heartbeat import lease_name
from kubeops.respond.shared_limits import Admitted, configmap_name

DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def test_an_admitted_action_survives_its_json() -> None:
    record = Admitted(1.5, "rule", "id", "added", "configmap/ns/a", "configmap/ns/b", ("n1",))
    text = orjson.dumps([record.as_json()])
    assert [Admitted.from_json(v) for v in orjson.loads(text)] == [record]
    assert Admitted.from_json(["not", "a", "record"]) is None
    assert Admitted.from_json([1.0, "r", "i", "n", "s", "t", "nodes?"]) is None


def test_names_are_valid_and_tell_different_replicas_apart() -> None:
    assert configmap_name("kubeops-respond") == "respond-limits-kubeops-respond"
    assert lease_name("replica-a") == "respond-replica-replica-a"
    hostish = [lease_name("web-0_1b2c"), lease_name("web-0_1B2C"), lease_name("web-0-1b2c")]
    assert len(set(hostish)) == 3
    for name in (*hostish, configmap_name("Respond_Prod"), lease_name("x" * 300)):
        assert DNS_SUBDOMAIN.fullmatch(name), name
        assert len(name) <= 253
