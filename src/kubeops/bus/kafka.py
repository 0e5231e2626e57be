"""The one door to the Kafka client library (aiokafka): clients built from the ``bus:``
settings, and a broker's refusal said in one line.

Everything else in kubeops speaks :class:`~kubeops.bus.config.BusConfig`; this module
turns it into aiokafka's keyword arguments -- the security protocol, an
:class:`ssl.SSLContext` from the TLS files (a key from a Secret is loaded through a
private temporary file, removed at once), the SASL mechanism and credentials -- so
swapping the client touches one file.  aiokafka does not chain a bootstrap failure's
cause (it logs it), so :func:`start` listens to its log for the cause while starting
and :func:`describe_connect_error` says what was wrong: no broker reachable, TLS
refused, SASL refused, an unknown topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    AuthenticationFailedError,
    CommitFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    UnsupportedSaslMechanismError,
)

from kubeops.bus.config import BusConfig, BusConfigError, ResolvedCredentials

__all__ = [
    "CommitFailedError",
    "ConsumerRebalanceListener",
    "KafkaConnectionError",
    "KafkaError",
    "KafkaTimeoutError",
    "SaslAuthenticationFailed",
    "TopicPartition",
    "UnknownTopicOrPartitionError",
    "admin",
    "client_settings",
    "consumer",
    "describe_connect_error",
    "producer",
    "start",
    "tail",
]

NO_CREDENTIALS = ResolvedCredentials()


class _NoSecrets(logging.Filter):
    """aiokafka logs every request it sends at DEBUG -- the SASL authentication request
    with the PLAIN password in it too: its arguments are withheld from the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if any("sasl" in type(arg).__name__.lower() for arg in args):
            record.args = tuple(
                "<SASL request withheld>" if "sasl" in type(arg).__name__.lower() else arg
                for arg in args
            )
        return True


logging.getLogger("aiokafka.conn").addFilter(_NoSecrets())


def producer(
    config: BusConfig, *, credentials: ResolvedCredentials = NO_CREDENTIALS, **kw: Any
) -> Any:
    """An idempotent producer (``acks=all``): a retried send is written once per partition."""
    settings = client_settings(config, credentials)
    settings.update(enable_idempotence=True, acks="all")
    settings.update(kw)
    return AIOKafkaProducer(**settings)


def consumer(
    config: BusConfig,
    topics: Sequence[str],
    group: str | None,
    *,
    credentials: ResolvedCredentials = NO_CREDENTIALS,
    **kw: Any,
) -> Any:
    """A consumer in ``group`` (None: no group, every partition, no commits); not
    subscribed when ``topics`` is empty (the caller subscribes with its rebalance
    listener)."""
    settings = client_settings(config, credentials)
    settings.update(group_id=group)
    settings.update(kw)
    return AIOKafkaConsumer(*topics, **settings)


def admin(
    config: BusConfig, *, credentials: ResolvedCredentials = NO_CREDENTIALS, **kw: Any
) -> Any:
    """An admin client (topic checks and creation)."""
    settings = client_settings(config, credentials)
    settings.update(kw)
    return AIOKafkaAdminClient(**settings)


async def tail(
    config: BusConfig,
    topic: str,
    count: int,
    *,
    credentials: ResolvedCredentials = NO_CREDENTIALS,
    timeout: float = 30.0,
    **kw: Any,
) -> list[bytes]:
    """The values of (at most) the last ``count`` messages of each of ``topic``'s
    partitions: what a restarted publisher checks its spool's head against."""
    reader = consumer(
        config, [topic], None, credentials=credentials, enable_auto_commit=False, **kw
    )
    await start(reader, config, what=f"reading the tail of {topic}")
    values: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            partitions = list(reader.assignment())  # no group: every partition, at once
            if not partitions:
                return []
            ends = await reader.end_offsets(partitions)
            for tp in partitions:
                reader.seek(tp, max(0, ends[tp] - count))
            left = {tp for tp in partitions if ends[tp] > 0}
            while left:
                batch = await reader.getmany(*left, timeout_ms=200)
                for tp, messages in batch.items():
                    values += [m.value for m in messages if m.offset < ends[tp]]
                for tp in list(left):
                    if await reader.position(tp) >= ends[tp]:
                        left.discard(tp)
    finally:
        await reader.stop()
    return values


def client_settings(config: BusConfig, credentials: ResolvedCredentials) -> dict[str, Any]:
    """The keyword arguments every aiokafka client takes from ``config``."""
    settings: dict[str, Any] = {
        "bootstrap_servers": list(config.brokers),
        "client_id": config.client_id,
    }
    tls = config.tls is not None
    if config.sasl is not None:
        settings.update(
            security_protocol="SASL_SSL" if tls else "SASL_PLAINTEXT",
            sasl_mechanism=config.sasl.mechanism,
            sasl_plain_username=config.sasl.username,
            sasl_plain_password=credentials.sasl_password,
        )
    else:
        settings["security_protocol"] = "SSL" if tls else "PLAINTEXT"
    if tls:
        settings["ssl_context"] = ssl_context(config, credentials)
    return settings


