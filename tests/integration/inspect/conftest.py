"""One API-only cluster for the check cases: every case is created, the cluster is
inspected once, and each case's test reads that one report."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from kubeops.api import SyncClient
from kubeops.config import load_config
from kubeops.inspect import InspectConfig, Report, inspect_clusters, resolve_targets
from kubeops.inspect.config import parse_inspect_config
from kubeops.testenv import Cluster, Environment

from .harness import CASES, Case, all_settings, create_case


@pytest.fixture(scope="session")
def inspect_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    with Environment(["inspect"], api_only=True) as env:
        yield env.cluster()


def case_config(cases: list[Case]) -> InspectConfig:
    document: dict[str, Any] = {
        "checks": {c.check: {"thresholds": c.thresholds} for c in cases if c.thresholds},
        "settings": all_settings(cases),
    }
    return parse_inspect_config(document, "cases")


@pytest.fixture(scope="session")
def inspected(inspect_cluster: Cluster) -> Report:
    """Every case created, then one inspection of the whole cluster."""
    with SyncClient(load_config(inspect_cluster.kubeconfig), qps=-1) as client:
        for case in CASES:
            create_case(client, case)
    return asyncio.run(
        inspect_clusters(resolve_targets(str(inspect_cluster.kubeconfig), []), case_config(CASES))
    )
