"""A cluster without the metrics API reports the usage checks as not run, with the reason."""

from __future__ import annotations

import asyncio

from kubeops.inspect import InspectConfig, inspect_clusters, resolve_targets
from kubeops.testenv import Cluster

USAGE_CHECKS = {"usage-node-cpu", "usage-node-memory", "usage-container-memory-limit"}


def test_usage_checks_not_run_without_metrics_api(kube_clusters: list[Cluster]) -> None:
    clusters = [t for c in kube_clusters for t in resolve_targets(str(c.kubeconfig), [])]
    report = asyncio.run(inspect_clusters(clusters, InspectConfig()))
    assert len(report.clusters) == len(kube_clusters)
    for result in report.clusters:
        assert result.reachable, result.error
        not_run = {n.check: n.reason for n in result.not_run}
        assert set(not_run) >= USAGE_CHECKS, f"{result.name}: not run: {not_run}"
        for check in USAGE_CHECKS:
            assert "metrics API" in not_run[check], not_run[check]
        assert not USAGE_CHECKS & set(result.checks_run)
        assert not [f for f in result.findings if f.check in USAGE_CHECKS]
        # The checks that need no metrics did run (deprecations over every object too).
        assert "deprecated-api-version" in result.checks_run
        assert "deprecated-api-requests" in result.checks_run
