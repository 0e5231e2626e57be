"""Bus credentials from Secrets on a real API server: the value read, and a missing
Secret or key said in one line naming the setting -- never the value."""

from __future__ import annotations

import base64

import pytest

from kubeops.api import Client
from kubeops.bus.config import (
    BusConfig,
    BusConfigError,
    Credential,
    SaslSettings,
    SecretKeyRef,
    TlsSettings,
    resolve_credentials,
)

pytestmark = pytest.mark.asyncio


def with_secret(name: str, key: str, namespace: str = "") -> BusConfig:
    ref = Credential(secret=SecretKeyRef(name=name, key=key, namespace=namespace))
    return BusConfig(brokers=("h:1",), sasl=SaslSettings("SCRAM-SHA-512", "kubeops", ref))


async def test_a_password_and_a_key_come_from_secrets(client: Client, kube_namespace: str) -> None:
    await client.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "kafka"},
            "data": {
                "password": base64.b64encode(b"s3cret\n").decode(),
                "tls.key": base64.b64encode(b"-----BEGIN PRIVATE KEY-----").decode(),
            },
        }
    )
    got = await resolve_credentials(with_secret("kafka", "password", kube_namespace), client)
    assert got.sasl_password == "s3cret"
    assert "s3cret" not in repr(got)
    config = BusConfig(
        brokers=("h:1",),
        tls=TlsSettings(cert_file="c.pem", key=Credential(secret=SecretKeyRef("kafka", "tls.key"))),
    )
    # No namespace: the client's (the daemon's own).
    assert (await resolve_credentials(config, client)).tls_key.startswith(b"-----BEGIN")

    with pytest.raises(BusConfigError) as caught:
        await resolve_credentials(with_secret("kafka", "passwd"), client)
    assert str(caught.value) == (
        "bus.sasl.passwordSecret kafka[passwd]: the Secret has no key 'passwd'"
    )
    with pytest.raises(BusConfigError) as caught:
        await resolve_credentials(with_secret("nope", "password", kube_namespace), client)
    assert str(caught.value).startswith(
        f"bus.sasl.passwordSecret {kube_namespace}/nope[password]: cannot read the Secret: "
    )
    assert "not found" in str(caught.value).lower()
