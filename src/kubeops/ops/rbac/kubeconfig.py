"""A kubeconfig for a ServiceAccount: where the cluster is and how to trust it, taken
from a :class:`~kubeops.config.ClusterConfig`, and the ServiceAccount's token."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from kubeops.config.redact import strip_userinfo
from kubeops.ops.rbac.attributes import Subject

if TYPE_CHECKING:
    from kubeops.config import ClusterConfig

__all__ = ["service_account_kubeconfig"]


def service_account_kubeconfig(
    config: ClusterConfig, name: str, namespace: str, token: str
) -> dict[str, Any]:
    """A kubeconfig reaching ``config``'s server as the ServiceAccount, with ``token`` inline.

    Only where the cluster is and how to trust it are taken from ``config``; its
    credentials (a ``user:password@`` in the server or proxy URL included) and any
    impersonation are not.  ``insecure-skip-tls-verify`` is carried only when there
    is no CA to trust instead (the command then warns that it was carried).
    """
    cluster: dict[str, Any] = {"server": strip_userinfo(config.server)}
    if config.ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(config.ca_data).decode()
    elif config.insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    if config.tls_server_name:
        cluster["tls-server-name"] = config.tls_server_name
    if config.proxy_url:
        cluster["proxy-url"] = strip_userinfo(config.proxy_url)
    cluster_name = config.context or "cluster"
    user = Subject("ServiceAccount", name, namespace).user
    context = f"{namespace}/{name}@{cluster_name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": cluster_name, "user": user, "namespace": namespace},
            }
        ],
        "current-context": context,
    }
