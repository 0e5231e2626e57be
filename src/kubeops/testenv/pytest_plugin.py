"""pytest fixtures backed by real local clusters (registered as the ``kubeops`` plugin).

* ``kube_env`` -- the session's :class:`~kubeops.testenv.Environment`, one cluster;
* ``kube_cluster`` -- that cluster;
* ``kube_namespace`` -- a fresh namespace per test, deleted afterwards;
* ``kube_clusters`` -- a second environment with two API-only clusters, for
  multi-cluster tests, started only when a test asks for it;
* ``sync_env`` -- an environment of four API-only clusters (``hub``, ``cluster-a``,
  ``cluster-b``, ``cluster-c``) for multi-cluster sync, started only when a test asks;
* ``metrics_cluster`` -- a full cluster of its own that also serves metrics.k8s.io
  (metrics-server over kwok's simulated kubelets; usage set with
  :meth:`~kubeops.testenv.Cluster.set_usage`), started only when a test asks for it,
  and ``metrics_namespace``, a fresh namespace on it per test;
* ``start_alertmanager`` -- ``start_alertmanager(webhook_url, **options)`` starts a
  real Alertmanager (:class:`~kubeops.testenv.alertmanager.Alertmanager`) whose
  receiver posts to ``webhook_url``; every one started is stopped when the test ends;
* ``client`` / ``sync_client`` -- a kubeops ``Client`` / ``SyncClient`` for the
  session cluster as admin, its default namespace the test's ``kube_namespace``;
* ``postgres`` -- the session's real PostgreSQL server
  (:class:`~kubeops.testenv.PostgresServer`, Debian's binaries on 127.0.0.1),
  started when a test first asks for it;
* ``postgres_url`` -- the URL of a fresh database on it per test, dropped afterwards;
* ``kafka`` -- the session's real Kafka broker (:class:`~kubeops.testenv.kafka.Kafka`,
  KRaft, one node on 127.0.0.1; ``kafka.bootstrap``), started when a test first asks;
* ``kafka_topic`` -- a fresh topic (3 partitions) on it per test, by name;
* ``kafka_broker`` -- ``kafka_broker(**options)`` starts a broker of the test's own, for
  tests that stop, kill or restart it; each is closed when the test ends.

Tests wait with :func:`eventually` (or :func:`async_eventually` inside the event
loop) instead of their own deadline loops or fixed sleeps; both live in
:mod:`kubeops.testenv.eventually` and are re-exported here and by
:mod:`kubeops.testenv`.

Options: ``--kubeops-api-only`` (skip controller-manager, scheduler and kwok)
and ``--kubeops-nodes N``.  A test marked ``full`` that uses the session cluster
fails, saying why, when that cluster is API-only.  Missing binaries make every
test that needs a cluster fail with the message saying how to get them; nothing
is skipped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from kubeops.testenv.alertmanager import Alertmanager
from kubeops.testenv.cluster import Cluster
from kubeops.testenv.environment import Environment
from kubeops.testenv.errors import ControlPlaneError
from kubeops.testenv.eventually import async_eventually, eventually
from kubeops.testenv.kafka import Kafka
from kubeops.testenv.postgres import PostgresServer

if TYPE_CHECKING:
    from kubeops.api import Client, SyncClient

__all__ = ["async_eventually", "eventually"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(function: _F) -> _F:
    """Mark an async fixture for pytest-asyncio (needed in its strict mode) when it is
    installed; without it no async test runs anyway, so a plain fixture does."""
    try:
        import pytest_asyncio
    except ImportError:
        return cast(_F, pytest.fixture(function))
    return cast(_F, pytest_asyncio.fixture(function))


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--kubeops-api-only`` and ``--kubeops-nodes`` and their ini twins."""
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


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``full`` marker, so projects using the plugin need not."""
    config.addinivalue_line(
        "markers", "full: needs the full control plane (controller-manager, scheduler, kwok nodes)"
    )


def _api_only(config: pytest.Config) -> bool:
    api_only = config.getoption("kubeops_api_only")
    if api_only is None:
        api_only = bool(config.getini("kubeops_api_only"))
    return bool(api_only)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a ``full`` test that would get an API-only session cluster, before it starts."""
    fixtures = getattr(item, "fixturenames", ())
    if item.get_closest_marker("full") and "kube_cluster" in fixtures and _api_only(item.config):
        pytest.fail(
            "this test needs the full control plane (controller-manager, scheduler, "
            "kwok nodes); run it without --kubeops-api-only",
            pytrace=False,
        )


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
    """The session's environment: one cluster named ``testenv``, started once."""
    config = request.config
    nodes = config.getoption("kubeops_nodes") or int(config.getini("kubeops_nodes"))
    env = Environment(
        ["testenv"], nodes=nodes, api_only=_api_only(config), progress=_progress(config)
    )
    return _start(request, env)


@pytest.fixture(scope="session")
def kube_cluster(kube_env: Environment) -> Cluster:
    """The session's cluster."""
    return kube_env.cluster()


@pytest.fixture(scope="session")
def kube_clusters(request: pytest.FixtureRequest) -> list[Cluster]:
    """Two API-only clusters, ``member-a`` and ``member-b``, for multi-cluster tests."""
    env = Environment(["member-a", "member-b"], api_only=True, progress=_progress(request.config))
    return _start(request, env).clusters


SYNC_CLUSTERS = ("hub", "cluster-a", "cluster-b", "cluster-c")


