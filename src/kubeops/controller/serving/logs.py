"""A daemon's log as JSON lines, for log collectors: one object per record, one line
each, whatever the message holds (a traceback is one escaped field, a control
character from a request cannot start a forged line)."""

from __future__ import annotations

import datetime
import logging
import sys
import traceback
from collections.abc import Iterable
from typing import Any

import orjson

LOG_FORMATS = ("text", "json")


class JsonLogFormatter(logging.Formatter):
    """``{"time", "level", "logger", "msg", ...}``; a message that is itself a JSON object
    (:func:`~kubeops.controller.serving.log_event`) gives its fields directly."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line."""
        moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        entry: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        fields = _fields(message)
        if fields is None:
            entry["msg"] = message
        else:
            entry.update(fields)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = "".join(traceback.format_exception(error))
        return orjson.dumps(entry, default=str).decode()


def _fields(message: str) -> dict[str, Any] | None:
    if not message.startswith("{"):
        return None
    try:
        value = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def text_log_formatter() -> logging.Formatter:
    """The human format: a timestamp and the message."""
    return logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z")


def log_formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``--log-format`` ``text`` or ``json``."""
    return JsonLogFormatter() if fmt == "json" else text_log_formatter()


LOG_LEVELS = ("info", "debug")

KAFKA_CLIENT_LOGGER = "aiokafka"
"""The Kafka client's logger: it logs every failed connection (dozens a second while a
broker is away), so a daemon lets it through only at ``--log-level debug``; the bus
says each state change once itself.  Its SASL requests are withheld by
:mod:`kubeops.bus.kafka` whatever the level."""


def configure_daemon_logs(fmt: str, level: str, loggers: Iterable[str]) -> logging.Handler:
    """A daemon's stderr log in ``--log-format`` ``fmt``: kubeops' own ``loggers`` at
    INFO (everything at DEBUG with ``--log-level debug``), the rest of kubeops at
    WARNING, the Kafka client's only at debug.  Returns the handler."""
    debug = level == "debug"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter(fmt))
    root = logging.getLogger("kubeops")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    for name in loggers:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.INFO)
    client_log = logging.getLogger(KAFKA_CLIENT_LOGGER)
    if debug:
        client_log.addHandler(handler)
        client_log.setLevel(logging.DEBUG)
    else:
        client_log.addHandler(logging.NullHandler())
    client_log.propagate = False
    return handler
