"""Finding 5 of the hardening issue, for logs and tracebacks: a ClusterConfig's repr
shows where and how it connects, never a token, a password or key material."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kubeops.config import load_config

TOKEN = "tok-3b9f0c1d"
PASSWORD = "pw-7e1a22"
KEY = "KEYDATA-5c2e"
ARG_SECRET = "argsecret-19ab"


def _kubeconfig(tmp_path: Path, user: str) -> Path:
    path = tmp_path / "config"
    path.write_text(
        f"""
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://admin:{PASSWORD}@127.0.0.1:6443
    proxy-url: http://proxy:{PASSWORD}@proxy.example:3128
    insecure-skip-tls-verify: true
users:
- name: u
  user:
{user}
contexts:
- name: x
  context: {{cluster: c, user: u}}
current-context: x
"""
    )
    return path


@pytest.mark.parametrize(
    "user",
    [
        f"    token: {TOKEN}",
        "    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1\n"
        "      interactiveMode: Never\n"
        "      command: /usr/bin/get-token\n"
        f"      args: [--token={ARG_SECRET}]\n",
    ],
    ids=["token", "exec"],
)
def test_the_repr_shows_no_secret(tmp_path: Path, user: str) -> None:
    config = load_config(_kubeconfig(tmp_path, user))
    shown = repr(config)
    for secret in (TOKEN, PASSWORD, ARG_SECRET):
        assert secret not in shown
    assert "127.0.0.1:6443" in shown
    assert "***" in shown
    assert "credentials=" in shown


def test_client_key_data_is_not_shown(tmp_path: Path) -> None:
    from kubeops.config import ClusterConfig, Credential, StaticCredentials

    key = f"-----BEGIN PRIVATE KEY-----\n{KEY}\n-----END PRIVATE KEY-----\n".encode()
    config = ClusterConfig(
        server="https://h",
        namespace="default",
        context=None,
        source="test",
        ca_data=base64.b64encode(KEY.encode()),
        credentials=StaticCredentials(
            Credential(token=TOKEN, client_cert_pem=key, client_key_pem=key)
        ),
    )
    shown = repr(config)
    assert KEY not in shown
    assert TOKEN not in shown
    assert base64.b64encode(KEY.encode()).decode() not in shown