class _NamedContext(ssl.SSLContext):
    """An SSLContext that checks the broker's certificate against ``tls.serverName``
    instead of the address dialled (a broker reached by IP or through a proxy)."""

    server_name = ""

    def wrap_bio(self, *args: Any, **kw: Any) -> ssl.SSLObject:
        kw["server_hostname"] = self.server_name
        return super().wrap_bio(*args, **kw)


def ssl_context(config: BusConfig, credentials: ResolvedCredentials) -> ssl.SSLContext:
    """The TLS context for ``config.tls``; a file that cannot be loaded raises
    :class:`BusConfigError` naming the setting."""
    tls = config.tls
    assert tls is not None
    context: ssl.SSLContext = (
        _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
        if tls.server_name
        else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    )
    if isinstance(context, _NamedContext):
        context.server_name = tls.server_name
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        if tls.ca_file:
            context.load_verify_locations(cafile=tls.ca_file)
        else:
            context.load_default_certs()
    except (OSError, ssl.SSLError) as err:
        raise BusConfigError(f"bus.tls.caFile {tls.ca_file}: cannot load: {_reason(err)}") from None
    if tls.cert_file:
        with _key_file(credentials.tls_key) as key_path:
            try:
                context.load_cert_chain(tls.cert_file, key_path)
            except (OSError, ssl.SSLError) as err:
                raise BusConfigError(
                    f"bus.tls.certFile {tls.cert_file}: cannot load it with its key: {_reason(err)}"
                ) from None
    return context


@contextlib.contextmanager
def _key_file(pem: bytes) -> Iterator[str]:
    """``pem`` in a file only this user reads, removed on the way out (ssl loads keys
    from files only)."""
    fd, path = tempfile.mkstemp(prefix="kubeops-bus-key-")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(pem)
        yield path
    finally:
        os.unlink(path)


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    if isinstance(err, ssl.SSLError) and reason:
        detail = getattr(err, "verify_message", "")
        text = str(reason).lower().replace("_", " ")
        return f"{text}: {detail}" if detail else text
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


class _Causes(logging.Handler):
    """The causes aiokafka logs (and does not raise) while a client starts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.found += [arg for arg in args if isinstance(arg, BaseException)]


async def start(client: Any, config: BusConfig, *, what: str = "") -> None:
    """``await client.start()``; a failure raises :class:`BusConfigError` with
    :func:`describe_connect_error`'s line (the client is stopped)."""
    causes = _Causes()
    logger = logging.getLogger("aiokafka")
    logger.addHandler(causes)
    try:
        await client.start()
    except (KafkaError, OSError, TimeoutError) as err:
        with contextlib.suppress(Exception):
            await client.stop()
        cause = causes.found[-1] if causes.found else None
        raise BusConfigError(describe_connect_error(err, config, cause=cause, what=what)) from None
    finally:
        logger.removeHandler(causes)


def describe_connect_error(
    err: BaseException, config: BusConfig, *, cause: BaseException | None = None, what: str = ""
) -> str:
    """One line naming the bus setting at fault and why: ``err`` is what the client
    raised, ``cause`` what it logged (aiokafka hides a bootstrap failure's cause)."""
    brokers = ", ".join(config.brokers)
    doing = f"{what}: " if what else ""
    root = cause if cause is not None else err
    if isinstance(root, ssl.SSLError) or isinstance(err, ssl.SSLError):
        tls = root if isinstance(root, ssl.SSLError) else err
        return f"bus.tls: {doing}TLS with {brokers} failed: {_reason(tls)}"
    if config.tls is not None and isinstance(root, ConnectionResetError):
        return f"bus.tls: {doing}{brokers} reset the TLS handshake (is it a TLS listener?)"
    if isinstance(root, IllegalSaslStateError):
        return f"bus.sasl: {doing}{brokers} does not take SASL here (is it a SASL listener?)"
    if isinstance(root, UnsupportedSaslMechanismError):
        mechanism = config.sasl.mechanism if config.sasl else "none"
        return f"bus.sasl.mechanism: {doing}the broker does not take {mechanism}: {_message(root)}"
    if isinstance(root, SaslAuthenticationFailed | AuthenticationFailedError):
        user = config.sasl.username if config.sasl else ""
        return f"bus.sasl: {doing}{brokers} refused {user!r}: {_message(root)}"
    if isinstance(root, UnknownTopicOrPartitionError):
        return (
            f"bus: {doing}unknown topic (is auto-creation off? create it first): {_message(root)}"
        )
    if isinstance(root, TopicAuthorizationFailedError):
        return f"bus: {doing}not allowed to use the topic: {_message(root)}"
    if isinstance(err, KafkaConnectionError) or isinstance(root, OSError | TimeoutError):
        why = _message(cause) if cause is not None else _message(err)
        return f"bus.brokers: {doing}no broker reachable at {brokers}: {why}"
    return f"bus: {doing}{brokers}: {type(root).__name__}: {_message(root)}"


def _message(err: BaseException) -> str:
    if isinstance(err, ssl.SSLError):
        return _reason(err)
    text = str(err).strip().replace("\n", " ")
    return text or type(err).__name__
