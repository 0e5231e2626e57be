"""TLS material: checking PEM data early, and building the client's SSL context.

Certificates and keys are checked when the config is loaded, so that a broken
kubeconfig fails with a message naming the field instead of an OpenSSL error
on the first request.  :func:`key_pair_problem` is the one check of a
certificate and its private key; TLS Secrets (``kubeops.ops.config_data``) use it too.
The checks ask the ``ssl`` module first, which the connection needs anyway, and
import ``cryptography`` (~20 ms) only to say what is wrong with material it refused.
"""

from __future__ import annotations

import os
import re
import ssl
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kubeops.config.errors import ConfigError
from kubeops.config.redact import redact_url


class InsecureTLSWarning(UserWarning):
    """A cluster is used with insecure-skip-tls-verify: its identity is not checked."""


_warned_insecure: set[str] = set()


def check_ca_bundle(data: bytes, what: str) -> None:
    """Fail unless ``data`` holds at least one PEM certificate; ``what`` names the field."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=_ascii(data))
        return
    except (ssl.SSLError, ValueError):
        pass  # cryptography says what is wrong, or accepts it as it always did
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(f"{what} is not a PEM certificate bundle ({exc})") from None


@dataclass(frozen=True)
class KeyPairProblem:
    """Why a certificate and a private key cannot be used together.

    ``part`` is what is wrong: the ``certificate``, the ``key``, or the ``pair`` (each
    is fine alone but the key is not the certificate's).  ``detail`` completes a
    sentence about that part (``is not PEM (no -----BEGIN CERTIFICATE----- block)``);
    ``swapped`` says the certificate holds a private key, ``encrypted`` that the key
    is encrypted, and ``subject`` names the certificate of a mismatched pair.
    """

    part: Literal["certificate", "key", "pair"]
    detail: str
    swapped: bool = False
    encrypted: bool = False
    subject: str = ""


def key_pair_problem(cert_pem: bytes, key_pem: bytes) -> KeyPairProblem | None:
    """What keeps ``cert_pem`` (a PEM certificate, the first of a chain) and ``key_pem`` (its
    unencrypted PEM private key) from going together, or None when nothing does.

    The one check of certificate/key pairs: kubeconfig client credentials, exec plugin
    output and TLS Secrets all use it and word the answer for their users.
    """
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        leaf = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError as err:
        found = _pem_labels(cert_pem)
        if "CERTIFICATE" in found:
            return KeyPairProblem("certificate", f"is not a valid PEM certificate ({err})")
        if any("PRIVATE KEY" in label for label in found):
            return KeyPairProblem(
                "certificate", "holds a private key, not a certificate", swapped=True
            )
        if found:
            return KeyPairProblem(
                "certificate", f"holds no PEM certificate (found {', '.join(found)})"
            )
        return KeyPairProblem("certificate", "is not PEM (no -----BEGIN CERTIFICATE----- block)")
    try:
        private = serialization.load_pem_private_key(
            key_pem, password=None, unsafe_skip_rsa_key_validation=True
        )
    except TypeError:
        return KeyPairProblem("key", "is encrypted", encrypted=True)
    except (ValueError, UnsupportedAlgorithm) as err:
        found = _pem_labels(key_pem)
        if found and not any("PRIVATE KEY" in label for label in found):
            return KeyPairProblem("key", f"holds no PEM private key (found {', '.join(found)})")
        if found:
            return KeyPairProblem("key", f"is not a valid PEM private key ({err})")
        return KeyPairProblem("key", "is not PEM (no -----BEGIN PRIVATE KEY----- block)")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if leaf.public_key().public_bytes(der, spki) != private.public_key().public_bytes(der, spki):
        subject = leaf.subject.rfc4514_string() or "<empty>"
        return KeyPairProblem("pair", "do not match", subject=subject)
    return None


def check_client_pair(cert_pem: bytes, key_pem: bytes, what: str) -> None:
    """Fail unless the certificate and the unencrypted key are PEM and belong together."""
    if _ssl_loads_pair(cert_pem, key_pem):
        return
    problem = key_pair_problem(cert_pem, key_pem)
    if problem is None:
        return
    if problem.part == "pair":
        raise ConfigError(
            f"client certificate and client key of {what} do not match "
            f"(certificate subject {problem.subject})"
        )
    if problem.encrypted:
        raise ConfigError(f"client key of {what} is encrypted; kubeconfig keys must not be")
    hint = " (are the client certificate and key swapped?)" if problem.swapped else ""
    raise ConfigError(f"client {problem.part} of {what} {problem.detail}{hint}")


_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


def _pem_labels(data: bytes) -> list[str]:
    """The labels of the PEM blocks in ``data`` (``CERTIFICATE``, ``EC PRIVATE KEY``...)."""
    return list(dict.fromkeys(m.decode() for m in _PEM_LABEL.findall(data)))


def warn_insecure(server: str) -> None:
    """Warn once per server that its certificate is not verified."""
    if server in _warned_insecure:
        return
    _warned_insecure.add(server)
    warnings.warn(
        f"TLS verification is off for {redact_url(server)} (insecure-skip-tls-verify): "
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
            ctx.load_verify_locations(cadata=_ascii(ca_data))
        except ssl.SSLError as exc:
            raise ConfigError(f"CA data of {source} cannot be loaded ({exc.reason})") from None
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if client_cert_pem is not None and client_key_pem is not None:
        _load_client_pair(ctx, client_cert_pem, client_key_pem, source)
    return ctx


def _load_client_pair(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes, source: str) -> None:
    try:
        _load_pair(ctx, cert_pem, key_pem)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"client certificate and key of {source} cannot be loaded ({exc.reason})"
        ) from None


def _ssl_loads_pair(cert_pem: bytes, key_pem: bytes) -> bool:
    """Whether OpenSSL takes the pair (PEM, a certificate, its unencrypted key) as it is."""
    if b"ENCRYPTED" in key_pem:
        return False
    try:
        _load_pair(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), cert_pem, key_pem)
    except (ssl.SSLError, ValueError):
        return False
    return True


def _load_pair(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    # The ssl module only loads certificates from files: write each to a file in a
    # private directory (mode 0700, files 0600) and remove them straight away.  Two
    # files, so that a certificate and a key given the wrong way round do not load.
    with tempfile.TemporaryDirectory(prefix="kubeops-tls-") as directory:
        paths = []
        for name, pem in (("client.crt", cert_pem), ("client.key", key_pem)):
            path = Path(directory) / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
            paths.append(path)
        # An empty password: an encrypted key fails here instead of OpenSSL asking
        # for its pass phrase on the terminal.
        ctx.load_cert_chain(paths[0], paths[1], password=b"")


def _ascii(pem: bytes) -> str:
    return pem.decode("ascii", errors="replace")
