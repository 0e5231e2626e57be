"""Schedules: one event per time a trigger's cron expression names.

The event is named after the rule (the loader puts the rule's name in the
trigger's ``names``) and its identity is identity_of(rule, scheduled time), so a
time fired before a restart or by another leader is recognised by the ledger.
On start, times at or before ``since`` (the daemon's watermark) are not fired
again; of the times missed between ``since`` and now only the latest fires, as a
CronJob catches up -- a daemon down for a week does not fire a week of minutes.
Cron syntax is :mod:`kubeops.models.cron`'s (five fields, an optional sixth for seconds);
``params.timezone`` is an IANA zone (default UTC).
"""

from __future__ import annotations

import asyncio
import datetime
import zoneinfo
from collections.abc import Sequence
from typing import Any

from kubeops.api import Client
from kubeops.models.cron import CronError, is_cron, latest_at, next_after
from kubeops.respond.event import SCHEDULE, Event, identity_of, now
from kubeops.respond.model import Trigger
from kubeops.respond.source import Emit
from kubeops.respond.sources._watch import log

__all__ = ["PARAMS", "ScheduleSource", "due", "event_name", "matches", "validate"]

PARAMS = ("cron", "timezone")
_NAP = 60.0


def validate(trigger: Trigger) -> list[str]:
    """Problems with a schedule trigger, each a phrase naming the field."""
    params = trigger.params
    problems = [
        f"params.{key}: unknown for a schedule trigger (one of {', '.join(PARAMS)})"
        for key in sorted(set(params) - set(PARAMS))
    ]
    cron = params.get("cron")
    if not isinstance(cron, str) or not cron.strip():
        problems.append("params.cron: is required (a cron expression like '*/5 * * * *')")
    elif not is_cron(cron):
        problems.append(f"params.cron: {cron!r} is not a cron expression like '*/5 * * * *'")
    else:
        try:
            due(cron, "UTC", now(), now())
        except CronError:
            problems.append(f"params.cron: {cron!r} never fires")
    zone = params.get("timezone")
    if zone is not None:
        try:
            zoneinfo.ZoneInfo(str(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(f"params.timezone: {zone!r} is not a time zone like Europe/Paris")
    for field in ("kind", "selector"):
        if getattr(trigger, field):
            problems.append(f"{field}: a schedule trigger watches no objects")
    if trigger.namespaces:
        problems.append("namespaces: a schedule trigger watches no objects")
    if len(trigger.names) > 1:
        problems.append("names: a schedule trigger's event is named after its rule (one name)")
    return problems


def event_name(trigger: Trigger) -> str:
    """The event's name: the rule's (first of ``names``), else ``schedule``."""
    return trigger.names[0] if trigger.names else "schedule"


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether ``event`` is a firing of ``trigger``'s own schedule."""
    return (
        event.source == SCHEDULE
        and event.name == event_name(trigger)
        and event.payload.get("cron") == trigger.params.get("cron")
        and event.payload.get("timezone") == _zone_name(trigger)
    )


def _zone_name(trigger: Trigger) -> str:
    return str(trigger.params.get("timezone") or "UTC")


def due(
    cron: str, zone: str, since: datetime.datetime, at: datetime.datetime
) -> tuple[datetime.datetime | None, datetime.datetime]:
    """The latest scheduled time in (since, at] (None if none) and the first after ``at``."""
    local = at.astimezone(zoneinfo.ZoneInfo(zone))
    upcoming = next_after(cron, local)
    latest = latest_at(cron, local)
    missed = latest if since < latest <= at else None
    return missed, upcoming


class ScheduleSource:
    """Fires each schedule trigger at its cron times."""

    name = SCHEDULE

    def __init__(
        self,
        client: Client | None,
        triggers: Sequence[Trigger],
        *,
        since: datetime.datetime | None = None,
        **_settings: Any,
    ) -> None:
        self.client = client
        self.triggers = [t for t in triggers if t.source == SCHEDULE]
        self.since = since or now()
        self.ready = asyncio.Event()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()

    async def run(self, emit: Emit) -> None:
        """Fire every trigger's times until cancelled."""
        tasks = [asyncio.create_task(self._follow(t)) for t in self.triggers]
        self.ready.set()
        try:
            while True:
                event = await self._queue.get()
                try:
                    await emit(event)
                except Exception:
                    log.exception("emitting schedule %s failed", event.name)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, trigger: Trigger) -> None:
        cron, zone = str(trigger.params["cron"]), _zone_name(trigger)
        last = self.since
        while True:
            missed, upcoming = due(cron, zone, last, now())
            if missed is not None:
                self._queue.put_nowait(self._event(trigger, missed))
                last = missed
                continue
            # Sleep to the next time, a minute at most so a wall clock that jumps is
            # followed; waking early is harmless (the loop checks again).
            await asyncio.sleep(min(_NAP, max(0.0, (upcoming - now()).total_seconds())))

    def _event(self, trigger: Trigger, scheduled: datetime.datetime) -> Event:
        name = event_name(trigger)
        when = scheduled.astimezone(datetime.UTC)
        return Event(
            name,
            SCHEDULE,
            when,
            payload={
                "cron": trigger.params["cron"],
                "timezone": _zone_name(trigger),
                "scheduled": when.isoformat(),
            },
            identity=identity_of(name, when.isoformat()),
        )
