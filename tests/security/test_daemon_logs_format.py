"""The daemons' log lines: the same keys in every daemon, one line per record whatever
the message holds, the trace id inside a span, and the flags every daemon has."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import types
import warnings
from collections.abc import Iterator

import pytest

from kubeops.controller.serving import (
    LOG_FORMATS,
    LOG_LEVELS,
    JsonLogFormatter,
    TextLogFormatter,
    configure_daemon_logs,
    event_fields,
    log_event,
    object_fields,
)
from kubeops.controller.serving.logs import FIELDS


def record(
    text: str, /, *args: object, level: int = logging.INFO, **fields: object
) -> logging.LogRecord:
    made = logging.LogRecord("kubeops.sync.daemon", level, __file__, 1, text, args, None)
    if fields:
        setattr(made, FIELDS, fields)
    return made


def test_json_lines_have_the_stable_keys_first_and_the_object_keys_next() -> None:
    about = object_fields(
        {"kind": "Deployment", "metadata": {"namespace": "shop", "name": "web"}}, cluster="b"
    )
    line = JsonLogFormatter().format(record("applied %s", "web", action="apply", **about))
    entry = json.loads(line)
    assert list(entry) == [
        "time",
        "level",
        "logger",
        "message",
        "cluster",
        "kind",
        "namespace",
        "name",
        "action",
    ]
    assert entry["message"] == "applied web"
    assert (entry["level"], entry["logger"]) == ("info", "kubeops.sync.daemon")
    assert entry["time"].endswith("Z")
    assert len(entry["time"]) == len("2026-01-01T00:00:00.000Z")
    assert "trace_id" not in entry
    assert "msg" not in entry


def test_fields_never_replace_the_stable_keys_and_json_in_a_message_stays_text() -> None:
    entry = json.loads(
        JsonLogFormatter().format(
            record('{"level": "debug"}', level=logging.WARNING, time=1.5, message="forged")
        )
    )
    assert entry["level"] == "warning"
    assert entry["message"] == '{"level": "debug"}'
    assert entry["time"] != 1.5


def test_one_line_per_record_whatever_the_message_holds() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        failed = logging.LogRecord(
            "kubeops.x", logging.ERROR, __file__, 1, "line one\nline two\x1b[2J", (), sys.exc_info()
        )
    setattr(failed, FIELDS, {"reason": "a\nb", "name": "x y"})
    for formatter in (JsonLogFormatter(), TextLogFormatter()):
        line = formatter.format(failed)
        assert "\n" not in line, line
        assert "\x1b" not in line, line
    text = TextLogFormatter().format(failed)
    assert " ERROR kubeops.x: line one\\nline two\\x1b[2J " in text
    assert 'name="x y"' in text
    assert 'reason="a\\nb"' in text
    assert 'error="ValueError: bad\\nvalue"' in text
    assert "traceback=" in text
    plain = TextLogFormatter().format(record("applied", kind="ConfigMap", count=2))
    assert plain.endswith(" INFO kubeops.sync.daemon: applied kind=ConfigMap count=2")


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """An ``opentelemetry.trace`` stand-in whose current span has the trace id in the list
    (0: no valid span), as the SDK answers once tracing is configured."""
    current = [0]

    class Context:
        @property
        def trace_id(self) -> int:
            return current[0]

        @property
        def is_valid(self) -> bool:
            return current[0] != 0

    class Span:
        def get_span_context(self) -> Context:
            return Context()

    trace = types.ModuleType("opentelemetry.trace")
    trace.get_current_span = Span  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", trace)
    return current


def test_the_trace_id_is_there_inside_a_span_only(traced: list[int]) -> None:
    formatter = JsonLogFormatter()
    assert "trace_id" not in json.loads(formatter.format(record("outside")))
    traced[0] = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    entry = json.loads(formatter.format(record("inside", kind="Pod")))
    assert entry["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert list(entry)[4:6] == ["kind", "trace_id"]
    assert "trace_id=4bf92f3577b34da6a3ce929d0e0e4736" in TextLogFormatter().format(record("in"))


@pytest.fixture
def kept_levels() -> Iterator[None]:
    """The loggers' levels as they were: a daemon's set-up must not outlive the test."""
    names = ("", "kubeops", "kubeops.test.logs", "aiohttp", "aiokafka")
    levels = {name: logging.getLogger(name).level for name in names}
    propagate = logging.getLogger("aiokafka").propagate
    shown = warnings.showwarning
    yield
    warnings.showwarning = shown
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger("aiokafka").propagate = propagate


@pytest.mark.usefixtures("kept_levels")
def test_log_event_and_event_fields_give_a_record_its_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = configure_daemon_logs("json", "info", ("kubeops.test.logs",))
    try:
        log = logging.getLogger("kubeops.test.logs")
        log_event(log, logging.INFO, "denied", status=403, name="web")
        log.info("plain %d", 1, extra=event_fields(cluster="a"))
        log.debug("not shown at info")
        logging.getLogger("kubeops.elsewhere").info("not shown: not the daemon's own")
        logging.getLogger("aiokafka").warning("not shown: the Kafka client is quiet")
        logging.getLogger("aiohttp.server").warning("shown: a library's warning")
        warnings.warn("shown: Python's warning\nin one line", UserWarning, stacklevel=1)
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["message"], e.get("name"), e.get("cluster")) for e in lines[:3]] == [
        ("denied", "web", None),
        ("plain 1", None, "a"),
        ("shown: a library's warning", None, None),
    ]
    assert len(lines) == 4
    assert lines[3]["message"] == "UserWarning: shown: Python's warning\nin one line"
    assert lines[3]["logger"] == "py.warnings"
    assert lines[0]["status"] == 403


def test_every_daemon_takes_the_same_log_flags() -> None:
    from kubeops.cli.inspect_serve import add_log_flags, register

    flags = argparse.ArgumentParser()
    add_log_flags(flags)
    choices = {a.dest: tuple(a.choices or ()) for a in flags._actions if a.choices}
    assert sorted(choices["log_format"]) == sorted(LOG_FORMATS)
    assert choices["log_level"] == LOG_LEVELS
    commands = argparse.ArgumentParser().add_subparsers()
    register(commands)
    serve = commands.choices["serve"]
    assert serve.parse_args(["-v"]).log_level == "debug"  # -v stays an alias
    assert serve.parse_args([]).log_level == "info"
    assert serve.parse_args(["--log-level", "error"]).log_level == "error"


def test_text_quoting_a_secret_kubeops_holds_is_masked() -> None:
    from kubeops.config.redact import mask_values

    key = "-----BEGIN PRIVATE KEY-----\n" + "QUJD" * 16 + "\n" + "REVG" * 16 + "\n-----END"
    said = f"got tok-1234567890 and\n{key}\nand a line {'REVG' * 16} alone"
    masked = mask_values(said, ["tok-1234567890", key.encode(), None, ""])
    assert "tok-1234567890" not in masked
    assert "QUJD" not in masked
    assert "REVG" not in masked
    assert masked.startswith("got *** and\n***\nand a line *** alone")


def test_a_daemons_registry_gets_the_process_metrics_once() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from kubeops.controller.serving.process_metrics import add_process_metrics

    registry = CollectorRegistry()
    add_process_metrics(registry)
    add_process_metrics(registry)  # a second app on the same registry: no duplicate
    text = generate_latest(registry).decode()
    assert "process_start_time_seconds" in text
    assert "python_info" in text
    assert "# TYPE rest_client_requests_total counter" in text  # the API client's
