"""LeaderElectionConfig's checks and defaults, and the retry jitter."""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

import pytest

from kubeops.controller import InvalidLeaderElectionConfig, LeaderElectionConfig
from kubeops.controller.leader_election import JITTER_FACTOR, jittered
from kubeops.errors import KubeopsError


async def _lead(stopped: asyncio.Event) -> None:
    await stopped.wait()


def _stopped() -> None:
    pass


def _config(**overrides: Any) -> LeaderElectionConfig:
    values: dict[str, Any] = {
        "name": "my-controller",
        "namespace": "ops",
        "on_started_leading": _lead,
        "on_stopped_leading": _stopped,
    }
    values.update(overrides)
    return LeaderElectionConfig(**values)


def test_defaults_are_client_gos_15_10_2_with_release_on_cancel() -> None:
    config = _config()
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (15, 10, 2)
    assert config.release_on_cancel is True
    assert config.lease_duration_seconds == 15


def test_default_identity_is_the_hostname_and_a_random_suffix() -> None:
    first, second = _config().identity, _config().identity
    assert first.startswith(socket.gethostname() + "_")
    assert second.startswith(socket.gethostname() + "_")
    assert first != second


def test_lease_duration_not_above_renew_deadline_is_rejected_naming_both() -> None:
    with pytest.raises(InvalidLeaderElectionConfig) as caught:
        _config(lease_duration=10, renew_deadline=10)
    assert str(caught.value) == (
        'invalid leader election config for lease "ops/my-controller": '
        "lease_duration (10s) must be greater than renew_deadline (10s)"
    )


def test_renew_deadline_not_above_1_2_retry_periods_is_rejected_naming_the_values() -> None:
    with pytest.raises(InvalidLeaderElectionConfig) as caught:
        _config(lease_duration=3, renew_deadline=2.4, retry_period=2)
    assert str(caught.value).endswith(
        "renew_deadline (2.4s) must be greater than 1.2 x retry_period (1.2 x 2s = 2.4s)"
    )


def test_the_shortest_valid_durations_are_accepted() -> None:
    config = _config(lease_duration=2, renew_deadline=1.5, retry_period=1.2)
    assert config.renew_deadline > JITTER_FACTOR * config.retry_period


@pytest.mark.parametrize("label", ["lease_duration", "renew_deadline", "retry_period"])
@pytest.mark.parametrize("value", [0, -1.5])
def test_durations_must_be_positive(label: str, value: float) -> None:
    with pytest.raises(InvalidLeaderElectionConfig, match=f"{label} must be greater than zero"):
        _config(**{label: value})


def test_empty_identity_is_rejected() -> None:
    with pytest.raises(InvalidLeaderElectionConfig, match="the identity must not be empty"):
        _config(identity="")


def test_empty_lease_name_is_rejected() -> None:
    with pytest.raises(InvalidLeaderElectionConfig, match="the lease name must not be empty"):
        _config(name="")


@pytest.mark.parametrize("label", ["on_started_leading", "on_stopped_leading"])
def test_started_and_stopped_callbacks_are_required(label: str) -> None:
    with pytest.raises(InvalidLeaderElectionConfig, match=f"{label} is required"):
        _config(**{label: None})


def test_every_problem_is_reported_in_one_message() -> None:
    with pytest.raises(InvalidLeaderElectionConfig) as caught:
        _config(identity="", lease_duration=5, renew_deadline=6, retry_period=5)
    message = str(caught.value)
    assert "the identity must not be empty" in message
    assert "lease_duration (5s) must be greater than renew_deadline (6s)" in message
    assert "renew_deadline (6s) must be greater than 1.2 x retry_period" in message


def test_the_error_is_a_kubeops_error_and_a_value_error() -> None:
    assert issubclass(InvalidLeaderElectionConfig, KubeopsError)
    with pytest.raises(ValueError, match="identity"):
        _config(identity="")


def test_a_namespace_left_out_is_not_named_in_the_error() -> None:
    with pytest.raises(InvalidLeaderElectionConfig, match='for lease "my-controller":'):
        _config(namespace=None, identity="")


def test_fractional_lease_durations_are_written_rounded_up() -> None:
    assert _config(lease_duration=2.5, renew_deadline=2, retry_period=1).lease_duration_seconds == 3
    assert (
        _config(lease_duration=0.9, renew_deadline=0.8, retry_period=0.1).lease_duration_seconds
        == 1
    )


def test_jitter_stretches_by_a_factor_from_1_up_to_2_2() -> None:
    assert jittered(2.0, random=lambda: 0.0) == 2.0
    assert jittered(2.0, random=lambda: 0.5) == pytest.approx(3.2)
    largest = jittered(2.0, random=lambda: 1.0 - 2**-53)
    assert largest < 2.0 * (1 + JITTER_FACTOR)
    assert largest == pytest.approx(4.4)


def test_jitter_samples_stay_in_bounds_and_spread() -> None:
    rng = random.Random(7)
    samples = [jittered(1.0, random=rng.random) for _ in range(2000)]
    assert all(1.0 <= s < 2.2 for s in samples)
    assert min(samples) < 1.05
    assert max(samples) > 2.15


def test_jitter_factor_that_is_not_positive_means_one() -> None:
    assert jittered(1.0, 0, random=lambda: 0.5) == 1.5
