"""Errors the config layer raises: each names the file, the entry and the cause.

Messages never contain a credential value (token, key), only where it came from.
"""

from __future__ import annotations

from kubeops.errors import KubeopsError


class ConfigError(KubeopsError):
    """A kubeconfig, in-cluster setup or credential that cannot be used as it is."""


class ExecPluginError(ConfigError):
    """An exec credential plugin is missing, failed, hung or printed something unusable."""
