"""Configuration for a program running in a pod: the service account's credentials.

The API server is the ``kubernetes`` Service the kubelet announces in
``KUBERNETES_SERVICE_HOST``/``_PORT``; the token, CA and namespace are files the
kubelet mounts.  The token is a projected token that the kubelet rotates, so it
is re-read rather than read once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kubeops.config.cluster_config import ClusterConfig
from kubeops.config.credentials import TOKEN_FILE_REFRESH_INTERVAL, TokenFileCredentials
from kubeops.config.errors import ConfigError
from kubeops.config.inputs import CREDENTIAL_FILE_LIMIT, InputError, read_bounded
from kubeops.config.tls import check_ca_bundle

log = logging.getLogger(__name__)

# Tests point this (or the ``service_account_dir`` argument) at a temporary directory.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster() -> bool:
    """True if the environment says this process runs in a pod."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and bool(
        os.environ.get("KUBERNETES_SERVICE_PORT")
    )


def load_incluster_config(
    *,
    namespace: str | None = None,
    service_account_dir: Path | None = None,
    token_refresh_interval: float = TOKEN_FILE_REFRESH_INTERVAL,
) -> ClusterConfig:
    """The config of the pod's service account.

    The namespace is ``namespace`` if given, else ``POD_NAMESPACE``, else the
    service account's namespace file, else ``"default"``.
    """
    directory = service_account_dir if service_account_dir is not None else SERVICE_ACCOUNT_DIR
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError(
            "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
            "must both be set (and no kubeconfig was found)"
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    credentials = TokenFileCredentials(
        directory / "token",
        refresh_interval=token_refresh_interval,
        description=f"service account token file {directory / 'token'}",
    )
    try:
        credentials.current()
    except ConfigError as exc:
        raise ConfigError(f"in-cluster config: {exc}") from None
    return ClusterConfig(
        server=f"https://{host}:{port}",
        namespace=namespace or _namespace(directory),
        context=None,
        source="in-cluster",
        ca_data=_ca(directory / "ca.crt"),
        credentials=credentials,
    )


def _ca(path: Path) -> bytes | None:
    # As in client-go, a missing or broken CA file is logged, not fatal: the
    # system roots are used instead, and verification still happens.
    try:
        data = read_bounded(path, limit=CREDENTIAL_FILE_LIMIT, what="in-cluster CA file")
        check_ca_bundle(data, f"in-cluster CA file {path}")
    except InputError as exc:
        log.warning("cannot read in-cluster CA file %s (%s); using the system CAs", path, exc.cause)
        return None
    except ConfigError as exc:
        log.warning("%s; using the system CAs", exc)
        return None
    return data


def _namespace(directory: Path) -> str:
    if namespace := os.environ.get("POD_NAMESPACE", "").strip():
        return namespace
    try:
        data = read_bounded(directory / "namespace", limit=4096, what="namespace file")
        namespace = data.decode().strip()
    except (InputError, UnicodeDecodeError):
        namespace = ""
    return namespace or "default"
