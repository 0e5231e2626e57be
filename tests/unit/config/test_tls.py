"""The SSL context of a ClusterConfig completes real TLS handshakes as configured."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubeops.config import ClusterConfig, ConfigError, Credential, InsecureTLSWarning
from kubeops.config.tls import KeyPairProblem, check_client_pair, key_pair_problem

from .samples import PKI


async def _serve(pki: PKI, tmp_path: Path, *, require_client_cert: bool) -> asyncio.Server:
    """A TLS echo server that answers with the client certificate's common name."""
    (tmp_path / "server.pem").write_bytes(pki.server.cert_pem + pki.server.key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "server.pem")
    if require_client_cert:
        server_ctx.verify_mode = ssl.CERT_REQUIRED
        server_ctx.load_verify_locations(cadata=pki.ca.cert_pem.decode())

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        names = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
        writer.write((names[0] if names else "anonymous").encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)


@pytest.fixture
async def server(pki: PKI, tmp_path: Path) -> AsyncIterator[asyncio.Server]:
    srv = await _serve(pki, tmp_path, require_client_cert=True)
    async with srv:
        yield srv


@pytest.fixture
async def anonymous_server(pki: PKI, tmp_path: Path) -> AsyncIterator[asyncio.Server]:
    srv = await _serve(pki, tmp_path, require_client_cert=False)
    async with srv:
        yield srv


async def _hello(srv: asyncio.Server, ctx: ssl.SSLContext, server_hostname: str) -> str:
    port = srv.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname=server_hostname
    )
    data = await reader.read()
    writer.close()
    return data.decode()


def _config(**kwargs: Any) -> ClusterConfig:
    return ClusterConfig(
        server="https://127.0.0.1:6443", namespace="default", context="t", source="test", **kwargs
    )


async def test_client_certificate_authenticates_against_a_server_trusting_the_ca(
    pki: PKI, server: asyncio.Server
) -> None:
    config = _config(ca_data=pki.ca.cert_pem)
    cred = Credential(client_cert_pem=pki.client.cert_pem, client_key_pem=pki.client.key_pem)
    assert await _hello(server, config.ssl_context(cred), "127.0.0.1") == "alice"


async def test_tls_server_name_verifies_a_certificate_issued_for_another_name(
    pki: PKI, anonymous_server: asyncio.Server
) -> None:
    config = _config(ca_data=pki.ca.cert_pem, tls_server_name="kubernetes.default")
    ctx = config.ssl_context()
    assert await _hello(anonymous_server, ctx, config.tls_server_name or "") == "anonymous"
    with pytest.raises(ssl.SSLCertVerificationError):
        await _hello(anonymous_server, ctx, "elsewhere.example")


async def test_server_signed_by_an_unknown_ca_is_refused(
    pki: PKI, anonymous_server: asyncio.Server
) -> None:
    other = pki.issue("not-a-ca")
    config = _config(ca_data=other.cert_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        await _hello(anonymous_server, config.ssl_context(), "127.0.0.1")


async def test_insecure_skips_verification_and_warns_once_per_server(
    anonymous_server: asyncio.Server,
) -> None:
    config = ClusterConfig(
        server="https://insecure.test:6443",
        namespace="default",
        context="t",
        source="test",
        insecure_skip_tls_verify=True,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ctx = config.ssl_context()
        config.ssl_context()
    assert [w.category for w in caught] == [InsecureTLSWarning]
    assert "TLS verification is off for https://insecure.test:6443" in str(caught[0].message)
    assert ctx.verify_mode == ssl.CERT_NONE
    assert await _hello(anonymous_server, ctx, "anything") == "anonymous"


def test_mismatched_client_pair_in_a_credential_is_a_config_error(pki: PKI) -> None:
    cred = Credential(client_cert_pem=pki.client.cert_pem, client_key_pem=pki.other_key_pem)
    with pytest.raises(ConfigError, match="client certificate and key of test cannot be loaded"):
        _config(ca_data=pki.ca.cert_pem).ssl_context(cred)


def test_one_check_tells_what_is_wrong_with_a_certificate_and_key(pki: PKI) -> None:
    cert, key = pki.client.cert_pem, pki.client.key_pem
    assert key_pair_problem(cert, key) is None
    assert key_pair_problem(pki.ca.cert_pem + cert, pki.ca.key_pem) is None  # a chain: its first
    mismatch = key_pair_problem(cert, pki.other_key_pem)
    assert mismatch is not None
    assert mismatch.part == "pair"
    assert "CN=alice" in mismatch.subject
    swapped = key_pair_problem(key, cert)
    assert swapped is not None
    assert (swapped.part, swapped.swapped) == ("certificate", True)
    assert key_pair_problem(cert, b"garbage") == KeyPairProblem(
        "key", "is not PEM (no -----BEGIN PRIVATE KEY----- block)"
    )
    with pytest.raises(
        ConfigError, match=r"client certificate of user 'u' holds a private key.*swapped"
    ):
        check_client_pair(key, cert, "user 'u'")
