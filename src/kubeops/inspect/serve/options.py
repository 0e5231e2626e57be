"""What ``kubeops inspect serve`` is told, validated before anything starts, so a typo
is one message naming the flag rather than a daemon failing an hour later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from kubeops.config.redact import redact_url
from kubeops.controller.serving import ServingError, ServingOptions
from kubeops.controller.serving import parse_listen as _parse_listen
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
    keeps, applied after every run.

    ``serving`` says who may read the pages and over what (its address is
    ``listen``); with ``auth="kubernetes"`` the reviews go to ``auth_kubeconfig``'s
    ``auth_context`` (default: ``kubeconfig`` and the first context; in a Pod, the
    in-cluster config)."""

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
    serving: ServingOptions = field(default_factory=ServingOptions)
    auth_kubeconfig: str | None = None
    auth_context: str | None = None


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (every interface)."""
    try:
        return _parse_listen(text)
    except ServingError as err:
        raise ServeError(str(err)) from None


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
