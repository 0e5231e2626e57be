"""ConfigMaps and Secrets built by kubeops.ops.config_data, created through the async and
the sync client, and checked against what the API server then holds."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeops.api import Client, SyncClient
from kubeops.config import load_config
from kubeops.errors import AlreadyExists, Forbidden, NotFound
from kubeops.ops import config_data
from kubeops.testenv import Cluster


def pem_pair(common_name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def test_a_configmap_from_every_source_is_what_the_server_holds(
    client: Client, kube_namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "app.yaml").write_text("replicas: 3\n")
    (tmp_path / "conf" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (tmp_path / "app.env").write_text("# settings\nLEVEL=debug\nURL=http://db/?a=b\n")
    (tmp_path / "motd").write_text("welcome ✓\n")
    built = config_data.configmap(
        "app",
        literals=["mode=blue"],
        files=[str(tmp_path / "conf"), f"banner={tmp_path / 'motd'}"],
        env_files=[tmp_path / "app.env"],
    )
    created = await config_data.create(client, built)
    assert created["metadata"]["namespace"] == kube_namespace

    held = await client.get("configmaps", "app")
    assert held["data"] == {
        "app.yaml": "replicas: 3\n",
        "banner": "welcome ✓\n",
        "LEVEL": "debug",
        "mode": "blue",
        "URL": "http://db/?a=b",
    }
    assert config_data.decoded(held)["logo.png"] == b"\x89PNG\r\n\x1a\n\x00\xff"


def test_secrets_of_every_type_are_what_the_server_holds(
    sync_client: SyncClient, tmp_path: Path
) -> None:
    blob = bytes(range(256))
    (tmp_path / "blob").write_bytes(blob)
    cert, key = pem_pair("web.example.com")
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    generic = config_data.secret(
        "generic", literals={"password": "s3cr=t ü"}, files=[str(tmp_path / "blob")]
    )
    tls = config_data.tls_secret("web-tls", tmp_path / "tls.crt", tmp_path / "tls.key")
    registry = config_data.docker_registry_secret(
        "pull", server="registry.example:5000", username="bot", password="p&ss", email="ci@x"
    )
    for built in (generic, tls, registry):
        config_data.create(sync_client, built)

    held = sync_client.get("secrets", "generic")
    assert held["type"] == "Opaque"  # the server's default
    assert config_data.decoded(held) == {"blob": blob, "password": "s3cr=t ü".encode()}

    held = sync_client.get("secrets", "web-tls")
    assert held["type"] == "kubernetes.io/tls"
    assert config_data.decoded(held) == {"tls.crt": cert, "tls.key": key}

    held = sync_client.get("secrets", "pull")
    assert held["type"] == "kubernetes.io/dockerconfigjson"
    docker_config = json.loads(config_data.decoded(held)[".dockerconfigjson"])
    assert docker_config == {
        "auths": {
            "registry.example:5000": {
                "username": "bot",
                "password": "p&ss",
                "email": "ci@x",
                "auth": base64.b64encode(b"bot:p&ss").decode(),
            }
        }
    }


async def test_a_server_dry_run_is_checked_but_not_stored(client: Client) -> None:
    answer = await config_data.create(
        client, config_data.configmap("dry", literals={"a": "b"}), dry_run=True
    )
    assert answer["data"] == {"a": "b"}
    with pytest.raises(NotFound):
        await client.get("configmaps", "dry")


async def test_creating_an_existing_object_fails_and_leaves_it_alone(client: Client) -> None:
    await config_data.create(client, config_data.secret("once", literals={"v": "1"}))
    with pytest.raises(AlreadyExists) as caught:
        await config_data.create(client, config_data.secret("once", literals={"v": "2"}))
    assert str(caught.value).startswith('create secrets "once" in namespace ')
    held = await client.get("secrets", "once")
    assert config_data.decoded(held) == {"v": b"1"}


async def test_a_subject_without_create_rights_gets_one_forbidden_message(
    kube_cluster: Cluster, kube_namespace: str
) -> None:
    kubeconfig = kube_cluster.service_account_kubeconfig(
        "cm-reader",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        kube_namespace,
    )
    async with Client(load_config(kubeconfig, namespace=kube_namespace)) as reader:
        with pytest.raises(Forbidden) as caught:
            await config_data.create(reader, config_data.configmap("nope", literals={"a": "b"}))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f'create configmaps "nope" in namespace "{kube_namespace}": Forbidden'
    )
    assert f"system:serviceaccount:{kube_namespace}:cm-reader" in message
    assert not kube_cluster.admin.exists(f"/api/v1/namespaces/{kube_namespace}/configmaps/nope")
