"""Self-contained kubeconfig files for testenv clusters (credentials inlined)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(
    cluster: str,
    server: str,
    ca_pem: bytes,
    user: str,
    credentials: dict[str, Any],
    namespace: str | None = None,
) -> dict[str, Any]:
    """A kubeconfig with one cluster, one user and one context named ``cluster``.

    The user entry is named ``user@cluster``, so the kubeconfigs of several clusters
    can be merged (``KUBECONFIG=a:b``) without one cluster's credentials shadowing
    another's, as kubectl merges by name.
    """
    user = f"{user}@{cluster}"
    context: dict[str, Any] = {"cluster": cluster, "user": user}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": cluster, "context": context}],
        "current-context": cluster,
    }


def cert_credentials(cert_pem: bytes, key_pem: bytes) -> dict[str, Any]:
    return {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)}


def write(path: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` readable only by its owner, as kubectl does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
