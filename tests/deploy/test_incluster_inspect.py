"""``kubeops inspect serve`` in-cluster: the chart's Deployment run from the image with
the chart's ServiceAccount and RBAC inspects the cluster, serves its report and
/metrics to an authorised caller only, answers its probes, leads its Lease, and is
refused nothing."""

from __future__ import annotations

import json
from typing import Any

from deploy.chart import fullname
from deploy.incluster_runs import (
    NAMESPACE,
    RELEASE,
    container_port,
    http_get,
    pod_template,
    scraper_token,
    stop,
)
from kubeops.testenv import eventually
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.image import ImageLayout
from kubeops.testenv.pod import RunningPod, run_pod
from kubeops.testenv.ports import free_port

from .conftest import CRASHING, PROBLEMS, refusals, sample, wait_for


def _report_reader(cluster: Cluster) -> str:
    """A token of a ServiceAccount allowed inspect's report page (a nonResourceURL), as
    an operator would grant its readers: /metrics alone does not open the report."""
    admin = cluster.admin
    name = "inspect-report-reader"
    admin.create(
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts",
        {"metadata": {"name": name}},
        exist_ok=True,
    )
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    rule = {"nonResourceURLs": ["/report.json"], "verbs": ["get"]}
    admin.create(
        f"{rbac}/clusterroles", {"metadata": {"name": name}, "rules": [rule]}, exist_ok=True
    )
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
    }
    admin.create(f"{rbac}/clusterrolebindings", binding, exist_ok=True)
    token: str = admin.create(
        f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{name}/token",
        {"spec": {"expirationSeconds": 600}},
    )["status"]["token"]
    return token


def _port(pod: RunningPod) -> int:
    (port,) = pod.ports
    return port


def test_inspects_and_serves_its_report(inspect_pod: RunningPod, deploy_cluster: Cluster) -> None:
    port = _port(inspect_pod)
    # The metrics scraper may read /metrics, not the report.
    assert (
        http_get(inspect_pod, port, "/report.json", token=scraper_token(deploy_cluster))[0] == 403
    )
    reader = _report_reader(deploy_cluster)

    def read() -> str | None:
        status, body = http_get(inspect_pod, port, "/report.json", token=reader)
        return body if status == 200 else None

    # The authorizer sees a new binding a moment after it is made.
    body = eventually(read, timeout=15, message="the report, for a reader allowed it")
    report = json.loads(body)
    found = {
        (f["check"], f["object"].get("namespace"), f["object"].get("name"))
        for f in report["findings"]
    }
    assert ("container-image-latest", PROBLEMS, CRASHING) in found, sorted(found)[:20]
    refused = [n for n in report["not_run"] if "forbidden" in json.dumps(n).lower()]
    assert not refused, refused
    assert report["summary"]["unreachable"] == 0


def test_metrics_only_for_an_authorised_caller(
    inspect_pod: RunningPod, deploy_cluster: Cluster
) -> None:
    port = _port(inspect_pod)
    assert http_get(inspect_pod, port, "/metrics")[0] == 401
    status, text = http_get(inspect_pod, port, "/metrics", token=scraper_token(deploy_cluster))
    assert status == 200
    assert sample(text, "kubeops_inspect_runs_total", result="success") >= 1
    assert sample(text, "kubeops_inspect_leader") == 1


def test_probes_lease_and_log(inspect_pod: RunningPod, deploy_cluster: Cluster) -> None:
    port = _port(inspect_pod)
    assert http_get(inspect_pod, port, "/healthz")[0] == 200
    assert http_get(inspect_pod, port, "/readyz")[0] == 200
    lease = deploy_cluster.admin.get(
        f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/kubeops-kubeops-inspect"
    )
    # The holder's identity starts with the host name: the pod's name, as in a cluster.
    assert lease["spec"]["holderIdentity"].startswith(f"{inspect_pod.name}_")
    assert not refusals(inspect_pod.logs())


def test_a_second_replica_stands_by(
    inspect_pod: RunningPod,
    deploy_cluster: Cluster,
    image: ImageLayout,
    chart_manifests: list[dict[str, Any]],
) -> None:
    # The chart's two replicas on one host: each its own port, one Lease between them.
    template = pod_template(chart_manifests, "inspect")
    port = container_port(template)
    second = run_pod(
        deploy_cluster,
        image,
        template,
        namespace=NAMESPACE,
        name=f"{fullname('inspect', RELEASE)}-1",
        port_map={port: free_port()},
    )
    try:
        token = scraper_token(deploy_cluster)

        def standing_by() -> bool:
            status, text = http_get(second, port, "/metrics", token=token)
            ready = http_get(second, port, "/readyz")[0] == 200
            leading = (
                sample(text, "kubeops_inspect_leader") if "kubeops_inspect_leader" in text else None
            )
            return status == 200 and ready and leading == 0

        wait_for(second, standing_by, "the second replica ready and not leading", 30)
        assert second.port(port) != inspect_pod.port(port)
        lease = deploy_cluster.admin.get(
            f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/kubeops-kubeops-inspect"
        )
        assert lease["spec"]["holderIdentity"].startswith(f"{inspect_pod.name}_")
        assert (
            sample(
                http_get(second, port, "/metrics", token=token)[1],
                "kubeops_inspect_runs_total",
                result="success",
            )
            == 0
        )
        assert not refusals(second.logs())
    finally:
        assert stop(second) == 0, second.logs()[-3000:]
