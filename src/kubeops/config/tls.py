"""TLS material: checking PEM data early, and building the client's SSL context.

Certificates and keys are checked when the config is loaded, so that a broken
kubeconfig fails with a message naming the field instead of an OpenSSL error
on the first request.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from kubeops.config.errors import ConfigError


class InsecureTLSWarning(UserWarning):
    """A cluster is used with insecure-skip-tls-verify: its identity is not checked."""


_warned_insecure: set[str] = set()


def check_ca_bundle(data: bytes, what: str) -> None:
    """Fail unless ``data`` holds at least one PEM certificate; ``what`` names the field."""
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(f"{what} is not a PEM certificate bundle ({exc})") from None


def check_client_pair(cert_pem: bytes, key_pem: bytes, what: str) -> None:
    """Fail unless the certificate and the unencrypted key are PEM and belong together."""
    try:
        cert = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError as exc:
        raise ConfigError(f"client certificate of {what} is not PEM ({exc})") from None
    try:
        key = serialization.load_pem_private_key(
            key_pem, password=None, unsafe_skip_rsa_key_validation=True
        )
    except TypeError:
        raise ConfigError(
            f"client key of {what} is encrypted; kubeconfig keys must not be"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"client key of {what} is not a PEM private key ({exc})") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if cert.public_key().public_bytes(enc, spki) != key.public_key().public_bytes(enc, spki):
        raise ConfigError(f"client certificate and client key of {what} do not match")


def warn_insecure(server: str) -> None:
    """Warn once per server that its certificate is not verified."""
    if server in _warned_insecure:
        return
    _warned_insecure.add(server)
    warnings.warn(
        f"TLS verification is off for {server} (insecure-skip-tls-verify): "
        "anyone on the network path can impersonate this API server",
        InsecureTLSWarning,
        stacklevel=4,
    )


def client_context(
    *,
    server: str,
    ca_data: bytes | None,
    insecure: bool,
    client_cert_pem: bytes | None,
    client_key_pem: bytes | None,
    source: str,
) -> ssl.SSLContext:
    """An SSL context for talking to ``server`` as described by a ClusterConfig."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if insecure:
        warn_insecure(server)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_data is not None:
        # A configured CA replaces the system roots, as in client-go.
        try:
            ctx.load_verify_locations(cadata=ca_data.decode("ascii", errors="replace"))
        except ssl.SSLError as exc:
            raise ConfigError(f"CA data of {source} cannot be loaded ({exc.reason})") from None
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if client_cert_pem is not None and client_key_pem is not None:
        _load_client_pair(ctx, client_cert_pem, client_key_pem, source)
    return ctx


def _load_client_pair(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes, source: str) -> None:
    # The ssl module only loads certificates from files: write both to a file in
    # a private directory (mode 0700, file 0600) and remove it straight away.
    with tempfile.TemporaryDirectory(prefix="kubeops-tls-") as directory:
        path = Path(directory) / "client.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
        try:
            ctx.load_cert_chain(path)
        except ssl.SSLError as exc:
            raise ConfigError(
                f"client certificate and key of {source} cannot be loaded ({exc.reason})"
            ) from None
