"""The ``bus:`` settings: a good mapping becomes a BusConfig, every mistake is one line
naming the field (and, through the rules loader, file:line), credentials never show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubeops.bus.config import (
    DEFAULT_SPOOL_BYTES,
    BusConfig,
    BusConfigError,
    Credential,
    ResolvedCredentials,
    SecretKeyRef,
    parse_bus,
    resolve_credentials,
)
from kubeops.respond.rules import RuleError, load_rules

FULL = {
    "brokers": ["127.0.0.1:9092", "kafka-1.kafka:9093", "[::1]:9094"],
    "clientId": "me",
    "publish": {
        "topic": "kubeops.events",
        "cluster": "prod-eu",
        "sources": ["resource", "derived"],
        "spool": {"dir": "/var/spool/x", "maxBytes": "64Mi"},
    },
    "consume": {"topics": ["kubeops.events", "monitoring.events"], "group": "kubeops-respond"},
    "tls": {"caFile": "ca.pem", "certFile": "c.pem", "keySecret": {"name": "k", "key": "tls.key"}},
    "sasl": {"mechanism": "SCRAM-SHA-512", "username": "u", "passwordFile": "pw"},
}


def parse(value: Any) -> tuple[BusConfig | None, list[str]]:
    found: list[str] = []
    config = parse_bus(value, lambda path, cause: found.append(f"{path}: {cause}"))
    return config, found


def test_a_full_mapping_parses_to_its_settings() -> None:
    config, found = parse(FULL)
    assert found == []
    assert config is not None
    assert config.brokers == ("127.0.0.1:9092", "kafka-1.kafka:9093", "[::1]:9094")
    assert config.client_id == "me"
    assert config.publish is not None
    assert config.publish.spool_max_bytes == 64 * 1024 * 1024
    assert config.publish.sources == ("resource", "derived")
    assert config.consume is not None
    assert config.consume.group == "kubeops-respond"
    assert config.distributed
    assert config.tls is not None
    assert config.tls.key == Credential(secret=SecretKeyRef(name="k", key="tls.key"))
    assert config.sasl is not None
    assert config.sasl.password == Credential(file="pw")


def test_defaults_and_a_comma_separated_broker_list() -> None:
    config, found = parse(
        {"brokers": "a:1,b:2", "publish": {"topic": "t", "cluster": "c"}, "tls": True}
    )
    assert found == []
    assert config is not None
    assert config.brokers == ("a:1", "b:2")
    assert config.client_id == "kubeops"
    assert config.publish is not None
    assert config.publish.spool_max_bytes == DEFAULT_SPOOL_BYTES
    assert config.tls is not None
    assert config.tls.ca_file == ""
    assert not config.distributed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"brokers": [], "consume": {"topics": ["t"], "group": "g"}}, "brokers: required"),
        ({"brokers": ["nohost"], "consume": {"topics": ["t"], "group": "g"}}, "brokers[0]: 'nohost' is not host:port"),
        ({"brokers": ["h:99999"], "consume": {"topics": ["t"], "group": "g"}}, "brokers[0]: 'h:99999' is not host:port"),
        ({"brokers": ["h:1"]}, ": set publish, consume or both"),
        ({"brokers": ["h:1"], "publsh": {}}, "publsh: unknown key (did you mean 'publish'?)"),
        ({"brokers": ["h:1"], "consume": {"topics": ["bad topic"], "group": "g"}}, "consume.topics[0]: 'bad topic' must be 1-249"),
        ({"brokers": ["h:1"], "consume": {"topics": [".."], "group": "g"}}, "consume.topics[0]: '..' must be"),
        ({"brokers": ["h:1"], "consume": {"topics": ["t"]}}, "consume.group: required"),
        ({"brokers": ["h:1"], "consume": {"topics": ["t"], "group": "g", "groop": 1}}, "consume.groop: unknown key (did you mean 'group'?)"),
        ({"brokers": ["h:1"], "publish": {"topic": "t"}}, "publish.cluster: required"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c", "sources": ["resorce"]}}, "publish.sources[0]: unknown source 'resorce' (did you mean 'resource'?)"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c", "sources": ["kafka"]}}, "publish.sources[0]: unknown source 'kafka'"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c", "spool": {"maxBytes": "lots"}}}, "publish.spool.maxBytes: must be a size like 256Mi"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c", "spool": {"maxBytes": 10}}}, "publish.spool.maxBytes: must be at least 1Mi"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c"}, "sasl": {"mechanism": "scram-sha-256", "username": "u", "passwordFile": "f"}}, "sasl.mechanism: unknown mechanism 'scram-sha-256' (did you mean 'SCRAM-SHA-256'?)"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c"}, "sasl": {"mechanism": "PLAIN", "username": "u"}}, "sasl.passwordFile: required: passwordFile or passwordSecret"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c"}, "sasl": {"mechanism": "PLAIN", "username": "u", "passwordFile": "f", "passwordSecret": {"name": "s", "key": "k"}}}, "sasl.passwordSecret: set passwordFile or passwordSecret, not both"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c"}, "sasl": {"mechanism": "PLAIN", "username": "u", "passwordSecret": {"name": "s"}}}, "sasl.passwordSecret.key: required"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c"}, "tls": {"certFile": "c"}}, "tls.keyFile: required with certFile"),
        ({"brokers": ["h:1"], "publish": {"topic": "t", "cluster": "c"}, "tls": {"keyFile": "k"}}, "tls.certFile: required with a client key"),
        ("brokers", ": must be a mapping"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_naming_the_field(value: Any, expected: str) -> None:
    config, found = parse(value)
    assert config is None
    assert any(line.startswith(expected) for line in found), found


def test_the_rules_loader_reports_bus_problems_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules: []\nbus:\n  brokers: [h:1]\n  publish:\n    topic: t\n    cluster: c\n"
        "    spool: {maxbytes: 1Gi}\n"
    )
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    assert caught.value.problems == (
        f"{path}:7: bus: publish.spool.maxbytes: unknown key (did you mean 'maxBytes'?); "
        "known: dir, maxBytes",
    )


def test_the_bus_key_is_set_once_over_all_files(tmp_path: Path) -> None:
    good = "bus: {brokers: [h:1], consume: {topics: [t], group: g}}\n"
    (tmp_path / "a.yaml").write_text("rules: []\n" + good)
    ruleset = load_rules([tmp_path / "a.yaml"])
    assert ruleset.bus is not None
    assert ruleset.bus.consume is not None
    assert ruleset.bus.consume.topics == ("t",)
    (tmp_path / "b.yaml").write_text(good)
    with pytest.raises(RuleError) as caught:
        load_rules([tmp_path])
    assert caught.value.problems == (
        f"{tmp_path / 'b.yaml'}:1: bus: set again (first set at {tmp_path / 'a.yaml'}:2); set it once",
    )


def test_without_a_bus_key_there_is_no_bus(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules: []\n")
    assert load_rules([tmp_path / "a.yaml"]).bus is None


def config_with(**credentials: Any) -> BusConfig:
    config, found = parse(
        {"brokers": ["h:1"], "consume": {"topics": ["t"], "group": "g"}, **credentials}
    )
    assert found == []
    assert config is not None
    return config


async def test_credentials_are_read_from_files_and_never_shown(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-pass\n")
    (tmp_path / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nxyz\n")
    config = config_with(
        sasl={"mechanism": "PLAIN", "username": "u", "passwordFile": str(tmp_path / "pw")},
        tls={"certFile": "c.pem", "keyFile": str(tmp_path / "key.pem")},
    )
    got = await resolve_credentials(config)
    assert got.sasl_password == "s3cret-pass"
    assert got.tls_key.startswith(b"-----BEGIN")
    for text in (repr(got), str(got), repr(config)):
        assert "s3cret" not in text
        assert "xyz" not in text
    assert repr(ResolvedCredentials()) == "ResolvedCredentials(sasl_password=unset, tls_key=unset)"


async def test_a_missing_file_or_secret_names_the_setting(tmp_path: Path) -> None:
    config = config_with(
        sasl={"mechanism": "PLAIN", "username": "u", "passwordFile": str(tmp_path / "nope")}
    )
    with pytest.raises(BusConfigError, match=r"^bus\.sasl\.passwordFile \S*nope: "):
        await resolve_credentials(config)
    config = config_with(
        sasl={"mechanism": "PLAIN", "username": "u", "passwordSecret": {"name": "s", "key": "k"}}
    )
    with pytest.raises(BusConfigError, match=r"^bus\.sasl\.passwordSecret s\[k\]: no cluster"):
        await resolve_credentials(config)
