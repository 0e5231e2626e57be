"""A daemon's log as JSON lines, for log collectors: one object per record, one line
each, whatever the message holds (a traceback is one escaped field, a control
character from a request cannot start a forged line)."""

from __future__ import annotations

import datetime
import logging
import traceback
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
