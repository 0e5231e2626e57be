"""Where a cluster is and how to authenticate to it, with kubectl's semantics.

``load_config()`` reads the kubeconfig files kubectl would read (``KUBECONFIG``
or ``~/.kube/config``), merges them as kubectl does, resolves a context, and
falls back to the pod's service account when there is no kubeconfig.  The
result, a :class:`ClusterConfig`, carries a :class:`CredentialSource` that the
transport asks for a :class:`Credential` before each request and invalidates
after a 401: tokens in files are re-read, exec plugins are run again.

Everything a user can get wrong raises :class:`ConfigError`, naming the file,
the entry and the cause.
"""

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
from kubeops.config.incluster import in_cluster, load_incluster_config
from kubeops.config.kubeconfig import Kubeconfig, KubeconfigEntry, load_kubeconfig
from kubeops.config.redact import printable, redact_url, strip_userinfo
from kubeops.config.tls import InsecureTLSWarning

__all__ = [
    "DEFAULT_EXEC_TIMEOUT",
    "ClusterConfig",
    "ConfigError",
    "Credential",
    "CredentialSource",
    "ExecConfig",
    "ExecPluginCredentials",
    "ExecPluginError",
    "InsecureTLSWarning",
    "Kubeconfig",
    "KubeconfigEntry",
    "StaticCredentials",
    "TokenFileCredentials",
    "in_cluster",
    "load_config",
    "load_incluster_config",
    "load_kubeconfig",
    "printable",
    "redact_url",
    "resolve_config",
    "strip_userinfo",
]
