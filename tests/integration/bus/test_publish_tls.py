"""TLS to a real broker: a listener that wants the client's certificate takes ours and
the CA we trust; a broker certificate that does not match tls.serverName, or one from a
CA we do not trust, is one line naming bus.tls at start."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from kubeops.bus.config import (
    BusConfig,
    BusConfigError,
    Credential,
    PublishSettings,
    TlsSettings,
    resolve_credentials,
)
from kubeops.bus.publisher import Publisher
from kubeops.respond.event import Event, now
from kubeops.testenv.kafka import Kafka
from kubeops.testenv.pki import ClusterPKI, create_cluster_pki
from kubeops.testenv.ports import free_port


@pytest.fixture
def pki(tmp_path: Path) -> ClusterPKI:
    return create_cluster_pki(tmp_path / "pki", "bus")


@pytest.fixture
def tls_bootstrap(pki: ClusterPKI, tmp_path: Path) -> Iterator[str]:
    """A broker of the test's own with a second listener on TLS that requires a client
    certificate (the serving certificate names localhost, kubernetes.default, 127.0.0.1)."""
    keystore = tmp_path / "broker.pem"
    keystore.write_bytes(pki.apiserver.key_pem + pki.apiserver.cert_pem)
    broker = Kafka()
    port = free_port()
    broker.overrides.update(
        {
            "listeners": f"PLAINTEXT://127.0.0.1:{broker.port},TLS://127.0.0.1:{port},"
            f"CONTROLLER://127.0.0.1:{broker.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker.port},TLS://127.0.0.1:{port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,TLS:SSL,CONTROLLER:PLAINTEXT",
            "listener.name.tls.ssl.keystore.type": "PEM",
            "listener.name.tls.ssl.keystore.location": str(keystore),
            "listener.name.tls.ssl.truststore.type": "PEM",
            "listener.name.tls.ssl.truststore.location": str(pki.ca.cert_file),
            "listener.name.tls.ssl.client.auth": "required",
        }
    )
    try:
        broker.start()
        yield f"127.0.0.1:{port}"
    finally:
        broker.close()


def config(bootstrap: str, tls: TlsSettings, spool: Path) -> BusConfig:
    return BusConfig(
        brokers=(bootstrap,),
        publish=PublishSettings(topic="tls", cluster="c", spool_dir=str(spool)),
        tls=tls,
    )


@pytest.mark.asyncio
async def test_tls_with_a_client_certificate_and_its_refusals(
    tls_bootstrap: str, pki: ClusterPKI, tmp_path: Path
) -> None:
    ours = TlsSettings(
        ca_file=str(pki.ca.cert_file),
        cert_file=str(pki.admin.cert_file),
        key=Credential(file=str(pki.admin.key_file)),
        server_name="kubernetes.default",
    )
    good = config(tls_bootstrap, ours, tmp_path / "spool-good")
    publisher = Publisher(good, await resolve_credentials(good), CollectorRegistry())
    await publisher.start()
    assert publisher.publish(Event("ping", "http", now(), {"n": 1}, identity="p1"))
    assert await publisher.flush(30)
    assert publisher.metrics.value("kubeops_bus_published_total") == 1
    await publisher.close()

    other = create_cluster_pki(tmp_path / "other", "other")
    for name, tls, cause in [
        ("name", TlsSettings(**{**_fields(ours), "server_name": "kafka.example"}), "hostname mismatch"),
        ("ca", TlsSettings(**{**_fields(ours), "ca_file": str(other.ca.cert_file)}), "certificate verify failed"),
    ]:  # fmt: skip
        bad = config(tls_bootstrap, tls, tmp_path / f"spool-{name}")
        refused = Publisher(bad, await resolve_credentials(bad), CollectorRegistry())
        with pytest.raises(BusConfigError) as caught:
            await asyncio.wait_for(refused.start(), 60)
        await refused.close()
        message = str(caught.value)
        assert message.startswith(f"bus.tls: publishing to tls: TLS with {tls_bootstrap} failed: ")
        assert cause in message.lower(), message
        assert "\n" not in message


def _fields(tls: TlsSettings) -> dict[str, object]:
    return {name: getattr(tls, name) for name in ("ca_file", "cert_file", "key", "server_name")}
