"""Everything the transport needs to reach and authenticate to one cluster."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kubeops.config.credentials import Credential, CredentialSource, StaticCredentials
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
