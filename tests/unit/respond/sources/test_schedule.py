"""Schedules: which time fires after a restart, time zones, validation, and a real run."""

from __future__ import annotations

import asyncio
import datetime
import itertools

from kubeops.respond.event import SCHEDULE, Event, identity_of
from kubeops.respond.model import Trigger
from kubeops.respond.sources.schedule import ScheduleSource, due, matches, validate
from kubeops.testenv import async_eventually

UTC = datetime.UTC


def at(hour: int, minute: int, second: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC)


def test_a_time_at_or_before_since_does_not_fire_again() -> None:
    missed, upcoming = due("*/5 * * * *", "UTC", since=at(10, 5), at=at(10, 7))
    assert missed is None
    assert upcoming == at(10, 10)


def test_of_the_times_missed_while_down_only_the_latest_fires() -> None:
    missed, upcoming = due("*/5 * * * *", "UTC", since=at(9, 0), at=at(10, 7))
    assert missed == at(10, 5)
    assert upcoming == at(10, 10)


def test_a_time_exactly_now_is_due() -> None:
    missed, _ = due("*/5 * * * *", "UTC", since=at(10, 4, 59), at=at(10, 5))
    assert missed == at(10, 5)


def test_the_time_zone_shapes_the_times() -> None:
    # 09:00 in Paris is 08:00 UTC in March (before summer time).
    _, upcoming = due("0 9 * * *", "Europe/Paris", since=at(0, 0), at=at(0, 0))
    assert upcoming.astimezone(UTC) == at(8, 0)


def test_validation_names_each_field() -> None:
    good = Trigger(SCHEDULE, names=("nightly",), params={"cron": "0 3 * * *"})
    assert validate(good) == []
    problems = validate(
        Trigger(
            SCHEDULE,
            names=("a", "b"),
            kind="Pod",
            params={"cron": "61 * * * *", "timezone": "Mars/Olympus", "every": 5},
        )
    )
    assert problems == [
        "params.every: unknown for a schedule trigger (one of cron, timezone)",
        "params.cron: '61 * * * *' is not a cron expression like '*/5 * * * *'",
        "params.timezone: 'Mars/Olympus' is not a time zone like Europe/Paris",
        "kind: a schedule trigger watches no objects",
        "names: a schedule trigger's event is named after its rule (one name)",
    ]
    assert validate(Trigger(SCHEDULE, params={"cron": "0 0 31 2 *"})) == [
        "params.cron: '0 0 31 2 *' never fires"
    ]
    assert validate(Trigger(SCHEDULE)) == [
        "params.cron: is required (a cron expression like '*/5 * * * *')"
    ]


async def test_a_running_schedule_fires_each_second_once_with_the_rule_identity() -> None:
    trigger = Trigger(SCHEDULE, names=("tick",), params={"cron": "* * * * * *"})
    fired: list[Event] = []

    async def emit(event: Event) -> None:
        fired.append(event)

    source = ScheduleSource(None, [trigger])
    task = asyncio.create_task(source.run(emit))
    try:
        await async_eventually(lambda: len(fired) >= 3, timeout=10, message="three ticks")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    times = [e.time for e in fired]
    assert len(set(times)) == len(times)
    assert all(t.microsecond == 0 for t in times)
    assert all(b - a == datetime.timedelta(seconds=1) for a, b in itertools.pairwise(times))
    assert fired[0].identity == identity_of("tick", times[0].isoformat())
    assert all(matches(trigger, e) for e in fired)
    assert not matches(Trigger(SCHEDULE, names=("tick",), params={"cron": "0 * * * *"}), fired[0])
