"""Everything the transport needs to reach and authenticate to one cluster."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kubeops.config.credentials import Credential, CredentialSource, StaticCredentials
from kubeops.config.redact import redact_url
from kubeops.config.tls import client_context


@dataclass(frozen=True)
class ClusterConfig:
    """A resolved connection: server, TLS, impersonation and a credential source.

    ``tls_server_name``, when set, is the name to send in SNI and to verify the
    server certificate against, instead of the host in ``server``: pass it as
    the TLS ``server_hostname``.  ``proxy_url`` is an http, https or socks5 URL.
    ``ca_data`` is None with ``insecure_skip_tls_verify`` (they are exclusive).
    """

    server: str
    namespace: str
    context: str | None
    source: str
    ca_data: bytes | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    impersonate_user: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    impersonate_uid: str | None = None
    impersonate_extra: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    credentials: CredentialSource = field(default_factory=StaticCredentials)

    def __repr__(self) -> str:
        # Shown in logs and tracebacks: URLs redacted, the credential described, never
        # its token, password or key (nor an exec plugin's arguments, which may hold one).
        fields = {
            "server": redact_url(self.server),
            "namespace": self.namespace,
            "context": self.context,
            "source": self.source,
            "insecure_skip_tls_verify": self.insecure_skip_tls_verify,
            "tls_server_name": self.tls_server_name,
            "proxy_url": redact_url(self.proxy_url) if self.proxy_url else None,
            "impersonate_user": self.impersonate_user,
            "impersonate_groups": self.impersonate_groups,
            "credentials": self.credentials.describe(),
        }
        shown = ", ".join(f"{name}={value!r}" for name, value in fields.items())
        return f"ClusterConfig({shown})"

    def ssl_context(self, cred: Credential | None = None) -> ssl.SSLContext:
        """A new SSL context trusting ``ca_data`` (else the system roots), presenting
        ``cred``'s client certificate if it has one.

        With ``insecure_skip_tls_verify`` nothing is verified and an
        :class:`InsecureTLSWarning` is issued once per server.
        """
        return client_context(
            server=self.server,
            ca_data=self.ca_data,
            insecure=self.insecure_skip_tls_verify,
            client_cert_pem=cred.client_cert_pem if cred else None,
            client_key_pem=cred.client_key_pem if cred else None,
            source=self.source,
        )
