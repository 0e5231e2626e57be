"""Fuzzing kubeconfig loading through the real loader: text on disk -> ``load_config``.

Kubeconfig-shaped documents (clusters, users, contexts, every field kubeops reads)
with wrong types, hostile values, files that are missing, huge, directories or
``/dev/zero``, then rendered with YAML's anchors, aliases and tags, and mutated.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import os
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from fuzz.harness import fuzz, only_typed_errors, workdir
from fuzz.strategies import hostile_text, sometimes, utf8_text, yaml_documents
from kubeops.config import load_config
from kubeops.config.credentials import StaticCredentials, TokenFileCredentials


@functools.cache
def _pems() -> tuple[bytes, bytes, bytes]:
    """A CA certificate, and a client certificate with its key (PEM), made once."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz\x1b]0;x\x07")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, cert_pem, key_pem


# Files a kubeconfig may name, created in the property's scratch directory.
_FILES = {
    "ca.pem": lambda: _pems()[0],
    "client.pem": lambda: _pems()[1],
    "client.key": lambda: _pems()[2],
    "token": lambda: b"abc.def\n",
    "empty": lambda: b"",
    "garbage": lambda: b"\x00\xff-----BEGIN CERTIFICATE-----\nnot base64\n",
    "big": lambda: b"A" * (1024 * 1024 + 1),
    "crlf-token": lambda: b"tok\r\nen",
}


def _scratch_files() -> Path:
    base = workdir()
    marker = base / "ca.pem"
    if not marker.exists():
        for name, content in _FILES.items():
            (base / name).write_bytes(content())
        (base / "a-directory").mkdir()
        (base / "unreadable").write_bytes(b"x")
        os.chmod(base / "unreadable", 0)
    return base


