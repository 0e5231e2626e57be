"""Cron expressions as croniter reads them (five fields, or six with seconds last):
the one owner of telling a usable expression and of finding its times, in the zone of
the moment given.  Callers word the errors for their own flag or field.

croniter is imported on first use: most commands never need it.
"""

from __future__ import annotations

import datetime


class CronError(ValueError):
    """A valid expression naming a date that never comes (``* * 31 2 *``)."""


def is_cron(expression: str) -> bool:
    """Whether ``expression`` is a cron expression of five or six fields."""
    from croniter import croniter  # type: ignore[import-untyped]

    return len(expression.split()) in (5, 6) and bool(croniter.is_valid(expression))


def next_after(expression: str, moment: datetime.datetime) -> datetime.datetime:
    """The expression's first time after ``moment`` (never ``moment`` itself), in its zone."""
    from croniter import CroniterError, croniter

    try:
        found: datetime.datetime = croniter(expression, moment).get_next(datetime.datetime)
    except CroniterError as err:
        raise CronError(f"never fires ({err})") from None
    return found


def latest_at(expression: str, moment: datetime.datetime) -> datetime.datetime:
    """The expression's last time at or before ``moment``, in its zone."""
    from croniter import CroniterError, croniter

    try:
        found: datetime.datetime = croniter(
            expression, moment + datetime.timedelta(microseconds=1)
        ).get_prev(datetime.datetime)
    except CroniterError as err:
        raise CronError(f"never fires ({err})") from None
    return found
