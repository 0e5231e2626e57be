"""What rules would have done for a recorded stream of events -- nothing changed.

A recording is JSON lines, one :class:`~kubeops.respond.event.Event` per line as
:func:`event_to_json` writes it (``name``, ``source``, ``time``, ``payload``,
``object``, ``oldObject``, ``identity``); the daemon's ``--record`` writes it,
and one can be written by hand.  :func:`replay` runs every event through an
engine in dry run, with no ledger and no audit log, the limits counting in the
events' own time -- so a replayed storm shows which actions the limits would
have let through and which they would have suppressed, and why.  With a client
the actions are planned against that cluster (reads only); without one each
plan only names what it would act on.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from kubeops.errors import KubeopsError
from kubeops.respond.event import Event, identity_of

if TYPE_CHECKING:
    from kubeops.api import Client
    from kubeops.respond.engine import Decision
    from kubeops.respond.rules import RuleSet

MAX_LINE = 8 * 1024 * 1024
"""Longest event line read (bytes): an object with its managed fields fits."""


class ReplayError(KubeopsError, ValueError):
    """A recording that cannot be read; the message names the file, line and cause."""


def event_to_json(event: Event) -> str:
    """``event`` as one JSON line (no line break), as recordings hold it."""
    data: dict[str, Any] = {
        "name": event.name,
        "source": event.source,
        "time": event.time.isoformat(),
        "payload": dict(event.payload),
        "identity": event.identity,
    }
    if event.object is not None:
        data["object"] = event.object
    if event.old_object is not None:
        data["oldObject"] = event.old_object
    return orjson.dumps(data, default=_plain).decode()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def event_from_json(text: str | bytes) -> Event:
    """The event of one recorded line; :class:`ValueError` naming the field when wrong.

    ``time`` is RFC 3339 (``Z`` or an offset; no offset means UTC); a missing
    ``identity`` is derived from the name, source, time and payload."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise ValueError(f"not JSON: {err.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("an event is a JSON object")
    unknown = sorted(
        set(data) - {"name", "source", "time", "payload", "object", "oldObject", "identity"}
    )
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    name, source = data.get("name"), data.get("source")
    if not isinstance(name, str) or not name:
        raise ValueError("name: required, a string")
    if not isinstance(source, str) or not source:
        raise ValueError("source: required, a string")
    when = _time(data.get("time"))
    payload = data.get("payload") or {}
    if not isinstance(payload, dict):
        raise ValueError("payload: must be an object")
    for key in ("object", "oldObject"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ValueError(f"{key}: must be an object")
    identity = data.get("identity") or identity_of(
        name, source, when.isoformat(), orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    )
    if not isinstance(identity, str):
        raise ValueError("identity: must be a string")
    return Event(
        name=name,
        source=source,
        time=when,
        payload=payload,
        object=data.get("object"),
        old_object=data.get("oldObject"),
        identity=identity,
    )


def _time(value: Any) -> datetime.datetime:
    if not isinstance(value, str):
        raise ValueError("time: required, an RFC 3339 time like 2026-01-02T03:04:05Z")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"time: {value!r} is not an RFC 3339 time like 2026-01-02T03:04:05Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def read_events(path: str | Path) -> Iterator[Event]:
    """The events recorded in ``path`` (``-`` for standard input), blank lines skipped;
    :class:`ReplayError` naming ``path:line`` for a line that is not an event."""
    import sys

    name = str(path)
    try:
        stream = sys.stdin.buffer if name == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as err:
        raise ReplayError(f"events file {name}: cannot read: {err.strerror or err}") from None
    with stream:
        for number, line in enumerate(_lines(stream, name), start=1):
            if not line.strip():
                continue
            try:
                yield event_from_json(line)
            except ValueError as err:
                raise ReplayError(f"{name}:{number}: not an event: {err}") from None


def _lines(stream: Any, name: str) -> Iterator[bytes]:
    while True:
        try:
            line: bytes = stream.readline(MAX_LINE + 1)
        except OSError as err:
            raise ReplayError(f"events file {name}: cannot read: {err.strerror or err}") from None
        if not line:
            return
        if len(line) > MAX_LINE:
            raise ReplayError(f"events file {name}: a line is longer than {MAX_LINE} bytes")
        yield line


async def replay(
    ruleset: RuleSet, events: str | Path, client: Client | None = None
) -> list[Decision]:
    """Every decision the rules make for the events recorded in ``events``, in dry
    run: no ledger, no audit log, nothing written to any cluster."""
    from kubeops.respond.engine import Engine
    from kubeops.respond.rules import with_dry_run

    engine = Engine(
        client,
        with_dry_run(ruleset),
        dry_run=True,
        now=lambda event: event.time.timestamp(),
    )
    decisions: list[Decision] = []
    for event in read_events(events):
        decisions += await engine.handle(event)
    return decisions
