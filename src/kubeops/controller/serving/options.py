"""How a daemon's HTTP port is exposed: where it listens, who may call it and over
what, checked before anything listens so an unsafe or mistyped setting is one
message naming the flag."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from kubeops.errors import KubeopsError

AUTH_MODES = ("none", "token", "kubernetes")
"""``none``: anyone reaching the port; ``token``: one bearer token kept in a file;
``kubernetes``: the caller's bearer token checked by a TokenReview, its request by a
SubjectAccessReview (as kube-rbac-proxy does)."""

ALWAYS_ALLOW = ("/healthz", "/readyz", "/livez")
"""Paths open to anyone whatever the mode, so kubelet probes need no credentials."""


class ServingError(KubeopsError, ValueError):
    """A serving setting that cannot be used (a flag, a file, a mode)."""


@dataclass(frozen=True)
class ResourceAttributes:
    """What a SubjectAccessReview asks about instead of the request's path: every request
    is authorized as the HTTP verb on this resource (kube-rbac-proxy's
    ``resourceAttributes``), e.g. ``get services/proxy "kubeops-inspect"`` in ``ops``."""

    resource: str
    group: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""

    def review(self, verb: str) -> dict[str, str]:
        """The ``resourceAttributes`` of a SubjectAccessReview for ``verb``."""
        fields = {
            "verb": verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "name": self.name,
            "namespace": self.namespace,
        }
        return {k: v for k, v in fields.items() if v or k == "group"}


@dataclass(frozen=True)
class ServingOptions:
    """Everything about one daemon's HTTP port.

    ``auth`` is one of :data:`AUTH_MODES`; ``token_file`` holds the bearer token
    for ``token`` (re-read when it changes); ``kubernetes`` reviews each caller
    through the daemon's own ``Client`` (it needs ``create`` on tokenreviews and
    subjectaccessreviews: the ``system:auth-delegator`` ClusterRole).
    ``allow_unauthenticated`` must be set to serve without authentication on an
    address other than loopback.  ``tls_cert_file``/``tls_key_file`` serve HTTPS
    (re-read when they change)."""

    host: str = "127.0.0.1"
    port: int = 8080
    auth: str = "none"
    token_file: str | None = None
    allow_unauthenticated: bool = False
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    resource_attributes: ResourceAttributes | None = None
    always_allow: Sequence[str] = field(default=ALWAYS_ALLOW)
    cache_ttl: float = 10.0
    review_timeout: float = 5.0

    @property
    def tls(self) -> bool:
        """Whether the port serves HTTPS."""
        return self.tls_cert_file is not None

    @property
    def url(self) -> str:
        """The base URL the port answers on, for log lines."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    def check(self) -> None:
        """Raise :class:`ServingError` for a setting that is unusable or unsafe."""
        if self.auth not in AUTH_MODES:
            raise ServingError(f"--auth {self.auth!r}: expected one of {', '.join(AUTH_MODES)}")
        if self.auth == "token" and not self.token_file:
            raise ServingError("--auth token needs --auth-token-file PATH (the bearer token)")
        if self.auth != "token" and self.token_file:
            raise ServingError("--auth-token-file is used only with --auth token")
        if self.auth != "kubernetes" and self.resource_attributes is not None:
            raise ServingError("--auth-resource-attributes is used only with --auth kubernetes")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ServingError("give both --tls-cert-file and --tls-private-key-file, or neither")
        if self.auth == "none" and not is_loopback(self.host) and not self.allow_unauthenticated:
            raise ServingError(
                f"--listen {self.host}:{self.port} is reachable from other machines and "
                "--auth is none: give --auth token or --auth kubernetes, or "
                "--allow-unauthenticated to serve it to anyone"
            )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(text: str, flag: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (every interface)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ServingError(f"{flag} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080 or :8080")
    host = host.strip("[]") or "0.0.0.0"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ServingError(f"{flag} {text!r}: {host!r} is not an IPv6 address") from None
    return host, int(port)


def parse_resource_attributes(
    text: str, flag: str = "--auth-resource-attributes"
) -> ResourceAttributes:
    """``resource=services,subresource=proxy,name=web,namespace=ops[,group=G]``."""
    known = {"resource", "group", "subresource", "name", "namespace"}
    values: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = part.strip().partition("=")
        if not eq or key not in known or key in values:
            raise ServingError(
                f"{flag} {text!r}: expected KEY=VALUE pairs, each once, with keys "
                f"{', '.join(sorted(known))}"
            )
        values[key] = value.strip()
    if not values.get("resource"):
        raise ServingError(f"{flag} {text!r}: resource= is required")
    return ResourceAttributes(**values)


MIN_LEASE_SECONDS = 3.0
"""The shortest ``--lease-duration``: its renew deadline (2/3) and retry period (1/7.5)
must leave a renewal time to arrive."""


def parse_lease_duration(text: str, flag: str = "--lease-duration") -> float:
    """A daemon's ``--lease-duration``: a DURATION (``15s``) of at least
    :data:`MIN_LEASE_SECONDS`, in seconds."""
    from kubeops.models import DurationError, parse_duration

    try:
        seconds = parse_duration(text, positive=True)
    except DurationError as err:
        raise ServingError(f"{flag}: {err}") from None
    if seconds < MIN_LEASE_SECONDS:
        raise ServingError(f"{flag} {text}: at least {MIN_LEASE_SECONDS:g}s")
    return seconds
