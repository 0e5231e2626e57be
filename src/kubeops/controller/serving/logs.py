"""A daemon's log, for people (``--log-format text``) and for log collectors (``json``):
one line per record whatever the message holds (a traceback is one escaped field, a
control character from a request cannot start a forged line), with the same keys in
every daemon -- ``time``, ``level``, ``logger``, ``message``; ``cluster``, ``kind``,
``namespace``, ``name`` when the record is about an object; ``trace_id`` inside a span.

A record gets its fields from :func:`log_event` (or ``extra=event_fields(...)``),
never from its text: a message that looks like JSON stays a message.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import sys
import traceback
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from kubeops.config.redact import printable
from kubeops.telemetry import current_trace_id

LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("error", "warning", "info", "debug")
"""``--log-level``: ``info`` shows what the daemon does, ``debug`` every request too."""

KEYS = ("time", "level", "logger", "message")
"""The keys every JSON line has, first and in this order; no field replaces them."""
OBJECT_KEYS = ("cluster", "kind", "namespace", "name")
"""The keys naming the object a record is about (those known), after :data:`KEYS`."""
TRACE_KEY = "trace_id"
FIELDS = "kubeops_fields"
"""The :class:`logging.LogRecord` attribute holding a record's fields."""

_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING}
_LEVELS |= {"info": logging.INFO, "debug": logging.DEBUG}


def event_fields(**fields: Any) -> dict[str, Any]:
    """``extra=`` for a plain logging call: ``LOG.info("...", extra=event_fields(kind=...))``."""
    return {FIELDS: fields}


def log_event(logger: logging.Logger, level: int, message: str, /, **fields: Any) -> None:
    """Log ``message`` with ``fields`` as one record: keys of their own in JSON,
    ``key=value`` after the message in text (control characters from a request are
    escaped either way, so a client cannot forge log lines)."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", message, extra={FIELDS: fields})


def object_fields(obj: Mapping[str, Any] | None, cluster: str | None = None) -> dict[str, str]:
    """The object keys of a Kubernetes object (``kind``, ``namespace``, ``name``) and its
    ``cluster``, those known, for :func:`log_event`."""
    meta = (obj or {}).get("metadata") or {}
    found = {
        "cluster": cluster,
        "kind": (obj or {}).get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
    }
    return {k: str(v) for k, v in found.items() if v}


def _time(record: logging.LogRecord) -> str:
    moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_entry(record: logging.LogRecord) -> dict[str, Any]:
    """A record's keys in their order: :data:`KEYS`, the object's, ``trace_id``, the
    record's other fields, then ``error`` and ``traceback`` for an exception."""
    entry: dict[str, Any] = {
        "time": _time(record),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    fields = getattr(record, FIELDS, None)
    fields = fields if isinstance(fields, Mapping) else {}
    for key in OBJECT_KEYS:
        if fields.get(key) not in (None, ""):
            entry[key] = fields[key]
    trace = current_trace_id()
    if trace is not None:
        entry[TRACE_KEY] = trace
    for key, value in fields.items():
        entry.setdefault(str(key), value)
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        entry["error"] = f"{type(error).__name__}: {error}"
        entry["traceback"] = "".join(traceback.format_exception(error))
    return entry


class JsonLogFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...}``: :func:`record_entry` as one line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line."""
        return orjson.dumps(record_entry(record), default=str).decode()


class TextLogFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE key=value ...``: the same keys as JSON, one line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of text."""
        entry = record_entry(record)
        head = [
            entry.pop("time"),
            entry.pop("level").upper(),
            f"{entry.pop('logger')}:",
            printable(str(entry.pop("message")), one_line=True),
        ]
        return " ".join(head + [f"{key}={_text_value(value)}" for key, value in entry.items()])


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        plain = value and all(c.isprintable() and c not in ' "=' for c in value)
        return value if plain else orjson.dumps(value).decode()
    return orjson.dumps(value, default=str).decode()


def text_log_formatter() -> logging.Formatter:
    """The human format: :class:`TextLogFormatter`."""
    return TextLogFormatter()


def log_formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``--log-format`` ``text`` or ``json``."""
    return JsonLogFormatter() if fmt == "json" else TextLogFormatter()


KAFKA_CLIENT_LOGGER = "aiokafka"
"""The Kafka client's logger: it logs every failed connection (dozens a second while a
broker is away), so a daemon lets it through only at ``--log-level debug``; the bus
says each state change once itself.  Its SASL requests are withheld by
:mod:`kubeops.bus.kafka` whatever the level."""
HTTP_LOGGER = "aiohttp"
"""The HTTP library's loggers (access, client, server, web): warnings always, the
rest at ``--log-level debug``."""


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A Python warning in a daemon: a record of ``py.warnings`` (``Category: message``)."""
    logging.getLogger("py.warnings").warning("%s: %s", category.__name__, message)


class _DaemonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure_daemon_logs` installs (found and replaced on a second call)."""


def configure_daemon_logs(fmt: str, level: str, loggers: Iterable[str]) -> logging.Handler:
    """A daemon's stderr log in ``--log-format`` ``fmt`` at ``--log-level`` ``level``:
    kubeops' own ``loggers`` at that level (INFO by default), the rest of kubeops and
    every other library at WARNING (or ``error``), everything of kubeops and the HTTP
    library at debug, the Kafka client's only at debug.  Returns the handler."""
    threshold = _LEVELS.get(level, logging.INFO)
    debug = threshold == logging.DEBUG
    handler = _DaemonHandler(sys.stderr)
    handler.setFormatter(log_formatter(fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _DaemonHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)  # third-party warnings in the same format, not Python's plain one
    warnings.showwarning = _log_warning  # and Python's warnings too, one record each
    root.setLevel(max(threshold, logging.WARNING))
    kubeops = logging.getLogger("kubeops")
    kubeops.setLevel(threshold if debug else max(threshold, logging.WARNING))
    for name in loggers:
        logging.getLogger(name).setLevel(threshold)
    logging.getLogger(HTTP_LOGGER).setLevel(threshold if debug else max(threshold, logging.WARNING))
    # Below debug the Kafka client's records stop at its own logger: kubeops.bus.kafka
    # listens there for the causes of a failed start, which the client logs, not raises.
    client_log = logging.getLogger(KAFKA_CLIENT_LOGGER)
    client_log.setLevel(logging.DEBUG if debug else logging.WARNING)
    client_log.propagate = debug
    if not any(isinstance(h, logging.NullHandler) for h in client_log.handlers):
        client_log.addHandler(logging.NullHandler())  # not Python's last-resort stderr
    return handler


def configure_daemon(fmt: str, level: str, loggers: Iterable[str], service: str) -> None:
    """A daemon's start: its log (:func:`configure_daemon_logs`), then its traces
    (:func:`kubeops.telemetry.configure_tracing` as ``service``, e.g. ``kubeops-sync``;
    off unless the ``OTEL_*`` variables turn it on, and then exported at exit).  A bad
    ``OTEL_*`` value raises ``TracingConfigError`` (one line naming it)."""
    configure_daemon_logs(fmt, level, loggers)
    from kubeops.telemetry import configure_tracing, shutdown_tracing

    if configure_tracing(service):
        atexit.register(shutdown_tracing)  # the last spans leave before the process
