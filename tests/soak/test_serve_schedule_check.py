"""The soak's check of inspect serve's grid finds a lost and a duplicated run, and
accepts the slots a long run skips."""

from __future__ import annotations

from .serve_daemon import Run, schedule_differences


def grid(*runs: tuple[float, float]) -> list[Run]:
    return [Run(i + 1, start + seconds, seconds) for i, (start, seconds) in enumerate(runs)]


def test_runs_on_every_slot_are_accepted() -> None:
    assert schedule_differences(grid((0, 1), (5, 1), (10, 2), (15, 1)), 5) == []


def test_slots_skipped_by_a_run_that_outlasts_them_are_accepted() -> None:
    # The run at 5 takes 12 s: the slots at 10 and 15 pass during it, the next is at 20.
    assert schedule_differences(grid((0, 1), (5, 12), (20, 1)), 5) == []


def test_a_lost_slot_is_found() -> None:
    assert "a slot was lost" in " ".join(schedule_differences(grid((0, 1), (5, 1), (15, 1)), 5))


def test_a_second_run_in_one_slot_is_found() -> None:
    found = schedule_differences(grid((0, 1), (5, 1), (6.5, 1)), 5)
    assert "twice in a slot" in " ".join(found)


def test_a_run_missing_from_the_history_is_found() -> None:
    runs = [Run(1, 1, 1), Run(3, 6, 1)]
    assert "went missing" in " ".join(schedule_differences(runs, 5))
