"""The ``bus:`` settings of a rules file: where the brokers are, what to publish and
consume, and how to authenticate -- validated before anything starts.

The values are plain frozen dataclasses; :func:`parse_bus` builds them from the
YAML mapping and reports every problem through ``report(path, cause)`` (the rules
loader's reporter, which adds ``file:line``).  Credentials are *references*
(a file, or a Secret's key): their values are read only when the client connects
(:func:`resolve_credentials`) and never appear in a repr, a log line or an error.
"""

from __future__ import annotations

import base64
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubeops.config.schema import type_name
from kubeops.errors import KubeopsError

if TYPE_CHECKING:
    from kubeops.api import Client

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


# --- parsing the ``bus:`` mapping --------------------------------------------------------------

BUS_KEYS = ("brokers", "clientId", "publish", "consume", "tls", "sasl")
PUBLISH_KEYS = ("topic", "cluster", "sources", "spool")
SPOOL_KEYS = ("dir", "maxBytes")
CONSUME_KEYS = ("topics", "group")
TLS_KEYS = ("caFile", "certFile", "keyFile", "keySecret", "serverName")
SASL_KEYS = ("mechanism", "username", "passwordFile", "passwordSecret")
SECRET_KEYS = ("namespace", "name", "key")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")
TOPIC_RULE = "must be 1-249 letters, digits, '.', '_' or '-' (Kafka's rule), and not '.' or '..'"
_CLUSTER = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?")
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?)")


def parse_bus(value: Any, report: Report) -> BusConfig | None:
    """The :class:`BusConfig` the YAML mapping ``value`` declares, or None when it has
    problems -- each one reported as ``report(field_path, cause)``, all at once."""
    problems: list[str] = []

    def note(path: str, cause: str) -> None:
        problems.append(path)
        report(path, cause)

    if not isinstance(value, Mapping):
        note(
            "", f"must be a mapping with brokers and publish and/or consume, not {type_name(value)}"
        )
        return None
    _unknown(value, BUS_KEYS, "", note)
    brokers = _brokers(value.get("brokers"), note)
    client_id = _text(value.get("clientId"), "clientId", note) or "kubeops"
    publish = _publish(value["publish"], note) if value.get("publish") is not None else None
    consume = _consume(value["consume"], note) if value.get("consume") is not None else None
    if publish is None and consume is None and "publish" not in value and "consume" not in value:
        note("", "set publish, consume or both (a bus with neither does nothing)")
    tls = _tls(value["tls"], note) if "tls" in value else None
    sasl = _sasl(value["sasl"], note) if value.get("sasl") is not None else None
    if problems:
        return None
    return BusConfig(
        brokers=brokers,
        publish=publish,
        consume=consume,
        tls=tls,
        sasl=sasl,
        client_id=client_id,
    )


def _unknown(mapping: Mapping[Any, Any], known: tuple[str, ...], prefix: str, note: Report) -> None:
    for key in mapping:
        if key not in known:
            path = f"{prefix}.{key}" if prefix else str(key)
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            note(path, f"unknown key{hint}; known: {', '.join(known)}")


def _mapping(value: Any, path: str, keys: tuple[str, ...], note: Report) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        note(path, f"must be a mapping, not {type_name(value)}")
        return {}
    _unknown(value, keys, path, note)
    return value


def _text(value: Any, path: str, note: Report, *, required: str = "") -> str:
    if value is None or value == "":
        if required:
            note(path, f"required: {required}")
        return ""
    if not isinstance(value, str):
        note(path, f"must be a string, not {type_name(value)}")
        return ""
    return value


def _list(value: Any, path: str, note: Report) -> list[tuple[str, str]]:
    """A string or a list of strings, each with its field path."""
    if isinstance(value, str):
        return [(path, value)]
    if not isinstance(value, list):
        note(path, f"must be a list of strings, not {type_name(value)}")
        return []
    out = []
    for index, each in enumerate(value):
        if isinstance(each, str):
            out.append((f"{path}[{index}]", each))
        else:
            note(f"{path}[{index}]", f"must be a string, not {type_name(each)}")
    return out


def _brokers(value: Any, note: Report) -> tuple[str, ...]:
    if value is None or value == []:
        note("brokers", "required: a list of host:port (e.g. [kafka-0.kafka:9092])")
        return ()
    items = _list(value, "brokers", note)
    if isinstance(value, str):  # "a:9092,b:9092", as Kafka's own tools take them
        items = [("brokers", part.strip()) for part in value.split(",")]
    found = []
    for path, broker in items:
        host, sep, port = broker.rpartition(":")
        if not sep or not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
            note(path, f"{broker!r} is not host:port (e.g. kafka-0.kafka:9092 or [::1]:9092)")
        else:
            found.append(broker)
    return tuple(found)


