"""In-cluster config: the service account's server, token, CA and namespace."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kubeops.config import (
    ConfigError,
    TokenFileCredentials,
    in_cluster,
    incluster,
    load_incluster_config,
)

from .samples import PKI


@pytest.fixture
def sa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: PKI) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("pod-token-1\n")
    (directory / "ca.crt").write_bytes(pki.ca.cert_pem)
    (directory / "namespace").write_text("team-a\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    return directory


async def test_server_token_ca_and_namespace_come_from_the_pod(sa: Path, pki: PKI) -> None:
    config = load_incluster_config(service_account_dir=sa)
    assert config.server == "https://10.96.0.1:443"
    assert (config.context, config.source) == (None, "in-cluster")
    assert config.ca_data == pki.ca.cert_pem
    assert config.namespace == "team-a"
    assert (await config.credentials.get()).token == "pod-token-1"
    assert config.credentials.describe() == f"service account token file {sa / 'token'}"


def test_ipv6_service_host_is_bracketed(sa: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1")
    assert load_incluster_config(service_account_dir=sa).server == "https://[fd00:10:96::1]:443"


async def test_rotated_token_keeps_working(sa: Path) -> None:
    config = load_incluster_config(service_account_dir=sa, token_refresh_interval=50)
    credentials = config.credentials
    assert isinstance(credentials, TokenFileCredentials)
    assert (await credentials.get()).token == "pod-token-1"
    (sa / "token").write_text("pod-token-2\n")
    credentials.invalidate()
    assert (await credentials.get()).token == "pod-token-2"


async def test_rotated_token_is_reread_after_the_interval(sa: Path) -> None:
    config = load_incluster_config(service_account_dir=sa, token_refresh_interval=0)
    assert (await config.credentials.get()).token == "pod-token-1"
    (sa / "token").write_text("pod-token-2\n")
    assert (await config.credentials.get()).token == "pod-token-2"


def test_namespace_prefers_pod_namespace_env(sa: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "from-env")
    assert load_incluster_config(service_account_dir=sa).namespace == "from-env"
    assert load_incluster_config(service_account_dir=sa, namespace="arg").namespace == "arg"


def test_namespace_defaults_to_default_without_file_or_env(sa: Path) -> None:
    (sa / "namespace").unlink()
    assert load_incluster_config(service_account_dir=sa).namespace == "default"


def test_missing_ca_falls_back_to_system_roots_with_a_warning(
    sa: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (sa / "ca.crt").unlink()
    with caplog.at_level(logging.WARNING, logger="kubeops.config.incluster"):
        config = load_incluster_config(service_account_dir=sa)
    assert config.ca_data is None
    assert "cannot read in-cluster CA file" in caplog.text


def test_outside_a_pod_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not in_cluster()
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    assert not in_cluster()
    with pytest.raises(ConfigError, match="not running in a cluster: KUBERNETES_SERVICE_HOST"):
        load_incluster_config()


def test_missing_token_names_the_file(sa: Path) -> None:
    (sa / "token").unlink()
    with pytest.raises(
        ConfigError, match=r"in-cluster config: cannot read token file .*/token: No such file"
    ):
        load_incluster_config(service_account_dir=sa)


def test_module_constant_points_the_default_at_another_directory(
    sa: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incluster, "SERVICE_ACCOUNT_DIR", sa)
    assert load_incluster_config().namespace == "team-a"
