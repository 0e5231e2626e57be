"""Where a cluster is and how to authenticate to it, with kubectl's semantics.

``load_config()`` reads the kubeconfig files kubectl would read (``KUBECONFIG``
or ``~/.kube/config``), merges them as kubectl does, resolves a context, and
falls back to the pod's service account when there is no kubeconfig.  The
result, a :class:`ClusterConfig`, carries a :class:`CredentialSource` that the
transport asks for a :class:`Credential` before each request and invalidates
after a 401: tokens in files are re-read, exec plugins are run again.

Everything a user can get wrong raises :class:`ConfigError`, naming the file,
the entry and the cause.

The names below are imported on first use: the command line reaches for one
small module (``kubeops.config.redact``) without paying for every parser here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeops._exports import lazy_exports

if TYPE_CHECKING:
    from kubeops.config.client_config import load_config, resolve_config
    from kubeops.config.cluster_config import ClusterConfig
    from kubeops.config.credentials import (
        Credential,
        CredentialSource,
        StaticCredentials,
        TokenFileCredentials,
    )
    from kubeops.config.errors import ConfigError, ExecPluginError
    from kubeops.config.exec_plugin import DEFAULT_EXEC_TIMEOUT, ExecConfig, ExecPluginCredentials
    from kubeops.config.files import write_private
    from kubeops.config.incluster import in_cluster, load_incluster_config
    from kubeops.config.inputs import InputError, read_bounded
    from kubeops.config.kubeconfig import (
        Kubeconfig,
        KubeconfigEntry,
        load_kubeconfig,
        parse_kubeconfig,
        write_kubeconfig,
    )
    from kubeops.config.redact import printable, redact_url, strip_userinfo
    from kubeops.config.tls import InsecureTLSWarning

_MODULE_OF = {
    "ClusterConfig": "kubeops.config.cluster_config",
    "ConfigError": "kubeops.config.errors",
    "Credential": "kubeops.config.credentials",
    "CredentialSource": "kubeops.config.credentials",
    "DEFAULT_EXEC_TIMEOUT": "kubeops.config.exec_plugin",
    "ExecConfig": "kubeops.config.exec_plugin",
    "ExecPluginCredentials": "kubeops.config.exec_plugin",
    "ExecPluginError": "kubeops.config.errors",
    "InputError": "kubeops.config.inputs",
    "InsecureTLSWarning": "kubeops.config.tls",
    "Kubeconfig": "kubeops.config.kubeconfig",
    "KubeconfigEntry": "kubeops.config.kubeconfig",
    "StaticCredentials": "kubeops.config.credentials",
    "TokenFileCredentials": "kubeops.config.credentials",
    "in_cluster": "kubeops.config.incluster",
    "load_config": "kubeops.config.client_config",
    "load_incluster_config": "kubeops.config.incluster",
    "load_kubeconfig": "kubeops.config.kubeconfig",
    "parse_kubeconfig": "kubeops.config.kubeconfig",
    "printable": "kubeops.config.redact",
    "read_bounded": "kubeops.config.inputs",
    "redact_url": "kubeops.config.redact",
    "resolve_config": "kubeops.config.client_config",
    "strip_userinfo": "kubeops.config.redact",
    "write_kubeconfig": "kubeops.config.kubeconfig",
    "write_private": "kubeops.config.files",
}

__all__ = [
    "DEFAULT_EXEC_TIMEOUT",
    "ClusterConfig",
    "ConfigError",
    "Credential",
    "CredentialSource",
    "ExecConfig",
    "ExecPluginCredentials",
    "ExecPluginError",
    "InputError",
    "InsecureTLSWarning",
    "Kubeconfig",
    "KubeconfigEntry",
    "StaticCredentials",
    "TokenFileCredentials",
    "in_cluster",
    "load_config",
    "load_incluster_config",
    "load_kubeconfig",
    "parse_kubeconfig",
    "printable",
    "read_bounded",
    "redact_url",
    "resolve_config",
    "strip_userinfo",
    "write_kubeconfig",
    "write_private",
]

__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF, __all__)
