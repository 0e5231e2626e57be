"""From a merged kubeconfig to a :class:`ClusterConfig`: context, cluster, user, namespace.

The context is the ``context`` argument, else ``current-context``; ``cluster``
and ``user`` arguments replace the context's; the namespace is the argument,
else the context's, else ``"default"``.  With no kubeconfig at all, a process
running in a pod falls back to its service account.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kubeops.config.cluster_config import ClusterConfig
from kubeops.config.credentials import (
    Credential,
    CredentialSource,
    StaticCredentials,
    TokenFileCredentials,
)
from kubeops.config.errors import ConfigError
from kubeops.config.exec_plugin import (
    DEFAULT_EXEC_TIMEOUT,
    ExecPluginCredentials,
    exec_cluster_info,
    parse_exec_config,
)
from kubeops.config.incluster import in_cluster, load_incluster_config
from kubeops.config.inputs import CREDENTIAL_FILE_LIMIT, InputError, read_bounded
from kubeops.config.kubeconfig import Kubeconfig, KubeconfigEntry, load_kubeconfig
from kubeops.config.redact import printable
from kubeops.config.schema import Fields, header_safe
from kubeops.config.tls import check_ca_bundle, check_client_pair

log = logging.getLogger(__name__)

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PROXY_SCHEMES = ("http", "https", "socks5")


def load_config(
    kubeconfig: str | os.PathLike[str] | None = None,
    *,
    context: str | None = None,
    cluster: str | None = None,
    user: str | None = None,
    namespace: str | None = None,
    exec_timeout: float = DEFAULT_EXEC_TIMEOUT,
) -> ClusterConfig:
    """Load the kubeconfig as kubectl does and resolve one context of it.

    ``kubeconfig`` names a file to load alone; without it ``KUBECONFIG`` or
    ``~/.kube/config`` is used, and if neither exists in a pod, the in-cluster
    config.  ``exec_timeout`` bounds each run of an exec credential plugin.
    """
    raw = load_kubeconfig(kubeconfig)
    overridden = bool(context or cluster or user)
    if raw.is_empty and kubeconfig is None and not overridden and in_cluster():
        log.debug("no kubeconfig found; using the in-cluster config")
        if namespace:
            _check_namespace(namespace, "the namespace argument")
        return load_incluster_config(namespace=namespace)
    return resolve_config(
        raw,
        context=context,
        cluster=cluster,
        user=user,
        namespace=namespace,
        exec_timeout=exec_timeout,
    )


def resolve_config(
    raw: Kubeconfig,
    *,
    context: str | None = None,
    cluster: str | None = None,
    user: str | None = None,
    namespace: str | None = None,
    exec_timeout: float = DEFAULT_EXEC_TIMEOUT,
) -> ClusterConfig:
    """The :class:`ClusterConfig` of one context of an already loaded kubeconfig."""
    selected = context or raw.current_context
    if selected:
        context_entry = raw.contexts.get(selected)
        if context_entry is None:
            raise _missing("context", selected, raw.contexts, raw)
        fields = Fields(context_entry.fields, f"context {selected!r} in {context_entry.origin}")
        cluster_name = cluster or fields.string("cluster")
        user_name = user or fields.string("user")
        context_namespace = fields.string("namespace")
        if context_namespace:
            _check_namespace(context_namespace, fields.where)
        source = f"kubeconfig {context_entry.origin}, context {selected}"
        if not cluster_name:
            raise ConfigError(f"{fields.where} names no cluster")
    else:
        if raw.is_empty:
            raise ConfigError(
                f"no configuration found: {raw.describe_files()}, and not running in a "
                "cluster (KUBERNETES_SERVICE_HOST is not set)"
            )
        if not cluster:
            raise ConfigError(
                f"no context selected: {raw.describe_files()} set no current-context; "
                f"name one (contexts defined: {_names(raw.contexts)})"
            )
        cluster_name, user_name, context_namespace = cluster, user, None
        source = f"kubeconfig {raw.describe_files()}"
    if cluster:
        source += f", cluster {cluster}"
    if user:
        source += f", user {user}"
    if namespace:
        _check_namespace(namespace, "the namespace argument")

    cluster_entry = raw.clusters.get(cluster_name)
    if cluster_entry is None:
        raise _missing("cluster", cluster_name, raw.clusters, raw, by=None if cluster else selected)
    user_entry: KubeconfigEntry | None = None
    if user_name:
        user_entry = raw.users.get(user_name)
        if user_entry is None:
            raise _missing("user", user_name, raw.users, raw, by=None if user else selected)

    user_fields = Fields(user_entry.fields if user_entry else {}, _where("user", user_entry))
    info = _cluster(
        cluster_entry,
        tls_hint=user_fields.has("client-certificate-data")
        or user_fields.has("client-certificate"),
    )
    impersonation = _impersonation(user_fields)
    return ClusterConfig(
        server=info.server,
        namespace=namespace or context_namespace or "default",
        context=selected or None,
        source=source,
        ca_data=info.ca_data,
        insecure_skip_tls_verify=info.insecure,
        tls_server_name=info.tls_server_name,
        proxy_url=info.proxy_url,
        impersonate_user=impersonation.user,
        impersonate_groups=impersonation.groups,
        impersonate_uid=impersonation.uid,
        impersonate_extra=MappingProxyType(impersonation.extra),
        credentials=_credentials(user_fields, info, exec_timeout)
        if user_entry
        else StaticCredentials(),
    )


def _where(kind: str, entry: KubeconfigEntry | None) -> str:
    return f"{kind} {entry.name!r} in {entry.origin}" if entry else f"no {kind}"


def _names(entries: Mapping[str, KubeconfigEntry]) -> str:
    return ", ".join(printable(name, one_line=True) for name in sorted(entries)) or "none"


def _missing(
    kind: str,
    name: str,
    entries: Mapping[str, KubeconfigEntry],
    raw: Kubeconfig,
    by: str | None = None,
) -> ConfigError:
    named_by = f" (named by context {by!r})" if by else ""
    return ConfigError(
        f"{kind} {name!r}{named_by} not found in {raw.describe_files()}; "
        f"{kind}s defined: {_names(entries)}"
    )


def _check_namespace(namespace: str, where: str) -> None:
    if len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
        raise ConfigError(
            f"namespace {namespace!r} of {where} is not a valid namespace name "
            "(lower-case letters, digits and '-', at most 63 characters)"
        )


def _read_file(fields: Fields, key: str) -> bytes | None:
    path = fields.string(key)
    if path is None:
        return None
    try:
        return read_bounded(path, limit=CREDENTIAL_FILE_LIMIT, what=key)
    except InputError as exc:
        raise fields.error(key, f"cannot be read from {path}: {exc.cause}") from None


def _data_or_file(fields: Fields, key: str) -> bytes | None:
    # As in client-go, inline data wins over a file named next to it.
    data = fields.base64(f"{key}-data")
    return data if data is not None else _read_file(fields, key)


@dataclass(frozen=True)
class _Cluster:
    server: str
    ca_data: bytes | None
    insecure: bool
    tls_server_name: str | None
    proxy_url: str | None
    disable_compression: bool
    extensions: Mapping[str, Any]


def _cluster(entry: KubeconfigEntry, *, tls_hint: bool) -> _Cluster:
    fields = Fields(entry.fields, _where("cluster", entry))
    raw_server = fields.string("server")
    if raw_server is None:
        raise fields.error("server", "is not set")
    insecure = fields.boolean("insecure-skip-tls-verify")
    ca_data = _data_or_file(fields, "certificate-authority")
    if ca_data is not None:
        if insecure:
            raise ConfigError(
                f"{fields.where} sets both insecure-skip-tls-verify and a certificate "
                "authority; remove one of them"
            )
        check_ca_bundle(ca_data, f"the certificate authority of {fields.where}")
    tls_server_name = fields.header("tls-server-name")
    if tls_server_name is not None and not _host_name_ok(tls_server_name):
        raise fields.error("tls-server-name", _BAD_HOST)
    proxy_url = fields.string("proxy-url")
    if proxy_url is not None and _scheme(proxy_url) not in _PROXY_SCHEMES:
        raise fields.error("proxy-url", "must be an http, https or socks5 URL")
    if proxy_url is not None and not _host_name_ok(_host(proxy_url)):
        raise fields.error("proxy-url", _BAD_HOST)
    tls = tls_hint or insecure or ca_data is not None or tls_server_name is not None
    return _Cluster(
        server=_server(raw_server, tls, fields),
        ca_data=ca_data,
        insecure=insecure,
        tls_server_name=tls_server_name,
        proxy_url=proxy_url,
        disable_compression=fields.boolean("disable-compression"),
        extensions=_extensions(fields),
    )


def _server(text: str, tls: bool, fields: Fields) -> str:
    """The server URL without a trailing slash; a bare host:port gets a scheme as in client-go."""
    text = text.strip()
    if "://" not in text:
        text = ("https://" if tls else "http://") + text
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError:  # `https://[::1` (an unclosed IPv6 bracket), a bad port
        raise fields.error("server", "must be an http or https URL with a host") from None
    if parts.scheme not in ("http", "https") or not host or not header_safe(text):
        raise fields.error("server", "must be an http or https URL with a host")
    if not _host_name_ok(host):
        raise fields.error("server", _BAD_HOST)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


_BAD_HOST = "has a host name that cannot be used (an empty label, or one over 63 characters)"


def _host_name_ok(host: str) -> bool:
    """Whether ``host`` can be looked up and sent as TLS SNI (the IDNA rules)."""
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _scheme(url: str) -> str | None:
    try:
        return urlsplit(url).scheme
    except ValueError:
        return None


def _extensions(fields: Fields) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for index, item in enumerate(fields.items("extensions")):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise fields.error("extensions", f"entry {index} must be a mapping with a name")
        result[item["name"]] = item.get("extension")
    return result


@dataclass(frozen=True)
class _Impersonation:
    user: str | None
    uid: str | None
    groups: tuple[str, ...]
    extra: dict[str, tuple[str, ...]]


def _impersonation(fields: Fields) -> _Impersonation:
    # The kubeconfig keys are as, as-uid, ...; the impersonate-* spellings of
    # kubectl's flags are accepted too, the kubeconfig ones winning.
    result = _Impersonation(
        user=fields.header("as") or fields.header("impersonate"),
        uid=fields.header("as-uid") or fields.header("impersonate-uid"),
        groups=fields.header_strings("as-groups") or fields.header_strings("impersonate-groups"),
        extra=fields.header_string_lists("as-user-extra")
        or fields.header_string_lists("impersonate-user-extra"),
    )
    if result.user is None and (result.uid or result.groups or result.extra):
        raise ConfigError(
            f"{fields.where} sets impersonated groups, uid or extra fields but no "
            "impersonated user (as); the API server requires one"
        )
    return result


def _credentials(fields: Fields, cluster: _Cluster, exec_timeout: float) -> CredentialSource:
    provider = fields.mapping("auth-provider")
    if provider is not None:
        name = provider.get("name")
        label = f" {name!r}" if isinstance(name, str) else ""
        raise ConfigError(
            f"{fields.where} uses the auth-provider{label}, which kubeops does not support; "
            "use an exec plugin instead (for OIDC, for example, kubelogin)"
        )
    if fields.has("username") or fields.has("password"):
        raise ConfigError(
            f"{fields.where} uses basic authentication (username/password), which kubeops "
            "does not support; use a token, a client certificate or an exec plugin"
        )
    cert = _data_or_file(fields, "client-certificate")
    key = _data_or_file(fields, "client-key")
    if (cert is None) != (key is None):
        have, lack = (
            ("client-certificate", "client-key")
            if key is None
            else ("client-key", "client-certificate")
        )
        raise ConfigError(f"{fields.where} sets {have} but no {lack}; both are needed")
    if cert is not None and key is not None:
        check_client_pair(cert, key, fields.where)
    token = fields.header("token")
    token_file = fields.string("tokenFile")
    exec_data = fields.mapping("exec")
    exec_config = parse_exec_config(exec_data, fields.where) if exec_data is not None else None
    if exec_config is not None and cert is not None:
        raise ConfigError(
            f"{fields.where} sets both a client certificate and an exec plugin; use one of them"
        )
    if exec_config is not None and (token or token_file):
        # client-go sends the static token and never runs the plugin; so do we.
        log.info("%s has both a token and an exec plugin; using the token", fields.where)
    if token_file is not None:
        source = TokenFileCredentials(
            Path(token_file), token=token, client_cert_pem=cert, client_key_pem=key
        )
        try:
            read = source.current().token
        except ConfigError as exc:
            raise ConfigError(f"tokenFile of {fields.where}: {exc}") from None
        if read is not None and not header_safe(read):
            raise fields.error(
                "tokenFile",
                f"names {token_file}, whose token has a line break or another "
                "control character inside; it is sent in an HTTP header, where that cannot be",
            )
        return source
    if token is not None or exec_config is None:
        return StaticCredentials(Credential(token=token, client_cert_pem=cert, client_key_pem=key))
    info = exec_cluster_info(
        server=cluster.server,
        tls_server_name=cluster.tls_server_name,
        insecure=cluster.insecure,
        ca_data=cluster.ca_data,
        proxy_url=cluster.proxy_url,
        disable_compression=cluster.disable_compression,
        extensions=cluster.extensions,
    )
    return ExecPluginCredentials(exec_config, cluster=info, timeout=exec_timeout)
