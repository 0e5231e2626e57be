"""The cron owner both schedules use: which expressions it takes, and their times in the
zone of the moment given (a DST change included)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from kubeops.models.cron import CronError, is_cron, latest_at, next_after

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("expression", ["*/5 * * * *", "0 3 * * 1-5", "* * * * * */10"])
def test_five_or_six_fields_are_cron(expression: str) -> None:
    assert is_cron(expression)


@pytest.mark.parametrize("expression", ["bad", "61 * * * *", "* * *", "* * * * * * * *", ""])
def test_anything_else_is_not(expression: str) -> None:
    assert not is_cron(expression)


def test_next_is_strictly_after_and_latest_is_at_or_before() -> None:
    at = datetime.datetime(2026, 3, 1, 10, 15, tzinfo=datetime.UTC)
    assert next_after("*/15 * * * *", at) == at + datetime.timedelta(minutes=15)
    assert latest_at("*/15 * * * *", at) == at
    assert latest_at("*/15 * * * *", at + datetime.timedelta(seconds=1)) == at


def test_times_are_in_the_zone_of_the_moment_across_a_dst_change() -> None:
    # Paris moves from UTC+1 to UTC+2 at 02:00 local on 2026-03-29.
    before = datetime.datetime(2026, 3, 28, 12, 0, tzinfo=PARIS)
    following = next_after("0 3 * * *", before)
    assert following.astimezone(datetime.UTC) == datetime.datetime(
        2026, 3, 29, 1, 0, tzinfo=datetime.UTC
    )


def test_a_date_that_never_comes_is_a_cron_error() -> None:
    assert is_cron("0 0 31 2 *")
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    with pytest.raises(CronError, match=r"^never fires"):
        next_after("0 0 31 2 *", at)
    with pytest.raises(CronError, match=r"^never fires"):
        latest_at("0 0 31 2 *", at)
