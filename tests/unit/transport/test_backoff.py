"""Backoff delays grow, stay capped and jittered; retries happen only when they are safe."""

from __future__ import annotations

import datetime
import random
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from kubeops.transport.backoff import (
    DEFAULT_MAX_RETRIES,
    Backoff,
    RetryPolicy,
    parse_retry_after,
)

# -- Backoff -----------------------------------------------------------------------------------


def test_delays_grow_by_the_factor_until_the_cap() -> None:
    backoff = Backoff(base=0.5, factor=2, cap=10, jitter="none")
    assert [backoff.delay(n) for n in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    backoff = Backoff(base=1, factor=3, cap=30, jitter="none")
    assert backoff.delay(100_000) == 30


def test_defaults_start_at_half_a_second_cap_at_ten_with_equal_jitter() -> None:
    backoff = Backoff()
    assert (backoff.base, backoff.factor, backoff.cap, backoff.jitter) == (0.5, 2.0, 10.0, "equal")


@pytest.mark.parametrize("attempt", range(8))
def test_full_jitter_draws_between_zero_and_the_delay(attempt: int) -> None:
    ceiling = Backoff(jitter="none").delay(attempt)
    assert Backoff(jitter="full", random=lambda: 0.0).delay(attempt) == 0.0
    assert Backoff(jitter="full", random=lambda: 0.5).delay(attempt) == ceiling / 2
    draws = random.Random(attempt)
    backoff = Backoff(jitter="full", random=draws.random)
    assert all(0 <= backoff.delay(attempt) <= ceiling for _ in range(200))


@pytest.mark.parametrize("attempt", range(8))
def test_equal_jitter_waits_at_least_half_the_delay(attempt: int) -> None:
    ceiling = Backoff(jitter="none").delay(attempt)
    assert Backoff(jitter="equal", random=lambda: 0.0).delay(attempt) == ceiling / 2
    draws = random.Random(attempt)
    backoff = Backoff(jitter="equal", random=draws.random)
    delays = [backoff.delay(attempt) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jittered: a fleet of clients does not retry in lockstep


@pytest.mark.parametrize(
    "kwargs",
    [{"base": -1}, {"cap": -1}, {"factor": 0.5}, {"jitter": "sideways"}],
)
def test_nonsense_backoff_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kwargs)  # type: ignore[arg-type]


# -- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("\u00b2", None),  # a Unicode digit that is not a number of seconds
        ("Wed, 32 Foo 2015 99:99:99 GMT", None),
    ],
)
def test_retry_after_is_whole_seconds_or_nothing(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_may_be_an_http_date() -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    then = parsedate_to_datetime(date).timestamp()
    assert parse_retry_after(date, now=then - 30) == 30.0
    assert parse_retry_after(date, now=then - 29.5) == 30.0  # rounded up to whole seconds


def test_a_retry_after_date_in_the_past_means_now() -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert parse_retry_after(date, now=parsedate_to_datetime(date).timestamp() + 60) == 0.0


def test_a_retry_after_date_is_read_against_the_current_time_by_default() -> None:
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=120)
    seconds = parse_retry_after(format_datetime(soon, usegmt=True))
    assert seconds is not None
    assert 100 <= seconds <= 121


# -- RetryPolicy ---------------------------------------------------------------------------------

# Without jitter the backoff for attempt 0 is exactly 1 second.
POLICY = RetryPolicy(backoff=Backoff(base=1, factor=2, cap=10, jitter="none"))


def decide(
    method: str,
    status: int | None = None,
    retry_after: float | None = None,
    *,
    connection_error: bool = False,
    sent: bool = True,
    attempt: int = 0,
) -> float | None:
    return POLICY.decide(
        attempt,
        method=method,
        status=status,
        retry_after=retry_after,
        connection_error=connection_error,
        sent=sent,
    )


def test_the_default_is_client_go_s_ten_retries() -> None:
    assert RetryPolicy().max_retries == DEFAULT_MAX_RETRIES == 10
    assert decide("GET", 503, attempt=9) is not None
    assert decide("GET", 503, attempt=10) is None


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_429_or_5xx_with_retry_after_is_retried_for_every_method(
    method: str, status: int
) -> None:
    assert decide(method, status, retry_after=3) == 3.0


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
def test_a_429_without_retry_after_is_retried_with_backoff_for_every_method(method: str) -> None:
    assert decide(method, 429) == 1.0


@pytest.mark.parametrize("status", [503, 504])
@pytest.mark.parametrize(
    ("method", "retried"),
    [
        ("GET", True),
        ("HEAD", True),
        ("OPTIONS", True),
        ("PUT", True),
        ("DELETE", True),
        ("POST", False),
        ("PATCH", False),
    ],
)
def test_a_503_or_504_without_retry_after_is_retried_only_for_idempotent_methods(
    status: int, method: str, retried: bool
) -> None:
    assert (decide(method, status) is not None) is retried


@pytest.mark.parametrize("status", [500, 501, 502])
def test_other_5xx_without_retry_after_are_not_retried_as_in_client_go(status: int) -> None:
    assert decide("GET", status) is None


@pytest.mark.parametrize("status", [200, 201, 304, 400, 401, 403, 404, 409, 410, 422])
def test_answers_that_a_retry_cannot_change_are_not_retried(status: int) -> None:
    assert decide("GET", status) is None
    assert decide("GET", status, retry_after=1) is None


@pytest.mark.parametrize(
    ("method", "retried"),
    [
        ("GET", True),
        ("get", True),
        ("HEAD", True),
        ("OPTIONS", True),
        ("PUT", True),
        ("DELETE", True),
        ("POST", False),
        ("PATCH", False),
    ],
)
def test_a_broken_connection_is_retried_only_for_idempotent_methods(
    method: str, retried: bool
) -> None:
    assert (decide(method, connection_error=True) is not None) is retried


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_connection_that_failed_before_sending_is_retried_for_every_method(method: str) -> None:
    assert decide(method, connection_error=True, sent=False) == 1.0


def test_no_answer_and_no_connection_error_is_not_retried() -> None:
    assert decide("GET") is None


def test_the_wait_is_the_longer_of_retry_after_and_the_backoff() -> None:
    assert decide("GET", 429, retry_after=5, attempt=0) == 5.0  # backoff 1 s
    assert decide("GET", 429, retry_after=1, attempt=2) == 4.0  # backoff 4 s
    assert decide("GET", 429, retry_after=0, attempt=0) == 1.0


def test_the_backoff_grows_with_the_attempt() -> None:
    assert [decide("GET", 503, attempt=n) for n in range(6)] == [1, 2, 4, 8, 10, 10]


def test_retries_stop_at_the_limit_whatever_the_server_says() -> None:
    def decide_429(policy: RetryPolicy, attempt: int) -> float | None:
        return policy.decide(
            attempt, method="GET", status=429, retry_after=1.0, connection_error=False
        )

    assert decide_429(RetryPolicy(max_retries=2), 1) is not None
    assert decide_429(RetryPolicy(max_retries=2), 2) is None
    assert decide_429(RetryPolicy(max_retries=0), 0) is None