@pytest.fixture(scope="session")
def sync_env(request: pytest.FixtureRequest) -> Environment:
    """Four API-only clusters for multi-cluster sync: ``hub``, ``cluster-a`` (the usual
    source), ``cluster-b`` and ``cluster-c``, sharing one etcd; started on first use."""
    env = Environment(list(SYNC_CLUSTERS), api_only=True, progress=_progress(request.config))
    return _start(request, env)


@pytest.fixture(scope="session")
def metrics_cluster(request: pytest.FixtureRequest) -> Cluster:
    """A cluster with metrics.k8s.io served by a real metrics-server (one node)."""
    env = Environment(["metrics"], nodes=1, metrics=True, progress=_progress(request.config))
    return _start(request, env).cluster()


@pytest.fixture
def start_alertmanager(request: pytest.FixtureRequest) -> Iterator[Callable[..., Alertmanager]]:
    """Start real Alertmanagers notifying a given webhook URL; stopped after the test."""
    started: list[Alertmanager] = []

    def start(webhook_url: str, **options: Any) -> Alertmanager:
        manager = Alertmanager(webhook_url, progress=_progress(request.config), **options)
        started.append(manager)
        try:
            manager.start()
        except ControlPlaneError as err:
            pytest.fail(f"kubeops testenv could not start Alertmanager: {err}", pytrace=False)
        return manager

    yield start
    for manager in started:
        manager.stop()


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started once and closed (stopped, its
    directory removed) at the end.  Tests may stop, start and restart it."""
    server = PostgresServer(progress=_progress(request.config))
    try:
        server.start()
    except ControlPlaneError as err:
        pytest.fail(f"kubeops testenv could not start PostgreSQL: {err}", pytrace=False)
    yield server
    server.close()


def _database_name(request: pytest.FixtureRequest) -> str:
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40].strip("_")
    return f"t_{stem}_{uuid.uuid4().hex[:6]}"


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres: PostgresServer) -> Iterator[str]:
    """The URL of a database of its own for this test on the session's server, as
    the ``kubeops`` role (it owns the database); dropped when the test ends."""
    postgres.start()  # a no-op unless an earlier test left it stopped
    name = _database_name(request)
    url = postgres.create_database(name)
    yield url
    postgres.start()
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest) -> Iterator[Kafka]:
    """The session's Kafka broker, started on first use and closed at the end.  Tests
    share it, so each uses topics of its own (``kafka_topic``); one that stops or
    kills a broker takes its own from ``kafka_broker``."""
    broker = Kafka(progress=_progress(request.config))
    _start_kafka(broker)
    yield broker
    broker.close()


@pytest.fixture
def kafka_topic(request: pytest.FixtureRequest, kafka: Kafka) -> str:
    """A new topic named after the test, with 3 partitions, on the session's broker."""
    kafka.start()  # a no-op unless an earlier test left it stopped
    # Neither "." nor "_": Kafka refuses a topic whose name differs from another's only there.
    stem = re.sub(r"[^a-zA-Z0-9-]+", "-", request.node.name).strip("-")[:60].strip("-")
    return kafka.create_topic(f"t-{stem}-{uuid.uuid4().hex[:6]}", partitions=3)


@pytest.fixture
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[Callable[..., Kafka]]:
    """Start a Kafka broker of the test's own (``kafka_broker(properties={...})`` takes
    :class:`~kubeops.testenv.kafka.Kafka`'s options); each is closed after the test."""
    started: list[Kafka] = []

    def start(**options: Any) -> Kafka:
        options.setdefault("progress", _progress(request.config))
        broker = Kafka(**options)
        started.append(broker)
        _start_kafka(broker)
        return broker

    yield start
    for broker in started:
        broker.close()


def _start_kafka(broker: Kafka) -> None:
    try:
        broker.start()
    except ControlPlaneError as err:
        broker.close()
        pytest.fail(f"kubeops testenv could not start Kafka: {err}", pytrace=False)


@pytest.fixture
def kube_namespace(request: pytest.FixtureRequest, kube_cluster: Cluster) -> Iterator[str]:
    """A namespace named after the test; deleted (without waiting) when it ends."""
    yield from _namespace(request, kube_cluster)


@pytest.fixture
def metrics_namespace(request: pytest.FixtureRequest, metrics_cluster: Cluster) -> Iterator[str]:
    """A namespace named after the test on ``metrics_cluster``; deleted when it ends."""
    yield from _namespace(request, metrics_cluster)


def _namespace(request: pytest.FixtureRequest, kube_cluster: Cluster) -> Iterator[str]:
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


@_async_fixture
async def client(kube_cluster: Cluster, kube_namespace: str) -> AsyncIterator[Client]:
    """A kubeops ``Client`` for the session cluster as admin; its default namespace is
    the test's ``kube_namespace``.  Closed when the test ends."""
    from kubeops.api import Client
    from kubeops.config import load_config

    async with Client(load_config(kube_cluster.kubeconfig, namespace=kube_namespace)) as opened:
        yield opened


@pytest.fixture
def sync_client(kube_cluster: Cluster, kube_namespace: str) -> Iterator[SyncClient]:
    """The blocking twin of ``client``: a ``SyncClient`` for the session cluster as admin,
    defaulting to the test's ``kube_namespace``."""
    from kubeops.api import SyncClient
    from kubeops.config import load_config

    with SyncClient(load_config(kube_cluster.kubeconfig, namespace=kube_namespace)) as opened:
        yield opened
