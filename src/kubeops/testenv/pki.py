"""Per-run certificates and keys for a local cluster.

Every cluster gets its own CA, an API server serving certificate valid for the
loopback addresses and the in-cluster service names, client certificates for
the admin and for each control-plane component, and a service-account signing
key.  The aggregation layer gets what a real cluster gives it: a front-proxy CA
and the client certificate the API server proxies to extension API servers
(metrics-server) with, plus a client certificate metrics-server itself uses.  ECDSA P-256 keys are used because they are generated in microseconds,
which keeps a cluster's start-up dominated by the API server, not by RSA.
Every file is written by :func:`kubeops.config.files.write_private`: private keys
are never readable by another user, not even while they are being written.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeops.config.files import write_private

# Certificates and public keys are public; private keys are 0600 from their first byte.
PUBLIC_MODE = 0o644
_VALIDITY = datetime.timedelta(days=365)
_SERVING_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
# The first address of testenv's service range: the in-cluster "kubernetes" Service.
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
_SERVICE_IP = "10.0.0.1"


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM private key, both also written to disk."""

    cert_file: Path
    key_file: Path

    @property
    def cert_pem(self) -> bytes:
        """The certificate, PEM-encoded."""
        return self.cert_file.read_bytes()

    @property
    def key_pem(self) -> bytes:
        """The private key, PEM-encoded."""
        return self.key_file.read_bytes()


@dataclass(frozen=True)
class ClusterPKI:
    """Everything a cluster's components and its admin need to authenticate."""

    ca: KeyPair
    apiserver: KeyPair
    admin: KeyPair
    controller_manager: KeyPair
    scheduler: KeyPair
    service_account_key: Path
    service_account_pub: Path
    front_proxy_ca: KeyPair
    front_proxy_client: KeyPair
    metrics_server: KeyPair


# The name the API server's front-proxy client certificate carries, and the only
# one extension API servers accept user headers from.
FRONT_PROXY_CLIENT = "front-proxy-client"
METRICS_SERVER_USER = "kubeops-testenv:metrics-server"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> KeyPair:
    cert_file = directory / f"{name}.crt"
    key_file = directory / f"{name}.key"
    write_private(cert_file, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_MODE)
    write_private(key_file, _private_pem(key))
    return KeyPair(cert_file, key_file)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _create_ca(directory: Path, name: str, common_name: str) -> KeyPair:
    ca_key = _key()
    ca_name = _name(common_name)
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
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
    return _write(directory, name, ca_cert, ca_key)


def _issue(
    directory: Path,
    ca: KeyPair,
    name: str,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName] | None = None,
) -> KeyPair:
    """A certificate for ``subject`` signed by ``ca``, written as ``name``.crt/.key."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca.key_file} is not an ECDSA key")
    key = _key()
    builder = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _write(directory, name, builder.sign(ca_key, hashes.SHA256()), key)


def create_cluster_pki(directory: Path, cluster: str) -> ClusterPKI:
    """Create the CA, serving, client and service-account material under ``directory``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = _create_ca(directory, "ca", f"kubeops-testenv-ca-{cluster}")

    serving_sans: list[x509.GeneralName] = [x509.DNSName(n) for n in _SERVING_NAMES]
    serving_sans += [
        x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "::1", _SERVICE_IP)
    ]
    client = ExtendedKeyUsageOID.CLIENT_AUTH
    server = ExtendedKeyUsageOID.SERVER_AUTH
    _issue(directory, ca, "apiserver", _name("kube-apiserver"), server, serving_sans)
    _issue(directory, ca, "admin", _name("kubeops-admin", ("system:masters",)), client)
    _issue(directory, ca, "controller-manager", _name("system:kube-controller-manager"), client)
    _issue(directory, ca, "scheduler", _name("system:kube-scheduler"), client)

    sa_key = _key()
    sa_key_file = directory / "service-account.key"
    sa_pub_file = directory / "service-account.pub"
    write_private(sa_key_file, _private_pem(sa_key))
    write_private(
        sa_pub_file,
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        PUBLIC_MODE,
    )
    _create_aggregation_pki(directory, ca, cluster)
    return load_cluster_pki(directory)


def _create_aggregation_pki(directory: Path, ca: KeyPair, cluster: str) -> None:
    """The front-proxy CA and client, and metrics-server's client certificate."""
    client = ExtendedKeyUsageOID.CLIENT_AUTH
    front_ca = _create_ca(directory, "front-proxy-ca", f"kubeops-testenv-front-proxy-ca-{cluster}")
    _issue(directory, front_ca, "front-proxy-client", _name(FRONT_PROXY_CLIENT), client)
    _issue(directory, ca, "metrics-server", _name(METRICS_SERVER_USER), client)


def load_cluster_pki(directory: Path) -> ClusterPKI:
    """The PKI a previous :func:`create_cluster_pki` wrote (used on restart); one
    written before the aggregation layer's material existed gets it now."""

    def pair(name: str) -> KeyPair:
        return KeyPair(directory / f"{name}.crt", directory / f"{name}.key")

    if not (directory / "metrics-server.key").exists():
        cluster = directory.parent.name
        _create_aggregation_pki(directory, pair("ca"), cluster)

    return ClusterPKI(
        pair("ca"),
        pair("apiserver"),
        pair("admin"),
        pair("controller-manager"),
        pair("scheduler"),
        directory / "service-account.key",
        directory / "service-account.pub",
        pair("front-proxy-ca"),
        pair("front-proxy-client"),
        pair("metrics-server"),
    )
