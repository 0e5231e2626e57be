"""When scheduled runs happen: a fixed interval or a cron expression.

Both are jitter-free and anchored: an interval's runs fall at start + k x
interval, a cron schedule's at its expression's times, so runs stay on a
predictable grid.  The first run is at start.  Runs never overlap: a run that
overruns its slot skips the slots it missed instead of starting late runs back
to back.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Protocol

from kubeops.errors import KubeopsError
from kubeops.models.cron import CronError, is_cron, next_after
from kubeops.models.duration import DurationError, format_duration, parse_duration

MIN_INTERVAL = 1.0
"""The shortest ``--interval`` taken, in seconds."""


class ScheduleError(KubeopsError, ValueError):
    """An interval or cron expression that cannot be used."""


class Schedule(Protocol):
    """The next run time after ``now`` (epoch seconds), given the time of the first run."""

    def after(self, anchor: float, now: float) -> float:
        """Epoch seconds of the first run after ``now``, for a schedule that started at
        ``anchor``."""

    def describe(self) -> str:
        """The schedule in words, for logs and the status page."""


@dataclass(frozen=True)
class Interval:
    """Runs every ``seconds``, on the grid that starts at the first run."""

    seconds: float

    def after(self, anchor: float, now: float) -> float:
        """The next slot of the grid after ``now`` (missed slots are skipped)."""
        slots = math.floor((now - anchor) / self.seconds) + 1
        return anchor + max(1, slots) * self.seconds

    def describe(self) -> str:
        """``every 1h`` and the like."""
        return f"every {format_duration(self.seconds)}"


@dataclass(frozen=True)
class Cron:
    """A cron expression in the process's local time zone (five fields, or six with
    seconds last as croniter reads them)."""

    expression: str

    def __post_init__(self) -> None:
        if not is_cron(self.expression):
            raise ScheduleError(
                f"--cron {self.expression!r}: not a cron expression (five fields: minute hour "
                'day-of-month month day-of-week, e.g. "*/15 * * * *")'
            )
        self.after(0.0, datetime.datetime.now().timestamp())

    def after(self, anchor: float, now: float) -> float:
        """The expression's next time after ``now``."""
        start = datetime.datetime.fromtimestamp(now).astimezone()
        try:
            return next_after(self.expression, start).timestamp()
        except CronError as err:
            # A valid expression naming a date that never comes ("* * 31 2 *").
            raise ScheduleError(f"--cron {self.expression!r}: {err}") from None

    def describe(self) -> str:
        """``cron '*/15 * * * *'`` and the like."""
        return f"cron {self.expression!r}"


def parse_schedule(interval: str | None = None, cron: str | None = None) -> Schedule:
    """The schedule the flags give: ``--interval`` or ``--cron`` (not both)."""
    if interval and cron:
        raise ScheduleError("give --interval or --cron, not both")
    if cron:
        return Cron(cron.strip())
    try:
        seconds = parse_duration(interval or "1h", positive=True)
    except DurationError as err:
        raise ScheduleError(f"--interval: {err}") from err
    if seconds < MIN_INTERVAL:
        # A run takes seconds; a shorter interval only skips slots and hammers the clusters.
        raise ScheduleError(f"--interval {interval!r}: at least {MIN_INTERVAL:g}s")
    return Interval(seconds)
