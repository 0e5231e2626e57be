"""retry_on_conflict: a read-modify-write step runs again after a 409 Conflict, a bounded
number of times, and anything else reaches the caller at once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kubeops.api import Backoff, retry_on_conflict
from kubeops.api import retry as retry_module
from kubeops.errors import Conflict, NotFound

# No waiting between attempts: the tests are about what runs, not when.
NO_WAIT = Backoff(base=0.0, jitter="none")


def conflict() -> Conflict:
    return Conflict(
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified',
        status=409,
        reason="Conflict",
        verb="patch",
        resource="deployments",
        namespace="default",
        name="web",
    )


async def test_a_step_that_conflicts_twice_then_succeeds_returns_its_result() -> None:
    calls: list[int] = []

    async def step() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= 2:
            raise conflict()
        return f"written on attempt {len(calls)}"

    assert await retry_on_conflict(step, backoff=NO_WAIT) == "written on attempt 3"
    assert calls == [1, 2, 3]


async def test_the_last_conflict_is_raised_after_the_bound() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        raise conflict()

    with pytest.raises(Conflict, match="the object has been modified"):
        await retry_on_conflict(step, attempts=4, backoff=NO_WAIT)
    assert calls == 4


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        raise NotFound("gone", status=404, reason="NotFound", verb="get")

    with pytest.raises(NotFound):
        await retry_on_conflict(step, backoff=NO_WAIT)
    assert calls == 1


async def test_the_default_bound_is_client_gos_five_attempts() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        raise conflict()

    with pytest.raises(Conflict):
        await retry_on_conflict(step, backoff=NO_WAIT)
    assert calls == 5


async def test_waits_follow_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(retry_module, "asyncio", SimpleNamespace(sleep=record))
    calls = 0

    async def step() -> int:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise conflict()
        return calls

    backoff = Backoff(base=0.05, factor=2.0, cap=0.15, jitter="none")
    assert await retry_on_conflict(step, backoff=backoff) == 4
    assert waits == pytest.approx([0.05, 0.1, 0.15])


async def test_at_least_one_attempt_is_required() -> None:
    async def step() -> None:
        return None

    with pytest.raises(ValueError, match="at least 1"):
        await retry_on_conflict(step, attempts=0)