def _topic(value: Any, path: str, note: Report, what: str = "a topic name") -> str:
    name = _text(value, path, note, required=what)
    if name and (not _TOPIC.fullmatch(name) or name in (".", "..")):
        note(path, f"{name!r} {TOPIC_RULE}")
        return ""
    return name


def _publish(value: Any, note: Report) -> PublishSettings | None:
    from kubeops.respond.event import KAFKA, SOURCES

    found = _mapping(value, "publish", PUBLISH_KEYS, note)
    if not isinstance(value, Mapping):
        return None
    topic = _topic(found.get("topic"), "publish.topic", note)
    cluster = _text(found.get("cluster"), "publish.cluster", note, required="the cluster's name")
    if cluster and not _CLUSTER.fullmatch(cluster):
        note("publish.cluster", f"{cluster!r} must be letters, digits, '.', '_' or '-'")
    publishable = [s for s in SOURCES if s != KAFKA]
    sources = []
    for path, source in _list(found.get("sources") or [], "publish.sources", note):
        if source not in publishable:
            close = difflib.get_close_matches(source, publishable, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            note(path, f"unknown source {source!r}{hint}; known: {', '.join(publishable)}")
        sources.append(source)
    spool = _mapping(found.get("spool"), "publish.spool", SPOOL_KEYS, note)
    spool_dir = _text(spool.get("dir"), "publish.spool.dir", note)
    max_bytes = _size(spool.get("maxBytes"), "publish.spool.maxBytes", note)
    return PublishSettings(
        topic=topic,
        cluster=cluster,
        sources=tuple(sources),
        spool_dir=spool_dir,
        spool_max_bytes=max_bytes,
    )


def _size(value: Any, path: str, note: Report) -> int:
    from kubeops.models.quantity import QuantityError, bytes_

    if value is None:
        return DEFAULT_SPOOL_BYTES
    if isinstance(value, bool) or not isinstance(value, int | str):
        note(path, f"must be a size like 256Mi, not {type_name(value)}")
        return DEFAULT_SPOOL_BYTES
    try:
        size = value if isinstance(value, int) else bytes_(value)
    except QuantityError:
        note(path, f"must be a size like 256Mi or 1Gi, not {value!r}")
        return DEFAULT_SPOOL_BYTES
    if size < MIN_SPOOL_BYTES:
        note(path, f"must be at least 1Mi, not {value!r}")
    return size


MIN_SPOOL_BYTES = 1024 * 1024
"""A spool smaller than this would refuse ordinary objects."""


def _consume(value: Any, note: Report) -> ConsumeSettings | None:
    found = _mapping(value, "consume", CONSUME_KEYS, note)
    if not isinstance(value, Mapping):
        return None
    topics = []
    if not found.get("topics"):
        note("consume.topics", "required: the topics to read (a list)")
    for path, topic in _list(found.get("topics") or [], "consume.topics", note):
        topics.append(_topic(topic, path, note))
    group = _topic(found.get("group"), "consume.group", note, "the consumer group's name")
    return ConsumeSettings(topics=tuple(topics), group=group)


def _secret(value: Any, path: str, note: Report) -> SecretKeyRef | None:
    found = _mapping(value, path, SECRET_KEYS, note)
    if not isinstance(value, Mapping):
        return None
    name = _text(found.get("name"), f"{path}.name", note, required="the Secret's name")
    key = _text(found.get("key"), f"{path}.key", note, required="the key in the Secret's data")
    namespace = _text(found.get("namespace"), f"{path}.namespace", note)
    return SecretKeyRef(name=name, key=key, namespace=namespace)


def _credential(
    found: Mapping[Any, Any], path: str, file_key: str, secret_key: str, note: Report
) -> Credential | None:
    """``file_key`` xor ``secret_key`` of ``found`` (None when neither is set)."""
    has_file, has_secret = found.get(file_key) is not None, found.get(secret_key) is not None
    if has_file and has_secret:
        note(f"{path}.{secret_key}", f"set {file_key} or {secret_key}, not both")
        return None
    if has_file:
        return Credential(file=_text(found[file_key], f"{path}.{file_key}", note))
    if has_secret:
        return Credential(secret=_secret(found[secret_key], f"{path}.{secret_key}", note))
    return None


def _tls(value: Any, note: Report) -> TlsSettings | None:
    if value is True or value is None:  # `tls: true` / `tls: {}`: the system's CAs
        return TlsSettings()
    found = _mapping(value, "tls", TLS_KEYS, note)
    if not isinstance(value, Mapping):
        return None
    cert = _text(found.get("certFile"), "tls.certFile", note)
    key = _credential(found, "tls", "keyFile", "keySecret", note)
    if cert and key is None:
        note("tls.keyFile", "required with certFile (or keySecret)")
    if key is not None and not cert:
        note("tls.certFile", "required with a client key")
    return TlsSettings(
        ca_file=_text(found.get("caFile"), "tls.caFile", note),
        cert_file=cert,
        key=key,
        server_name=_text(found.get("serverName"), "tls.serverName", note),
    )


def _sasl(value: Any, note: Report) -> SaslSettings | None:
    found = _mapping(value, "sasl", SASL_KEYS, note)
    if not isinstance(value, Mapping):
        return None
    mechanism = _text(
        found.get("mechanism"), "sasl.mechanism", note, required=", ".join(MECHANISMS)
    )
    if mechanism and mechanism not in MECHANISMS:
        close = difflib.get_close_matches(mechanism.upper(), MECHANISMS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        note(
            "sasl.mechanism",
            f"unknown mechanism {mechanism!r}{hint}; known: {', '.join(MECHANISMS)}",
        )
    username = _text(found.get("username"), "sasl.username", note, required="the SASL user")
    password = _credential(found, "sasl", "passwordFile", "passwordSecret", note)
    both = found.get("passwordFile") is not None and found.get("passwordSecret") is not None
    if password is None and not both:
        note("sasl.passwordFile", "required: passwordFile or passwordSecret (exactly one)")
    return SaslSettings(mechanism=mechanism, username=username, password=password or Credential())


# --- credentials, read when the client connects --------------------------------------------------

MAX_CREDENTIAL = 1024 * 1024
"""Largest credential file or Secret value read (bytes)."""


class BusConfigError(KubeopsError):
    """The bus cannot be used as configured; the message names the setting and the cause."""


@dataclass(frozen=True, slots=True)
class ResolvedCredentials:
    """The secret values a client needs, read once at start; the repr never shows them."""

    sasl_password: str = field(default="", repr=False)
    tls_key: bytes = field(default=b"", repr=False)
    """The client key's PEM (from keyFile or keySecret)."""

    def __repr__(self) -> str:
        password = "***" if self.sasl_password else "unset"
        key = "***" if self.tls_key else "unset"
        return f"ResolvedCredentials(sasl_password={password}, tls_key={key})"

    __str__ = __repr__


async def resolve_credentials(
    config: BusConfig, client: Client | None = None
) -> ResolvedCredentials:
    """The SASL password and TLS key ``config`` refers to, from files or Secrets (through
    ``client``); raises :class:`BusConfigError` naming the setting and the cause (never
    the value)."""
    password = b""
    key = b""
    if config.sasl is not None:
        password = await _read_credential(config.sasl.password, "bus.sasl.password", client)
    if config.tls is not None and config.tls.key is not None:
        key = await _read_credential(config.tls.key, "bus.tls.key", client)
    try:
        text = password.decode().strip()
    except UnicodeDecodeError:
        raise BusConfigError("bus.sasl.password: not UTF-8 text") from None
    return ResolvedCredentials(sasl_password=text, tls_key=key)


async def _read_credential(credential: Credential, setting: str, client: Client | None) -> bytes:
    from kubeops.config.inputs import InputError, read_bounded

    if credential.file:
        try:
            return read_bounded(credential.file, limit=MAX_CREDENTIAL, what=f"{setting}File")
        except InputError as err:
            raise BusConfigError(str(err)) from None  # names the setting and the file
    ref = credential.secret
    if ref is None:
        raise BusConfigError(f"{setting}: neither a file nor a Secret is set")
    return await _read_secret(ref, f"{setting}Secret", client)


async def _read_secret(ref: SecretKeyRef, setting: str, client: Client | None) -> bytes:
    from kubeops.errors import ApiError

    where = f"{setting} {ref.namespace + '/' if ref.namespace else ''}{ref.name}[{ref.key}]"
    if client is None:
        raise BusConfigError(f"{where}: no cluster connection to read the Secret with")
    try:
        secret = await client.get("Secret", ref.name, ref.namespace or None)
    except ApiError as err:
        raise BusConfigError(f"{where}: cannot read the Secret: {err}") from None
    data = (secret.get("data") or {}).get(ref.key)
    if data is None:
        raise BusConfigError(f"{where}: the Secret has no key {ref.key!r}")
    try:
        return base64.b64decode(data, validate=True)
    except (ValueError, TypeError):
        raise BusConfigError(f"{where}: the value is not base64 (as a Secret's data is)") from None
