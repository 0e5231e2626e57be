"""Fixtures of the in-cluster tests: an audited testenv, the image, and pods run from it.

The daemons run "as in a Pod" (:mod:`kubeops.testenv.pod`) from the image `make image`
builds, so they need root (mounts, ``chroot``).  Every API server of ``deploy_env``
writes an audit record of each request a ServiceAccount makes to its own log, which
is how the tests know what a daemon did with its token (:func:`audit_requests`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.chart import ALL_ENABLED, fullname, render, template
from deploy.incluster_runs import (  # noqa: F401 -- package fixtures, shared by the tests
    NAMESPACE,
    RELEASE,
    SETUP_TIMEOUT,
    container_port,
    forbidden_lines,
    http_get,
    namespace_object,
    pod_template,
    scraper_token,
    stop,
    sync_run,
    webhook_run,
)
from kubeops.testenv import Environment, eventually
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.errors import ControlPlaneError
from kubeops.testenv.image import ImageLayout, ensure_image
from kubeops.testenv.pod import RunningPod, run_pod
from kubeops.testenv.ports import free_port

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
"""
# What an audit record names a request by: verb, API group, resource, subresource, namespace.
Request = tuple[str, str, str, str, str]


def need_root() -> None:
    """Skip, saying why, where the pods cannot run."""
    if os.geteuid() != 0:
        pytest.skip("running a daemon as in a Pod needs root (unshare, mounts, chroot)")


@pytest.fixture(scope="session")
def deploy_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """Two API-only clusters (``hub``, ``member``) auditing ServiceAccounts' requests."""
    need_root()
    policy = tmp_path_factory.mktemp("audit") / "policy.yaml"
    policy.write_text(AUDIT_POLICY)
    env = Environment(
        ["hub", "member"],
        api_only=True,
        extra_args={
            "kube-apiserver": [
                f"--audit-policy-file={policy}",
                # Standard output: each API server's own log file, so clusters stay apart.
                "--audit-log-path=-",
                "--audit-log-format=json",
            ]
        },
    )
    try:
        env.start()
    except ControlPlaneError as err:
        pytest.fail(f"kubeops testenv could not start: {err}", pytrace=False)
    yield env
    env.stop()


@pytest.fixture(scope="session")
def deploy_cluster(deploy_env: Environment) -> Cluster:
    """The cluster the chart is installed on and the daemons work against."""
    return deploy_env.cluster("hub")


@pytest.fixture(scope="session")
def image() -> ImageLayout:
    """The image the chart deploys, built (or reused from the cache) by ``make image``'s code."""
    need_root()
    return ensure_image()


@pytest.fixture(scope="session")
def chart_manifests(deploy_cluster: Cluster) -> list[dict[str, Any]]:
    """The chart with every daemon enabled, as ``helm template ... | kubeops apply -f -``
    puts it on the hub (its namespace made first, as ``helm install --create-namespace``)."""
    deploy_cluster.admin.create("/api/v1/namespaces", namespace_object(NAMESPACE), exist_ok=True)
    text = template(ALL_ENABLED, RELEASE, NAMESPACE)
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", "apply", "-f", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": str(deploy_cluster.kubeconfig)},
        check=False,
    )
    assert done.returncode == 0, f"kubeops apply -f - of the chart: {done.stderr}"
    return render(ALL_ENABLED, release=RELEASE, namespace=NAMESPACE)


def audit_events(cluster: Cluster) -> list[dict[str, Any]]:
    """Every audit record the cluster's API server has written so far."""
    log = cluster.dir / "logs" / "kube-apiserver.log"
    events = []
    with log.open("rb") as file:
        for line in file:
            if line.startswith(b'{"kind":"Event"'):
                events.append(orjson.loads(line))
    return events


def audit_requests(cluster: Cluster, user: str, *, since: str = "") -> set[Request]:
    """What ``user`` asked of the cluster's API server and got an answer below 400 for
    (completed requests; ``since``: an RFC 3339 time to start from).  An apply (patch)
    answered 201 created its object, which RBAC authorised as ``create`` as well."""
    used = set()
    for event in audit_events(cluster):
        if event.get("user", {}).get("username") != user or event.get("stage") == "Panic":
            continue
        if since and event.get("requestReceivedTimestamp", "") < since:
            continue
        if event.get("responseStatus", {}).get("code", 0) >= 400:
            continue
        ref = event.get("objectRef") or {}
        target = (
            ref.get("apiGroup", ""),
            ref.get("resource", ""),
            ref.get("subresource", ""),
            ref.get("namespace", ""),
        )
        used.add((event["verb"], *target))
        # A server-side apply that made the object is authorised as create too.
        if event["verb"] == "patch" and event.get("responseStatus", {}).get("code") == 201:
            used.add(("create", *target))
    return used


# -- inspect serve and respond run, from the chart, once for the package -------------------------

