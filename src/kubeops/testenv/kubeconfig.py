"""Self-contained kubeconfig documents for testenv clusters (credentials inlined).

They are written with :func:`kubeops.config.kubeconfig.write_kubeconfig`.
"""

from __future__ import annotations

import base64
from typing import Any


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
    """The user entry of a client certificate and its key, inlined."""
    return {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)}
