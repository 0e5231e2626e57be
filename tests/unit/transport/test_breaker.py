"""The circuit breaker opens on consecutive failures, probes once after a cool-down, and says why."""

from __future__ import annotations

import pytest

from kubeops.transport.breaker import (
    DEFAULT_COOLDOWN,
    DEFAULT_FAILURE_THRESHOLD,
    BreakerState,
    CircuitBreaker,
)
from kubeops.transport.errors import CircuitOpen, ConnectionFailed

SERVER = "https://10.0.0.1:6443"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(SERVER, clock=clock)


def fail(breaker: CircuitBreaker, times: int, cause: str = "connection refused") -> None:
    for _ in range(times):
        breaker.record_failure(cause)


def test_defaults_are_five_failures_and_ten_seconds() -> None:
    assert (DEFAULT_FAILURE_THRESHOLD, DEFAULT_COOLDOWN) == (5, 10.0)
    breaker = CircuitBreaker(SERVER)
    assert (breaker.failure_threshold, breaker.cooldown) == (5, 10.0)


def test_a_new_breaker_is_closed_and_lets_requests_through(breaker: CircuitBreaker) -> None:
    assert breaker.state is BreakerState.CLOSED
    breaker.before_request()


def test_it_opens_after_the_threshold_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 4)
    assert breaker.state is BreakerState.CLOSED
    breaker.before_request()
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_request()


def test_a_success_resets_the_count_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 4)
    breaker.record_success()
    assert breaker.failures == 0
    fail(breaker, 4)
    assert breaker.state is BreakerState.CLOSED


def test_the_open_message_names_server_failures_last_cause_and_retry_time(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 4, "connection reset by peer")
    fail(breaker, 1, "connect timeout after 5s")
    clock.now += 2.5
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_request()
    err = caught.value
    assert str(err) == (
        "cannot reach https://10.0.0.1:6443: 5 consecutive requests failed, the last with: "
        "connect timeout after 5s; failing fast (circuit breaker open), "
        "the next attempt is allowed in 7.5s"
    )
    assert (err.server, err.failures, err.last_cause, err.retry_in) == (
        SERVER,
        5,
        "connect timeout after 5s",
        7.5,
    )
    assert isinstance(err, ConnectionFailed)


def test_after_the_cooldown_exactly_one_probe_goes_through(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 5)
    clock.now += 9.75
    with pytest.raises(CircuitOpen):
        breaker.before_request()
    clock.now += 0.25
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_request()  # the probe
    for _ in range(3):
        with pytest.raises(CircuitOpen, match="a probe request is testing it now") as caught:
            breaker.before_request()
        assert caught.value.probing


def test_a_successful_probe_closes_the_breaker(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 5)
    clock.now += 10
    breaker.before_request()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 0
    for _ in range(10):
        breaker.before_request()


def test_a_failed_probe_opens_the_breaker_for_another_cooldown(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 5)
    clock.now += 10
    breaker.before_request()
    breaker.record_failure("connection refused again")
    assert breaker.state is BreakerState.OPEN
    clock.now += 9.5
    with pytest.raises(CircuitOpen, match=r"6 consecutive .* refused again; .* in 0\.5s"):
        breaker.before_request()
    clock.now += 0.5
    breaker.before_request()  # the next probe


def test_a_probe_that_never_reports_is_replaced_after_a_cooldown(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 5)
    clock.now += 10
    breaker.before_request()  # its task is cancelled and never reports
    clock.now += 9
    with pytest.raises(CircuitOpen):
        breaker.before_request()
    clock.now += 1
    breaker.before_request()


def test_failures_of_requests_sent_before_it_opened_do_not_delay_the_probe(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 5)
    clock.now += 5
    fail(breaker, 3, "late failure")
    assert breaker.failures == 8
    assert breaker.last_cause == "late failure"
    clock.now += 5
    breaker.before_request()


def test_the_threshold_is_configurable(clock: Clock) -> None:
    breaker = CircuitBreaker(SERVER, failure_threshold=1, cooldown=0.5, clock=clock)
    fail(breaker, 1)
    with pytest.raises(CircuitOpen, match=r"in 0\.5s"):
        breaker.before_request()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"failure_threshold": 0}, "failure_threshold"), ({"cooldown": -1.0}, "cooldown")],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CircuitBreaker(SERVER, **kwargs)  # type: ignore[arg-type]
