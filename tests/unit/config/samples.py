"""Sample kubeconfigs, certificates and exec plugins for the config tests."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_yaml(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def kubeconfig_doc(
    *,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str | None = None,
) -> dict[str, Any]:
    """A kubeconfig document from name -> body mappings."""
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": b} for n, b in (clusters or {}).items()],
        "users": [{"name": n, "user": b} for n, b in (users or {}).items()],
        "contexts": [{"name": n, "context": b} for n, b in (contexts or {}).items()],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


def simple_doc(
    *, server: str = "https://127.0.0.1:6443", user: dict[str, Any] | None = None, **context: Any
) -> dict[str, Any]:
    """One cluster 'c', one user 'u' and current context 'ctx' joining them."""
    return kubeconfig_doc(
        clusters={"c": {"server": server}},
        users={"u": user if user is not None else {"token": "tok"}},
        contexts={"ctx": {"cluster": "c", "user": "u", **context}},
        current="ctx",
    )


def write_script(path: Path, body: str) -> Path:
    """An executable Python script (run by this interpreter) with ``body`` as its code."""
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def process_gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (absent or a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@dataclass(frozen=True)
class Pair:
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class PKI:
    ca: Pair
    server: Pair  # for 127.0.0.1 and kubernetes.default
    client: Pair  # CN=alice, O=devs
    other_key_pem: bytes  # a key that matches no certificate
    issue: Callable[..., Pair]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_pki() -> PKI:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def issue(common_name: str, *, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> Pair:
        key = _key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devs"),
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    ]
                )
            )
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return Pair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))

    return PKI(
        ca=Pair(ca_cert.public_bytes(serialization.Encoding.PEM), _pem_key(ca_key)),
        server=issue("apiserver", dns=("kubernetes.default",), ips=("127.0.0.1",)),
        client=issue("alice"),
        other_key_pem=_pem_key(_key()),
        issue=issue,
    )
