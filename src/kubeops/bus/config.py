"""The ``bus:`` settings of a rules file: where the brokers are, what to publish and
consume, and how to authenticate -- validated before anything starts.

The values are plain frozen dataclasses; :func:`parse_bus` builds them from the
YAML mapping and reports every problem through ``report(path, cause)`` (the rules
loader's reporter, which adds ``file:line``).  Credentials are *references*
(a file, or a Secret's key): their values are read only when the client connects
(:func:`resolve_credentials`) and never appear in a repr, a log line or an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Report = Callable[[str, str], None]
"""``report(field_path, cause)``: one problem in the ``bus:`` mapping."""

DEFAULT_SPOOL_BYTES = 256 * 1024 * 1024
"""What the spool may hold on disk before it refuses new events (and counts them)."""


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    """A key of a Kubernetes Secret holding a credential (``namespace/name`` + key)."""

    name: str
    key: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class Credential:
    """Where a secret value comes from: a file or a Secret's key (exactly one)."""

    file: str = ""
    secret: SecretKeyRef | None = None


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS to the brokers: a CA bundle to trust, and a client certificate and key."""

    ca_file: str = ""
    cert_file: str = ""
    key: Credential | None = None
    """The client key (a file, or a Secret's key: written to a private temp file to load)."""
    server_name: str = ""


@dataclass(frozen=True, slots=True)
class SaslSettings:
    """SASL authentication: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."""

    mechanism: str
    username: str
    password: Credential


@dataclass(frozen=True, slots=True)
class PublishSettings:
    """What this daemon publishes, and where.

    ``sources``: the event sources whose events go out (empty: every cluster source
    the rules use).  ``cluster``: the CloudEvents ``source`` attribute
    (``kubeops://<cluster>``), naming the cluster the events come from.
    """

    topic: str
    cluster: str
    sources: tuple[str, ...] = ()
    spool_dir: str = ""
    """Empty: ``$XDG_STATE_HOME/kubeops/spool/<topic>`` (``~/.local/state/...``)."""
    spool_max_bytes: int = DEFAULT_SPOOL_BYTES


@dataclass(frozen=True, slots=True)
class ConsumeSettings:
    """The topics rules take events from, and the consumer group replicas share."""

    topics: tuple[str, ...]
    group: str


@dataclass(frozen=True, slots=True)
class BusConfig:
    """Everything under ``bus:``; see the module doc."""

    brokers: tuple[str, ...]
    publish: PublishSettings | None = None
    consume: ConsumeSettings | None = None
    tls: TlsSettings | None = None
    sasl: SaslSettings | None = None
    client_id: str = "kubeops"
    extra: dict[str, Any] = field(default_factory=dict)
    """Reserved for client settings kubeops does not model (none yet)."""

    @property
    def distributed(self) -> bool:
        """True when the daemon's own published events come back through the bus: the
        leader publishes what the cluster does, and every replica in the group acts."""
        return (
            self.publish is not None
            and self.consume is not None
            and self.publish.topic in self.consume.topics
        )
