"""What ``kubeops inspect serve`` is told, validated before anything starts, so a typo
is one message naming the flag rather than a daemon failing an hour later."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from kubeops.config.redact import redact_url
from kubeops.errors import KubeopsError
from kubeops.inspect.serve.schedule import Schedule


class ServeError(KubeopsError, ValueError):
    """A flag of ``kubeops inspect serve`` that cannot be used."""


@dataclass(frozen=True)
class LeaseOptions:
    """Where the Lease lives: its name and namespace, and how to reach that cluster
    (default: the first inspected context)."""

    name: str = "kubeops-inspect"
    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    # client-go's (and kube-controller-manager's) defaults.
    duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``kubeops inspect serve`` takes; see the CLI's help for each.

    The history database is ``history`` (a URL or an SQLite path; its password never
    shows in ``repr``) or the URL kept in the file ``history_file`` (a mounted Secret),
    read when the service starts.  ``keep`` and ``max_age`` (seconds) limit what it
    keeps, applied after every run."""

    schedule: Schedule
    kubeconfig: str | None = None
    contexts: Sequence[str] = ()
    namespaces: Sequence[str] = ()
    config: str | None = None
    checks: Sequence[str] = ()
    history: str | None = field(default=None, repr=False)
    history_file: str | None = None
    listen: tuple[str, int] | None = ("127.0.0.1", 8080)
    webhook: str | None = None
    external_url: str | None = None
    lease: LeaseOptions | None = None
    runs: int | None = None
    keep: int | None = None
    max_age: float | None = None
    trend: int = 50
    identity: str | None = None


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (every interface)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ServeError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080 or :8080")
    host = host.strip("[]") or "0.0.0.0"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ServeError(f"--listen {text!r}: {host!r} is not an IPv6 address") from None
    return host, int(port)


def validate_url(text: str, flag: str) -> str:
    """An absolute http(s) URL, or a ServeError naming ``flag``."""
    shown = repr(redact_url(text, secret_path=flag == "--webhook"))
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        raise ServeError(f"{flag} {shown}: not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServeError(f"{flag} {shown}: expected an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ServeError(f"{flag} {shown}: the port is not a number from 0 to 65535") from None
    return text.strip()
