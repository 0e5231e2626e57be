"""``kubeops respond run`` in-cluster: the chart's Deployment run from the image with
the chart's ServiceAccount and RBAC sees a Pod crash-loop, its rule fires and its
action (an Event on the Pod) happens; it answers its probes, leads its Lease, and is
refused nothing."""

from __future__ import annotations

from deploy.incluster_runs import NAMESPACE, http_get, scraper_token
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.pod import RunningPod

from .conftest import CRASHING, PROBLEMS, crash_loop_events, refusals


def _port(pod: RunningPod) -> int:
    (port,) = pod.ports
    return port


def test_a_crash_loop_gets_its_event(respond_pod: RunningPod, deploy_cluster: Cluster) -> None:
    (event,) = crash_loop_events(deploy_cluster)
    assert event["type"] == "Warning"
    assert event["involvedObject"]["kind"] == "Pod"
    assert (event["involvedObject"]["namespace"], event["involvedObject"]["name"]) == (
        PROBLEMS,
        CRASHING,
    )


def test_probes_metrics_lease_and_log(respond_pod: RunningPod, deploy_cluster: Cluster) -> None:
    port = _port(respond_pod)
    assert http_get(respond_pod, port, "/healthz")[0] == 200
    assert http_get(respond_pod, port, "/readyz")[0] == 200
    assert http_get(respond_pod, port, "/metrics")[0] == 401
    status, text = http_get(respond_pod, port, "/metrics", token=scraper_token(deploy_cluster))
    assert status == 200
    assert "kubeops_respond_" in text
    lease = deploy_cluster.admin.get(
        f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/kubeops-kubeops-respond"
    )
    assert lease["spec"]["holderIdentity"].startswith(f"{respond_pod.name}_")
    assert not refusals(respond_pod.logs())
