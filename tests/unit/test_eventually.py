"""The suite's one way to wait: ``eventually`` and ``async_eventually``."""

from __future__ import annotations

import asyncio
import time

import pytest

from kubeops.testenv import async_eventually, eventually


def test_returns_the_first_truthy_value_after_falsy_ones_and_errors() -> None:
    answers = iter([None, 0, ValueError("not yet"), [], "ready"])

    def condition() -> object:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert eventually(condition, interval=0.001) == "ready"


def test_a_timeout_names_what_was_awaited_and_the_last_value() -> None:
    calls = []
    with pytest.raises(AssertionError, match=r"the answer \(\d+ attempt\(s\); last value: \[\]\)"):
        eventually(lambda: calls.append(1) or [], timeout=0.05, interval=0.01, message="the answer")
    assert len(calls) >= 2


def test_a_timeout_chains_the_last_exception() -> None:
    def condition() -> bool:
        assert 1 + 1 == 3, "arithmetic"
        return True

    with pytest.raises(AssertionError, match="last error: AssertionError") as caught:
        eventually(condition, timeout=0.02, interval=0.005)
    assert isinstance(caught.value.__cause__, AssertionError)
    assert "arithmetic" in str(caught.value.__cause__)


def test_the_condition_runs_once_even_with_no_time_left() -> None:
    assert eventually(lambda: 7, timeout=0) == 7


def test_what_is_not_an_exception_is_not_swallowed() -> None:
    def condition() -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        eventually(condition, timeout=1)


async def test_async_takes_coroutine_functions_and_lets_the_loop_run() -> None:
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, flag.set)

    async def is_set() -> bool:
        return flag.is_set()

    assert await async_eventually(is_set, timeout=5, interval=0.01) is True


async def test_async_takes_plain_functions() -> None:
    seen = []
    assert await async_eventually(lambda: seen.append(1) or len(seen) >= 3, interval=0.001)
    assert len(seen) == 3


async def test_async_cuts_a_hanging_attempt_at_the_deadline() -> None:
    async def hang() -> bool:
        await asyncio.sleep(60)
        return True

    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"the hang.*last error: TimeoutError"):
        await async_eventually(hang, timeout=0.1, interval=0.01, message="the hang")
    assert time.monotonic() - started < 5


def test_only_the_ignored_exceptions_mean_not_yet() -> None:
    calls = []

    def condition() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("restarting")
        raise KeyError("a bug")

    with pytest.raises(KeyError, match="a bug"):
        eventually(condition, interval=0.001, ignore=(ConnectionError,))
    assert len(calls) == 2
