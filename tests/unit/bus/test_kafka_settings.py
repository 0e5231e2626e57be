"""The bus settings as the Kafka client's arguments, and a refusal said in one line."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from kubeops.bus import kafka
from kubeops.bus.config import (
    BusConfig,
    BusConfigError,
    Credential,
    ResolvedCredentials,
    SaslSettings,
    TlsSettings,
)

SASL = SaslSettings("SCRAM-SHA-512", "kubeops", Credential(file="pw"))


def test_plaintext_sasl_and_tls_protocols() -> None:
    assert kafka.client_settings(BusConfig(brokers=("a:1",)), ResolvedCredentials()) == {
        "bootstrap_servers": ["a:1"],
        "client_id": "kubeops",
        "security_protocol": "PLAINTEXT",
    }
    got = kafka.client_settings(
        BusConfig(brokers=("a:1",), sasl=SASL), ResolvedCredentials(sasl_password="pw1")
    )
    assert got["security_protocol"] == "SASL_PLAINTEXT"
    assert (got["sasl_mechanism"], got["sasl_plain_username"], got["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "kubeops",
        "pw1",
    )
    got = kafka.client_settings(
        BusConfig(brokers=("a:1",), sasl=SASL, tls=TlsSettings(server_name="kafka.example")),
        ResolvedCredentials(),
    )
    assert got["security_protocol"] == "SASL_SSL"
    assert isinstance(got["ssl_context"], ssl.SSLContext)
    assert got["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_an_unloadable_ca_file_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    for ca, cause in (("missing.pem", "No such file"), (str(tmp_path / "ca.pem"), "")):
        config = BusConfig(brokers=("a:1",), tls=TlsSettings(ca_file=ca))
        with pytest.raises(
            BusConfigError, match=rf"^bus\.tls\.caFile {ca}: cannot load: .*{cause}"
        ):
            kafka.client_settings(config, ResolvedCredentials())


def test_refusals_name_the_setting_at_fault() -> None:
    config = BusConfig(brokers=("a:1", "b:2"), sasl=SASL)
    describe = kafka.describe_connect_error
    assert describe(
        kafka.KafkaConnectionError("Unable to bootstrap"),
        config,
        cause=ConnectionRefusedError(111, "refused"),
    ).startswith("bus.brokers: no broker reachable at a:1, b:2: ")
    assert describe(kafka.SaslAuthenticationFailed("bad"), config, what="publishing") == (
        "bus.sasl: publishing: a:1, b:2 refused 'kubeops': [Error 58] SaslAuthenticationFailed: bad"
    )
    tls = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert describe(kafka.KafkaConnectionError("x"), config, cause=tls).startswith(
        "bus.tls: TLS with a:1, b:2 failed: "
    )
