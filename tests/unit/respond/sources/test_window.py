"""The usage window: every sample over ``for`` above the threshold, each sample once."""

from __future__ import annotations

from kubeops.respond.sources.window import Window, window_start


def feed(window: Window, samples: list[tuple[float, float]]) -> list[tuple[float, float, int]]:
    found = []
    for time, percent in samples:
        breach = window.add(time, percent)
        if breach is not None:
            found.append((breach.start, breach.end, breach.samples))
    return found


def test_a_breach_needs_every_sample_above_for_the_whole_window() -> None:
    window = Window(above=90, seconds=60)
    assert feed(window, [(0, 95), (15, 96), (30, 97), (45, 99)]) == []
    assert window.running_since == 0
    breach = window.add(60, 95)
    assert breach is not None
    assert (breach.start, breach.end, breach.samples) == (0, 60, 5)
    assert breach.mean == (95 + 96 + 97 + 99 + 95) / 5
    assert breach.lowest == 95


def test_one_sample_at_or_below_restarts_the_window() -> None:
    window = Window(above=90, seconds=60)
    found = feed(window, [(0, 95), (15, 95), (30, 90), (45, 95), (90, 95), (105, 95)])
    assert found == [(45, 105, 3)]


def test_staying_high_breaches_again_each_window() -> None:
    window = Window(above=90, seconds=60)
    found = feed(window, [(t, 99) for t in range(0, 181, 15)])
    assert found == [(0, 60, 5), (60, 120, 5), (120, 180, 5)]


def test_the_same_sample_twice_counts_once_and_older_ones_are_ignored() -> None:
    window = Window(above=50, seconds=30)
    found = feed(window, [(0, 60), (0, 60), (10, 60), (5, 10), (10, 60), (30, 60)])
    assert found == [(0, 30, 3)]


def test_a_gap_without_samples_ends_the_run() -> None:
    window = Window(above=50, seconds=60, max_gap=30)
    samples = [(0, 80), (20, 80), (100, 80), (120, 80), (140, 80), (160, 80)]
    assert feed(window, samples) == [(100, 160, 4)]


def test_no_window_fires_on_each_sample_above() -> None:
    window = Window(above=50, seconds=0)
    assert feed(window, [(0, 80), (10, 20), (20, 80)]) == [(0, 0, 1), (20, 20, 1)]


def test_window_starts_round_to_the_grid() -> None:
    assert window_start(125, 60) == 120
    assert window_start(125, 0) == 125
