"""The ``SyncClient``'s hop to its loop thread and back: results, exceptions, threads,
contextvars, Ctrl-C and streams.  Nothing here reaches a server: the coroutines are
the test's own, run by ``SyncClient.run`` on the client's loop."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from kubeops.api import SyncClient
from kubeops.config import ClusterConfig
from kubeops.errors import NotFound, SyncClientMisuse

NOWHERE = ClusterConfig(server="http://127.0.0.1:9", namespace="default", context="t", source="t")
CALLER = contextvars.ContextVar("caller", default="unset")


@pytest.fixture
def sync() -> Iterator[SyncClient]:
    with SyncClient(NOWHERE) as client:
        yield client


async def _echo(value: int) -> tuple[int, int | None]:
    await asyncio.sleep(0)  # suspended once, as a request is
    return value, threading.get_ident()


def test_a_call_returns_its_result_computed_on_the_loop_thread(sync: SyncClient) -> None:
    value, ident = sync.run(_echo(7))
    assert value == 7
    assert ident == sync._loop_thread.thread.ident != threading.get_ident()


def test_an_exception_comes_back_as_the_same_object_and_type(sync: SyncClient) -> None:
    error = NotFound('configmaps "gone" not found', status=404, reason="NotFound", verb="get")

    async def fail() -> None:
        await asyncio.sleep(0)
        raise error

    with pytest.raises(NotFound) as raised:
        sync.run(fail())
    assert raised.value is error


def test_a_base_exception_is_re_raised_and_the_loop_runs_on(sync: SyncClient) -> None:
    async def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync.run(interrupt())
    assert sync.run(_echo(1))[0] == 1


def test_threads_calling_at_once_each_get_their_own_result(sync: SyncClient) -> None:
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda i: sync.run(_echo(i))[0], range(3000)))
    assert results == list(range(3000))


def test_the_coroutine_sees_its_callers_context_variables(sync: SyncClient) -> None:
    async def read() -> str:
        return CALLER.get()

    def call(name: str) -> str:
        CALLER.set(name)
        return sync.run(read())

    with ThreadPoolExecutor(8) as pool:
        names = [f"thread-{i}" for i in range(200)]
        assert list(pool.map(call, names)) == names


def test_a_call_from_the_loop_thread_is_refused_not_deadlocked(sync: SyncClient) -> None:
    async def reenter() -> None:
        sync.run(_echo(1))

    with pytest.raises(SyncClientMisuse, match="its own event loop thread"):
        sync.run(reenter())


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Python's own SIGINT handler while the test runs: a run started in the background of
    a non-interactive shell inherits SIGINT ignored, and Ctrl-C would then never arrive."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_main_once(started: threading.Event) -> threading.Thread:
    """SIGINT to the main thread once ``started`` is set, as Ctrl-C would send it."""
    main = threading.main_thread().ident
    assert main is not None

    def send() -> None:
        if started.wait(30):
            signal.pthread_kill(main, signal.SIGINT)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_while_waiting_cancels_the_call(sync: SyncClient) -> None:
    assert threading.current_thread() is threading.main_thread()
    started, outcome = threading.Event(), []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    sender = _interrupt_main_once(started)
    with pytest.raises(KeyboardInterrupt):
        sync.run(forever())
    sender.join()
    assert outcome == ["cancelled"]  # unwound before Ctrl-C reached the caller
    assert sync.run(_echo(2))[0] == 2


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_in_a_stream_still_closes_it(sync: SyncClient) -> None:
    started, closed = threading.Event(), []

    async def events() -> AsyncIterator[int]:
        try:
            yield 1
            started.set()
            await asyncio.Event().wait()
            yield 2
        finally:
            closed.append(True)

    stream = sync.stream(events())
    assert next(stream) == 1
    sender = _interrupt_main_once(started)
    with pytest.raises(KeyboardInterrupt):
        next(stream)
    sender.join()
    assert closed == [True]


def test_a_closed_client_refuses_calls_and_closes_the_coroutine() -> None:
    client = SyncClient(NOWHERE)
    client.close()
    coro = _echo(1)
    with pytest.raises(RuntimeError, match="closed"):
        client.run(coro)
    assert inspect.getcoroutinestate(coro) == "CORO_CLOSED"  # so no "never awaited" warning
