"""pytest fixtures backed by real local clusters (registered as the ``kubeops`` plugin).

* ``kube_env`` -- the session's :class:`~kubeops.testenv.Environment`, one cluster;
* ``kube_cluster`` -- that cluster;
* ``kube_namespace`` -- a fresh namespace per test, deleted afterwards;
* ``kube_clusters`` -- a second environment with two API-only clusters, for
  multi-cluster tests, started only when a test asks for it.

Options: ``--kubeops-api-only`` (skip controller-manager, scheduler and kwok)
and ``--kubeops-nodes N``.  Missing binaries make every test that needs a
cluster fail with the message saying how to get them; nothing is skipped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest

from kubeops.testenv.cluster import Cluster
from kubeops.testenv.environment import Environment
from kubeops.testenv.errors import ControlPlaneError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubeops", "kubeops testenv")
    group.addoption(
        "--kubeops-api-only",
        action="store_true",
        default=None,
        help="start only etcd and kube-apiserver for the session cluster",
    )
    group.addoption("--kubeops-nodes", type=int, default=None, help="simulated nodes (default 2)")
    parser.addini(
        "kubeops_api_only", "start only etcd and kube-apiserver", type="bool", default=False
    )
    parser.addini("kubeops_nodes", "simulated nodes in the session cluster", default="2")


def _progress(config: pytest.Config) -> Callable[[str], None]:
    """Write progress to the terminal even while pytest captures output (a first
    build takes minutes and must not look like a hang)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(f"[kubeops testenv] {line}")
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"[kubeops testenv] {line}")

    return write


def _start(request: pytest.FixtureRequest, env: Environment) -> Environment:
    try:
        env.start()
    except ControlPlaneError as err:
        pytest.fail(f"kubeops testenv could not start: {err}", pytrace=False)
    request.addfinalizer(env.stop)
    return env


@pytest.fixture(scope="session")
def kube_env(request: pytest.FixtureRequest) -> Environment:
    config = request.config
    api_only = config.getoption("kubeops_api_only")
    if api_only is None:
        api_only = bool(config.getini("kubeops_api_only"))
    nodes = config.getoption("kubeops_nodes") or int(config.getini("kubeops_nodes"))
    env = Environment(["testenv"], nodes=nodes, api_only=api_only, progress=_progress(config))
    return _start(request, env)


@pytest.fixture(scope="session")
def kube_cluster(kube_env: Environment) -> Cluster:
    return kube_env.cluster()


@pytest.fixture(scope="session")
def kube_clusters(request: pytest.FixtureRequest) -> list[Cluster]:
    env = Environment(["member-a", "member-b"], api_only=True, progress=_progress(request.config))
    return _start(request, env).clusters


@pytest.fixture
def kube_namespace(request: pytest.FixtureRequest, kube_cluster: Cluster) -> Iterator[str]:
    """A namespace named after the test; deleted (without waiting) when it ends."""
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    kube_cluster.admin.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    # The ServiceAccount admission plugin rejects Pods until the namespace's default
    # ServiceAccount exists; the controller-manager creates it only a moment later (and
    # not at all in API-only mode), so create it now and tests can make Pods at once.
    kube_cluster.admin.create(
        f"/api/v1/namespaces/{name}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
        exist_ok=True,
    )
    yield name
    kube_cluster.admin.delete(f"/api/v1/namespaces/{name}")
