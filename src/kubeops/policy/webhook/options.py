"""Everything ``kubeops policy webhook`` takes, checked before anything starts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from kubeops.errors import KubeopsError
from kubeops.policy.webhook.certs import service_hosts
from kubeops.policy.webhook.registration import Registration, ServiceRef

if TYPE_CHECKING:
    from kubeops.controller.elected import LeaseSettings
    from kubeops.controller.serving import ServingOptions

DEFAULT_LISTEN = "127.0.0.1:8443"
DEFAULT_TIMEOUT = 10
"""The configuration's timeoutSeconds (the API server's own default)."""
DEFAULT_DEADLINE_FRACTION = 0.8
DEFAULT_CERT_VALIDITY = 24 * 3600.0
DEFAULT_CA_VALIDITY = 365 * 24 * 3600.0
DEFAULT_CONFIGURATION = "kubeops-policy"


class WebhookError(KubeopsError, ValueError):
    """A flag of ``kubeops policy webhook`` that cannot be used."""


@dataclass(frozen=True)
class WebhookOptions:
    """The webhook daemon's settings.

    Certificates are ``serving``'s ``--tls-cert-file``/``--tls-private-key-file`` when
    given (re-read when they change; ``ca_file`` is then the caBundle registered), else
    generated in ``cert_dir`` (a private temporary directory when None) and renewed
    when ``renew_fraction`` of their ``cert_validity`` has passed."""

    policy_paths: tuple[str, ...]
    serving: ServingOptions
    kubeconfig: str | None = None
    context: str | None = None
    builtins: bool = True
    scans: tuple[str, ...] = ()
    """Scanner reports (Trivy, Grype JSON) for the built-in vulnerability gate."""
    timeout_seconds: int = DEFAULT_TIMEOUT
    deadline_fraction: float = DEFAULT_DEADLINE_FRACTION
    fail_closed: bool = True
    workers: int = 4
    max_in_flight: int = 64
    cert_dir: str | None = None
    hosts: tuple[str, ...] = ()
    cert_validity: float = DEFAULT_CERT_VALIDITY
    ca_validity: float = DEFAULT_CA_VALIDITY
    renew_fraction: float = 2 / 3
    ca_file: str | None = None
    ca_secret: str | None = None
    """A Secret in ``namespace`` holding the CA every replica issues from (see
    :mod:`~kubeops.policy.webhook.shared_ca`); None: a CA of this replica's own."""
    register: bool = False
    unregister_on_exit: bool = False
    configuration: str = DEFAULT_CONFIGURATION
    url: str | None = None
    service: ServiceRef | None = None
    namespace: str = "kubeops-system"
    namespace_selector: dict[str, object] = field(default_factory=dict)
    lease: LeaseSettings | None = None
    identity: str | None = None
    shutdown_delay: float = 0.0
    json_logs: bool = False

    @property
    def deadline(self) -> float:
        """Seconds a review may take before the webhook answers without it."""
        return self.timeout_seconds * self.deadline_fraction

    @property
    def generated(self) -> bool:
        """Whether the webhook makes its own certificates."""
        return not self.serving.tls_cert_file

    def registration(self) -> Registration:
        """The configuration this webhook registers."""
        return Registration(
            name=self.configuration,
            namespace=self.namespace,
            url=self.url,
            service=self.service,
            namespace_selector=self.namespace_selector or None,
            timeout_seconds=self.timeout_seconds,
            fail_closed=self.fail_closed,
        )

    def certificate_hosts(self) -> list[str]:
        """Names the generated serving certificate is valid for: loopback, the listen
        address, the URL's host, the Service's DNS names and ``hosts``."""
        hosts = ["127.0.0.1", "localhost", *self.hosts]
        if self.serving.host not in ("0.0.0.0", "::", ""):
            hosts.append(self.serving.host)
        if self.url:
            host = urlsplit(self.url).hostname
            if host:
                hosts.append(host)
        if self.service is not None:
            hosts.extend(service_hosts(self.service.namespace, self.service.name))
        return list(dict.fromkeys(hosts))

    def check(self) -> None:
        """Raise :class:`WebhookError` naming the flag that cannot be used."""
        if not self.policy_paths and not self.builtins:
            raise WebhookError(
                "policy webhook: --no-builtins leaves no policy: give --policies PATH"
            )
        if not 1 <= self.timeout_seconds <= 30:
            raise WebhookError(f"--timeout {self.timeout_seconds}s: between 1s and 30s")
        if not 0.1 <= self.deadline_fraction <= 0.95:
            raise WebhookError(
                f"--deadline-fraction {self.deadline_fraction}: between 0.1 and 0.95 of --timeout"
            )
        if self.workers < 1 or self.max_in_flight < 1:
            raise WebhookError("--workers and --max-in-flight must be at least 1")
        if self.register and not (self.url or self.service):
            raise WebhookError("--register needs --url URL or --service NAMESPACE/NAME[:PORT]")
        if self.url:
            parts = urlsplit(self.url)
            if parts.scheme != "https" or not parts.hostname:
                raise WebhookError(f"--url {self.url}: expected https://HOST[:PORT]/PATH")
        if not self.generated and self.serving.tls_cert_file and self.cert_dir:
            raise WebhookError(
                "--cert-dir is for generated certificates: leave out --tls-cert-file"
            )
        if self.ca_secret and not self.generated:
            raise WebhookError(
                "--ca-secret is for generated certificates: leave out --tls-cert-file"
            )
        if self.ca_secret and self.cert_dir:
            raise WebhookError("give --ca-secret or --cert-dir, not both (the CA lives in one)")
        if self.cert_validity < 3:
            raise WebhookError("--cert-validity: at least 3s")
        if self.ca_validity < 3 * self.cert_validity:
            raise WebhookError("--ca-validity: at least three times --cert-validity")
        for host in self.hosts:
            if not host or any(c.isspace() or c in "/:@" for c in host):
                if ":" in host and _is_ip(host):
                    continue
                raise WebhookError(f"--host {host!r}: expected a DNS name or an IP address")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
