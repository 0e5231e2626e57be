"""The fuzzing invariant and budget, shared by every property in this directory.

Invariant: a parser of user (or cluster) input either returns or raises one of
kubeops' own typed errors (a :class:`~kubeops.errors.KubeopsError` with a
one-line message); nothing else escapes, each input finishes within the
Hypothesis deadline, and the memory it allocates stays under :data:`MEMORY_CAP`.

Budget: ``KUBEOPS_FUZZ_EXAMPLES`` is the total number of inputs over all the
properties collected (``make fuzz`` passes 100,000), shared out by weight;
without it each property runs a few fixed-seed inputs, so the test suite's
short fuzz stays fast.
"""

from __future__ import annotations

import functools
import importlib
import os
import tempfile
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeops.errors import ExecPluginError, KubeopsError

T = TypeVar("T")

DEFAULT_EXAMPLES = 10
"""Inputs per unit of weight when ``KUBEOPS_FUZZ_EXAMPLES`` is not set."""
DEADLINE = timedelta(seconds=5)
"""Per input; generous, as the fuzz shares a small machine with the rest of the suite
(a parser that is merely slow takes milliseconds; one that is not bounded, minutes)."""
MEMORY_CAP = 96 * 1024 * 1024
"""Bytes one input may allocate at its peak (the largest input limit is 64 MiB)."""

_WEIGHTS: dict[str, int] = {}
_WORKDIR: list[Path] = []
_KNOWN: list[str] = []


def examples_for(weight: int) -> int:
    """This property's share of ``KUBEOPS_FUZZ_EXAMPLES`` (or the default count)."""
    total = os.environ.get("KUBEOPS_FUZZ_EXAMPLES")
    if not total:
        return DEFAULT_EXAMPLES * weight
    # Weigh every property in this directory, also when only some files run (make fuzz
    # runs the files in parallel), so the shares always add up to the total.
    for path in sorted(Path(__file__).parent.glob("test_fuzz_*.py")):
        importlib.import_module(f"{__package__}.{path.stem}")
    return max(1, int(total) * weight // sum(_WEIGHTS.values()))


def workdir() -> Path:
    """A private scratch directory for the property running now (files it names)."""
    return _WORKDIR[-1]


def fuzz(
    *strategies: st.SearchStrategy[Any], weight: int = 1
) -> Callable[[Callable[..., None]], Callable[[], None]]:
    """Turn ``body(*drawn)`` into a derandomized Hypothesis test with its share of the budget.

    The settings are built when the test runs, after every property has been
    collected and weighed.
    """

    def decorate(body: Callable[..., None]) -> Callable[[], None]:
        name = f"{body.__module__}.{body.__name__}"
        _WEIGHTS[name] = weight

        def test() -> None:
            count = examples_for(weight)
            counted = _counting(name, body)
            run = settings(
                max_examples=count,
                derandomize=True,
                database=None,
                deadline=DEADLINE,
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )(given(*strategies)(counted))
            _KNOWN.clear()
            with tempfile.TemporaryDirectory(prefix="kubeops-fuzz-") as scratch:
                _WORKDIR.append(Path(scratch))
                try:
                    run()
                finally:
                    _WORKDIR.pop()
            if _KNOWN:
                pytest.xfail("known findings not fixed yet: " + "; ".join(sorted(set(_KNOWN))))

        test.__name__ = body.__name__
        test.__qualname__ = body.__qualname__
        test.__doc__ = body.__doc__
        test.__module__ = body.__module__
        if os.environ.get("KUBEOPS_FUZZ_EXAMPLES"):
            # A full run's property may take longer than the suite's per-test timeout;
            # each input is still bounded by the deadline.
            return pytest.mark.timeout(0)(test)
        return test

    return decorate


def _counting(name: str, body: Callable[..., None]) -> Callable[..., None]:
    """``body``, counting its inputs into ``KUBEOPS_FUZZ_PROGRESS`` (a file) when set,
    so a long run can be followed and its count reported even if stopped."""
    progress = os.environ.get("KUBEOPS_FUZZ_PROGRESS")
    calls = [0]

    @functools.wraps(body)
    def counted(*args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if progress and calls[0] % 250 == 0:
            with open(progress, "a") as out:
                out.write(f"{name} {calls[0]}\n")
        body(*args, **kwargs)

    return counted


def known(note: str) -> None:
    """Record a reported, not yet fixed finding; the property ends as xfail naming it."""
    _KNOWN.append(note)


@contextmanager
def bounded() -> Iterator[None]:
    """Check the memory the enclosed code allocates at its peak (traced only meanwhile,
    so generating the inputs runs at full speed)."""
    nested = tracemalloc.is_tracing()
    if not nested:
        tracemalloc.start()
    start, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    try:
        yield
    finally:
        _, peak = tracemalloc.get_traced_memory()
        if not nested:
            tracemalloc.stop()
        assert peak - start < MEMORY_CAP, f"one input allocated {(peak - start) >> 20} MiB"


def raised_in(err: BaseException, path_part: str) -> bool:
    """Whether ``err`` was raised from a frame of a file whose path contains ``path_part``."""
    frames = list(traceback.walk_tb(err.__traceback__))
    return bool(frames) and path_part in frames[-1][0].f_code.co_filename


# Findings reported to the owner of the code and not yet fixed there: (what, matcher).
# While one is listed, an input that hits it ends its property as xfail instead of
# failing it, so the run goes on fuzzing everything else.  Remove an entry once fixed.
KNOWN_FINDINGS: list[tuple[str, Callable[[BaseException], bool]]] = []


def only_typed_errors(call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``call(...)``'s result, or None when it raised a KubeopsError with a one-line message.

    Any other exception propagates, failing the property with the input that caused it.
    """
    with bounded():
        try:
            return call(*args, **kwargs)
        except KubeopsError as err:
            for note, matches in KNOWN_FINDINGS:
                if matches(err):
                    known(note)
                    return None
            assert_one_line(err)
            return None
        except Exception as err:
            for note, matches in KNOWN_FINDINGS:
                if matches(err):
                    known(note)
                    return None
            raise


def assert_one_line(err: BaseException) -> None:
    """A typed error's message is one non-empty line (the CLI prints it as is)."""
    message = str(err)
    assert message.strip(), f"{type(err).__name__} with an empty message"
    if isinstance(err, ExecPluginError):
        # By design the plugin's own stderr lines and install hint follow its one-line
        # cause, as kubectl shows them.
        message = message.partition("; its last stderr lines:")[0].partition("\n")[0]
    assert "\n" not in message, f"multi-line message: {message!r}"
    assert "\r" not in message, f"multi-line message: {message!r}"
