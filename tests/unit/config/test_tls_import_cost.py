"""A command's start pays for TLS only what it uses: ``cryptography`` is imported only to
explain material the ``ssl`` module refused, and aiohttp's two default contexts read
the system CA roots only when something uses them.  Each check runs in a fresh
interpreter, where what is imported shows."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import yaml

from .samples import PKI


def _python(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.split()


def _kubeconfig(path: Path, pki: PKI, client_key: bytes) -> Path:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": "https://127.0.0.1:6443",
                    "certificate-authority-data": b64(pki.ca.cert_pem),
                },
            }
        ],
        "users": [
            {
                "name": "u",
                "user": {
                    "client-certificate-data": b64(pki.client.cert_pem),
                    "client-key-data": b64(client_key),
                },
            }
        ],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


LOAD = """
import sys
from kubeops.config import ConfigError, load_config
try:
    load_config({path!r}).ssl_context()
    print("loaded")
except ConfigError as err:
    print("refused")
print(any(name.startswith("cryptography") for name in sys.modules))
"""


def test_a_good_kubeconfig_loads_without_cryptography(tmp_path: Path, pki: PKI) -> None:
    path = _kubeconfig(tmp_path / "config", pki, pki.client.key_pem)
    assert _python(LOAD.format(path=str(path))) == ["loaded", "False"]


def test_a_bad_pair_is_still_explained_at_load(tmp_path: Path, pki: PKI) -> None:
    path = _kubeconfig(tmp_path / "config", pki, pki.other_key_pem)
    assert _python(LOAD.format(path=str(path))) == ["refused", "True"]


def test_aiohttps_default_contexts_read_the_ca_roots_on_first_use() -> None:
    code = """
import ssl
import kubeops.transport.transport
import aiohttp.connector as connector
expected = ssl.create_default_context().cert_store_stats()
for context in (connector._SSL_CONTEXT_VERIFIED, connector._SSL_CONTEXT_UNVERIFIED):
    print(type(context).__name__)
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.test")
    print(type(context).__name__, context.cert_store_stats() == expected)
print(connector._SSL_CONTEXT_UNVERIFIED.verify_mode == ssl.CERT_NONE)
"""
    assert _python(code) == [
        "_RootsOnFirstUse",
        "SSLContext",
        "True",
        "_RootsOnFirstUse",
        "SSLContext",
        "True",
        "True",
    ]