PROBLEMS = "incluster-problems"
"""A namespace holding what the daemons are to find: a Pod on a ``latest`` image
(inspect's container-image-latest) that is crash-looping (respond's CrashLoop rule)."""
CRASHING = "crasher"


def _problems(cluster: Cluster) -> None:
    admin = cluster.admin
    admin.create("/api/v1/namespaces", namespace_object(PROBLEMS), exist_ok=True)
    pods = f"/api/v1/namespaces/{PROBLEMS}/pods"
    admin.create(
        f"/api/v1/namespaces/{PROBLEMS}/serviceaccounts",
        {"metadata": {"name": "default"}},
        exist_ok=True,
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": CRASHING},
        "spec": {"containers": [{"name": "app", "image": "example.com/app:latest"}]},
    }
    admin.create(pods, pod, exist_ok=True)


def crash_loop(cluster: Cluster) -> None:
    """Make :data:`CRASHING` crash-loop, as its kubelet would report it."""
    status = {
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "example.com/app:latest",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ],
        }
    }
    cluster.admin.patch(f"/api/v1/namespaces/{PROBLEMS}/pods/{CRASHING}/status", status)


def _start(
    cluster: Cluster, image: ImageLayout, manifests: list[dict[str, Any]], daemon: str
) -> tuple[RunningPod, int]:
    template = pod_template(manifests, daemon)
    port = container_port(template)
    pod = run_pod(
        cluster,
        image,
        template,
        namespace=NAMESPACE,
        name=f"{fullname(daemon, RELEASE)}-0",
        port_map={port: free_port()},
    )
    return pod, port


def wait_for(pod: RunningPod, condition: Any, what: str, timeout: float = SETUP_TIMEOUT) -> None:
    """``eventually(condition)``, failing with the daemon's log (or its exit) as the reason."""

    def check() -> Any:
        if not pod.alive():
            raise AssertionError(f"the daemon exited with {pod.exit_code()}")
        return condition()

    try:
        eventually(check, timeout=timeout, message=what)
    except AssertionError as err:
        raise AssertionError(f"{err}\nits log:\n{pod.logs()[-4000:]}") from err


def sample(text: str, family: str, **labels: str) -> float:
    """One sample's value on a /metrics page (0 when absent)."""
    for metric in text_string_to_metric_families(text):
        for s in metric.samples:
            if s.name == family and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


@pytest.fixture(scope="package")
def inspect_pod(
    deploy_cluster: Cluster, image: ImageLayout, chart_manifests: list[dict[str, Any]]
) -> Iterator[RunningPod]:
    """``inspect serve`` as the chart deploys it, once it has recorded an inspection."""
    _problems(deploy_cluster)
    pod, port = _start(deploy_cluster, image, chart_manifests, "inspect")
    token = scraper_token(deploy_cluster)

    def inspected() -> bool:
        _, text = http_get(pod, port, "/metrics", token=token)
        return sample(text, "kubeops_inspect_runs_total", result="success") >= 1

    try:
        wait_for(pod, inspected, "inspect serve's first successful run")
        yield pod
    finally:
        stop(pod)


@pytest.fixture(scope="package")
def respond_pod(
    deploy_cluster: Cluster, image: ImageLayout, chart_manifests: list[dict[str, Any]]
) -> Iterator[RunningPod]:
    """``respond run`` as the chart deploys it, once its CrashLoop rule has recorded
    its Event on :data:`CRASHING`."""
    _problems(deploy_cluster)
    pod, port = _start(deploy_cluster, image, chart_manifests, "respond")
    try:
        wait_for(pod, lambda: http_get(pod, port, "/readyz")[0] == 200, "respond run ready")
        crash_loop(deploy_cluster)
        wait_for(pod, lambda: crash_loop_events(deploy_cluster), "respond's Event on the Pod")
        yield pod
    finally:
        stop(pod)


def crash_loop_events(cluster: Cluster) -> list[dict[str, Any]]:
    """The Events respond's chart rule recorded on :data:`CRASHING`."""
    events = cluster.admin.get(
        f"/api/v1/namespaces/{PROBLEMS}/events?fieldSelector=involvedObject.name={CRASHING}"
    )["items"]
    return [e for e in events if e.get("reason") == "KubeopsCrashLoop"]


def refusals(log: str) -> list[str]:
    """The log's lines telling the daemon was refused (Forbidden, 403) by the API server.

    A daemon logging JSON (the chart's ``logFormat``) must write nothing else: a line
    that is not a JSON object is itself returned.  Its own HTTP server denying a caller
    (a 401/403 it answered) is not a refusal of the daemon and is left out.
    """
    found = []
    for line in filter(str.strip, log.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            found.append(f"not JSON: {line}")
            continue
        if record.get("message") == "request denied" and "status" in record:
            continue
        if forbidden_lines(line):
            found.append(line)
    return found
