"""Every metric a Grafana dashboard or a Prometheus alert names is one the running daemon
exports: each of the chart's five daemons is scraped in-cluster (from the image, through
``--auth kubernetes`` with a token bound to the chart's metrics reader role, as
Prometheus scrapes it) after it did its job once, so dashboards and code never drift
apart.  The runs are the in-cluster tests' own (package fixtures), not new ones.

A family counts as exported once ``/metrics`` declares it (its ``# TYPE`` line), samples
or not: a labelled counter has none until its first event.  The ``bus`` names are left
out: ``respond run`` exports them only with a Kafka bus configured, which the chart's
default rules do not use (tests/integration/bus checks those metrics)."""

from __future__ import annotations

import pytest

from deploy.chart import DAEMONS
from deploy.incluster_runs import http_get, scraper_token
from deploy.metric_names import exported_metrics, referenced_metrics
from kubeops.testenv.pod import RunningPod


def running(request: pytest.FixtureRequest, daemon: str) -> tuple[RunningPod, int]:
    """The daemon's running pod and its container port."""
    if daemon in ("sync", "sync-agent"):
        sync_run = request.getfixturevalue("sync_run")
        return sync_run.pods()[daemon], sync_run.port
    if daemon == "policy-webhook":
        webhook_run = request.getfixturevalue("webhook_run")
        return webhook_run.pod, webhook_run.port
    pod: RunningPod = request.getfixturevalue(f"{daemon}_pod")
    (port,) = pod.ports
    return pod, port


@pytest.mark.parametrize("daemon", DAEMONS)
def test_every_metric_its_dashboards_and_alerts_name_is_exported(
    request: pytest.FixtureRequest, daemon: str
) -> None:
    referenced = referenced_metrics()[daemon]
    assert referenced, f"no dashboard or alert names a metric of {daemon}"
    pod, port = running(request, daemon)
    token = scraper_token(pod.cluster)
    status, text = http_get(pod, port, "/metrics", token=token, https=daemon == "policy-webhook")
    assert status == 200, f"{daemon} /metrics: {status} {text[:500]}"
    exported = exported_metrics(text)
    missing = sorted(referenced - exported)
    assert not missing, (
        f"{daemon}: dashboards or alerts name metrics its /metrics does not export: "
        f"{missing} (exported: {sorted(exported)})"
    )
