"""Fixtures of the in-cluster tests: an audited testenv, the image, and pods run from it.

The daemons run "as in a Pod" (:mod:`kubeops.testenv.pod`) from the image `make image`
builds, so they need root (mounts, ``chroot``).  Every API server of ``deploy_env``
writes an audit record of each request a ServiceAccount makes to its own log, which
is how the tests know what a daemon did with its token (:func:`audit_requests`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from deploy.chart import ALL_ENABLED, render, template
from deploy.incluster_runs import (  # noqa: F401 -- package fixtures, shared by the tests
    NAMESPACE,
    RELEASE,
    namespace_object,
    sync_run,
    webhook_run,
)
from kubeops.testenv import Environment
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.errors import ControlPlaneError
from kubeops.testenv.image import ImageLayout, ensure_image

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
    (completed requests; ``since``: an RFC 3339 time to start from)."""
    used = set()
    for event in audit_events(cluster):
        if event.get("user", {}).get("username") != user or event.get("stage") == "Panic":
            continue
        if since and event.get("requestReceivedTimestamp", "") < since:
            continue
        if event.get("responseStatus", {}).get("code", 0) >= 400:
            continue
        ref = event.get("objectRef") or {}
        used.add(
            (
                event["verb"],
                ref.get("apiGroup", ""),
                ref.get("resource", ""),
                ref.get("subresource", ""),
                ref.get("namespace", ""),
            )
        )
    return used