_PATHS = st.sampled_from(
    [
        *_FILES,
        "a-directory",
        "unreadable",
        "missing",
        "/dev/zero",
        "/dev/null",
        "",
        "~",
        "../ca.pem",
        "a\x00b",
    ]
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_DATA = st.one_of(
    st.sampled_from(["ca", "cert", "key"]).map(
        lambda which: _b64(dict(zip(("ca", "cert", "key"), _pems(), strict=True))[which])
    ),
    st.binary(max_size=40).map(_b64),
    st.sampled_from(["not base64!", "YWJj\nZGVm", "====", "", "\u00e9"]),
)

_SERVERS = st.one_of(
    st.sampled_from(
        [
            "https://127.0.0.1:6443",
            "https://[::1]:6443",
            "https://[::1",
            "http://u:p@h/",
            "localhost:8080",
            "https://h:99999",
            "https://h:port",
            "ftp://h",
            "https://",
            "https://h/path/",
            "https://h\r\n:1",
        ]
    ),
    hostile_text(30),
)

# Mostly the one name every entry and reference shares, so most documents resolve to a
# context and reach the readers behind it (files, certificates, exec config).
_NAMES = st.sampled_from(["a"] * 6 + ["b", "", "ctx", "a" * 300, "\x1b[2J", "💥"])

_CLUSTER = st.fixed_dictionaries(
    {"server": sometimes(_SERVERS)},
    optional={
        "certificate-authority-data": sometimes(_DATA),
        "certificate-authority": sometimes(_PATHS),
        "insecure-skip-tls-verify": sometimes(st.booleans()),
        "tls-server-name": sometimes(utf8_text(20)),
        "proxy-url": sometimes(
            st.sampled_from(["http://p:3128", "socks5://p", "ftp://p", "::", "http://[::1"])
        ),
        "disable-compression": sometimes(st.booleans()),
        "extensions": sometimes(
            st.lists(
                st.fixed_dictionaries({"name": sometimes(_NAMES), "extension": st.just({"a": 1})}),
                max_size=2,
            )
        ),
    },
)

_EXEC = st.fixed_dictionaries(
    {
        # Never run: loading a kubeconfig must not start the plugin.
        "command": sometimes(st.sampled_from(["/nonexistent/plugin", "plugin", "./plugin"])),
    },
    optional={
        "apiVersion": sometimes(
            st.sampled_from(
                [
                    "client.authentication.k8s.io/v1",
                    "client.authentication.k8s.io/v1beta1",
                    "client.authentication.k8s.io/v1alpha1",
                ]
            )
        ),
        "interactiveMode": sometimes(st.sampled_from(["Never", "IfAvailable", "Always", "never"])),
        "args": sometimes(st.lists(utf8_text(10), max_size=3)),
        "env": sometimes(
            st.lists(
                st.fixed_dictionaries(
                    {"name": sometimes(utf8_text(10)), "value": sometimes(utf8_text(10))}
                ),
                max_size=2,
            )
        ),
        "provideClusterInfo": sometimes(st.booleans()),
        "installHint": sometimes(utf8_text(20)),
    },
)

_USER = st.fixed_dictionaries(
    {},
    optional={
        "token": sometimes(st.sampled_from(["abc", "a\r\nb", "", " ", "\x00"]) | utf8_text(20)),
        "tokenFile": sometimes(_PATHS),
        "client-certificate-data": sometimes(_DATA),
        "client-key-data": sometimes(_DATA),
        "client-certificate": sometimes(_PATHS),
        "client-key": sometimes(_PATHS),
        "username": sometimes(utf8_text(10)),
        "password": sometimes(utf8_text(10)),
        "exec": sometimes(_EXEC),
        "auth-provider": sometimes(st.fixed_dictionaries({"name": st.just("oidc")})),
        "as": sometimes(utf8_text(10)),
        "as-groups": sometimes(st.lists(utf8_text(10), max_size=3)),
        "as-uid": sometimes(utf8_text(10)),
        "as-user-extra": sometimes(
            st.dictionaries(utf8_text(8), st.lists(utf8_text(8), max_size=2), max_size=2)
        ),
    },
)

_CONTEXT = st.fixed_dictionaries(
    {"cluster": sometimes(_NAMES)},
    optional={
        "user": sometimes(_NAMES),
        "namespace": sometimes(
            st.sampled_from(["default", "kube-system", "Bad_NS", "", "a" * 64]) | utf8_text(10)
        ),
    },
)


def _entries(body_key: str, body: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return sometimes(
        st.lists(
            sometimes(
                st.fixed_dictionaries({"name": sometimes(_NAMES), body_key: sometimes(body)})
            ),
            min_size=1,
            max_size=2,
        )
    )


kubeconfigs = st.fixed_dictionaries(
    {
        "apiVersion": sometimes(st.just("v1")),
        "kind": sometimes(st.just("Config")),
        "clusters": _entries("cluster", _CLUSTER),
        "users": _entries("user", _USER),
        "contexts": _entries("context", _CONTEXT),
        "current-context": sometimes(_NAMES),
    },
    optional={"preferences": st.just({})},
)


@fuzz(yaml_documents(kubeconfigs), st.one_of(st.none(), _NAMES), weight=6)
def test_kubeconfig(text: bytes, context: str | None) -> None:
    """Any kubeconfig text loads into a cluster config or is refused with one line."""
    base = _scratch_files()
    path = base / "config"
    path.write_bytes(text)
    config = only_typed_errors(load_config, path, context=context or None)
    if config is None:
        return
    repr(config)
    config.credentials.describe()
    if isinstance(config.credentials, StaticCredentials | TokenFileCredentials):
        only_typed_errors(asyncio.run, config.credentials.get())
    only_typed_errors(config.ssl_context)


@fuzz(
    st.sampled_from(
        ["/dev/zero", "/dev/null", "a-directory", "missing", "big", "garbage", "unreadable"]
    )
)
def test_kubeconfig_paths(name: str) -> None:
    """A kubeconfig path that is a device, a directory, missing or too large is refused."""
    base = _scratch_files()
    only_typed_errors(load_config, name if name.startswith("/") else base / name)
