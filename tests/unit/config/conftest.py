"""Fixtures for config tests: an isolated environment and a test PKI."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeops.config import incluster

from .samples import PKI, make_pki


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No KUBECONFIG, no pod, and a fresh empty home: the user's real config is never read."""
    for name in (
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
        "POD_NAMESPACE",
    ):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(incluster, "SERVICE_ACCOUNT_DIR", tmp_path / "no-service-account")
    return home


@pytest.fixture(scope="session")
def pki() -> PKI:
    return make_pki()
