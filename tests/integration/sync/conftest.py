"""Fixtures every sync test shares, over the session's four clusters (``sync_env``).

* ``sync_world`` (session) -- the hub with the CRDs installed and ``cluster-a``,
  ``cluster-b`` and ``cluster-c`` registered as Push members (their admin
  kubeconfigs in Secrets, labelled ``sync-e2e=member``);
* ``sync_ns`` -- one fresh namespace name, created on every member cluster;
* ``make_policy`` -- creates a ``ClusterSyncPolicy`` on the hub (a unique name);
  every one is deleted when the test ends;
* ``register_member`` -- registers another ``MemberCluster`` (a ServiceAccount's
  kubeconfig, Pull mode...); removed when the test ends;
* ``start_controller`` -- the push controller (``SyncController``) in-process, on a
  thread of its own with its own event loop, recording every operation it
  reports; stopped when the test ends;
* ``spawn_sync`` -- ``kubeops sync run|agent ...`` as subprocesses, their stderr
  kept; killed when the test ends.

The tests themselves are synchronous: the controller runs on its own loop, so a
test may stop an API server or compact etcd (blocking calls) without stalling it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import inspect
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kubeops.testenv import Cluster, Environment, eventually
from kubeops.testenv.errors import ControlPlaneError

SOURCE = "cluster-a"
TARGETS = ("cluster-b", "cluster-c")
MEMBERS = (SOURCE, *TARGETS)
SYSTEM_NAMESPACE = "kubeops-sync"
SYNC_API = "/apis/sync.kubeops.io/v1alpha1"
POLICIES = f"{SYNC_API}/clustersyncpolicies"
MEMBER_PATH = f"{SYNC_API}/memberclusters"
MEMBER_LABELS = {"sync-e2e": "member"}

SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
)


# -- paths and objects ---------------------------------------------------------------------


def path_of(kind: str, namespace: str, name: str = "") -> str:
    """The REST path of a ConfigMap or Deployment (the kinds the scenarios sync)."""
    base = {
        "ConfigMap": f"/api/v1/namespaces/{namespace}/configmaps",
        "Deployment": f"/apis/apps/v1/namespaces/{namespace}/deployments",
        "Secret": f"/api/v1/namespaces/{namespace}/secrets",
    }[kind]
    return f"{base}/{name}" if name else base


def deployment(
    name: str,
    namespace: str,
    *,
    labels: Mapping[str, str] | None = None,
    replicas: int = 1,
    image: str = "nginx:1.25",
    containers: tuple[str, ...] = ("web",),
) -> dict[str, Any]:
    """A Deployment whose pods are labelled ``app=<name>``."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": c, "image": image} for c in containers]},
            },
        },
    }


def configmap(
    name: str,
    namespace: str,
    data: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ConfigMap."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "data": dict(data or {}),
    }


def create(cluster: Cluster, obj: Mapping[str, Any]) -> dict[str, Any]:
    """POST ``obj`` to ``cluster`` as admin; the object the server returns."""
    meta = obj["metadata"]
    created: dict[str, Any] = cluster.admin.create(
        path_of(obj["kind"], meta["namespace"]), dict(obj)
    )
    return created


def read(cluster: Cluster, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    """The object, or None when there is none."""
    found: dict[str, Any] = cluster.admin.request("GET", path_of(kind, namespace, name), ok=(404,))
    return None if found.get("kind") == "Status" else found


def names(cluster: Cluster, kind: str, namespace: str) -> set[str]:
    """The names of every ``kind`` in ``namespace`` on ``cluster``."""
    items = cluster.admin.get(path_of(kind, namespace))["items"]
    return {item["metadata"]["name"] for item in items}


def patch(cluster: Cluster, kind: str, namespace: str, name: str, body: dict[str, Any]) -> Any:
    """A JSON merge patch as admin (a hand edit, as ``kubectl patch`` makes one)."""
    return cluster.admin.patch(path_of(kind, namespace, name), body)


def delete(cluster: Cluster, kind: str, namespace: str, name: str) -> None:
    """Delete one object as admin (no error when it is gone)."""
    cluster.admin.delete(path_of(kind, namespace, name))


def content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without what its server set (uid, versions, managed fields, status), to
    compare the same object on two clusters."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    return {**body, "metadata": meta}


def sync_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's labels without the sync's own mark."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {k: v for k, v in labels.items() if not k.startswith("sync.kubeops.io/")}


def policy_status(hub: Cluster, name: str) -> dict[str, Any]:
    """The policy's status (empty before the controller wrote one)."""
    status: dict[str, Any] = hub.admin.get(f"{POLICIES}/{name}").get("status") or {}
    return status


def target_status(hub: Cluster, policy: str, target: str) -> dict[str, Any]:
    """One target's entry in the policy's ``status.targets`` (empty when absent)."""
    for entry in policy_status(hub, policy).get("targets") or []:
        if entry.get("name") == target:
            return dict(entry)
    return {}


def condition(hub: Cluster, policy: str, kind: str) -> dict[str, Any]:
    """The policy's condition of type ``kind`` (empty when absent)."""
    for entry in policy_status(hub, policy).get("conditions") or []:
        if entry.get("type") == kind:
            return dict(entry)
    return {}


# -- the session's hub and members -----------------------------------------------------------


@dataclass
class SyncWorld:
    """The session's clusters with the sync installed on the hub."""

    env: Environment
    hub: Cluster
    source: Cluster
    targets: dict[str, Cluster]

    def cluster(self, name: str) -> Cluster:
        """A cluster by its testenv name."""
        return self.env.cluster(name)

    @property
    def members(self) -> dict[str, Cluster]:
        """Every member cluster by name (the source first)."""
        return {SOURCE: self.source, **self.targets}


_worlds: dict[int, SyncWorld] = {}


def install_sync(hub: Cluster) -> None:
    """The CRDs, the system namespace and the controller's RBAC, as ``kubeops sync install``
    puts them on the hub (:func:`kubeops.sync.install.install`)."""
    from kubeops.api import Client
    from kubeops.sync.install import install

    async def main() -> None:
        async with Client.from_kubeconfig(hub.kubeconfig) as client:
            await install(client)

    asyncio.run(main())
    # Established is not yet served: the new storage answers 429 for a moment.
    eventually(
        lambda: hub.admin.get(POLICIES) and hub.admin.get(MEMBER_PATH),
        timeout=30,
        message="the sync CRDs served on the hub",
    )


def member_object(
    name: str,
    *,
    mode: str = "Push",
    secret: str | None = None,
    labels: Mapping[str, str] | None = None,
    rate_limit: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A ``MemberCluster`` (Push members read their kubeconfig from ``secret``)."""
    spec: dict[str, Any] = {"syncMode": mode}
    if rate_limit is not None:
        spec["rateLimit"] = dict(rate_limit)
    if secret is not None:
        spec["kubeconfigSecretRef"] = {"namespace": SYSTEM_NAMESPACE, "name": secret}
    return {
        "apiVersion": "sync.kubeops.io/v1alpha1",
        "kind": "MemberCluster",
        "metadata": {"name": name, "labels": {**MEMBER_LABELS, **(labels or {})}},
        "spec": spec,
    }


def put_member(
    hub: Cluster,
    name: str,
    kubeconfig: Path | None,
    *,
    mode: str = "Push",
    labels: Mapping[str, str] | None = None,
    rate_limit: Mapping[str, float] | None = None,
) -> None:
    """Create (or replace) a member and its kubeconfig Secret on the hub, as ``kubeops
    sync join`` does (``rate_limit``: its ``spec.rateLimit``)."""
    hub.admin.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}},
        exist_ok=True,
    )
    secret = None
    if kubeconfig is not None:
        secret = f"member-{name}"
        data = base64.b64encode(kubeconfig.read_bytes()).decode()
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret, "namespace": SYSTEM_NAMESPACE},
            "data": {"kubeconfig": data},
        }
        hub.admin.delete(path_of("Secret", SYSTEM_NAMESPACE, secret))
        hub.admin.create(path_of("Secret", SYSTEM_NAMESPACE), body)
    hub.admin.delete(f"{MEMBER_PATH}/{name}")
    eventually(
        lambda: not hub.admin.exists(f"{MEMBER_PATH}/{name}"),
        timeout=10,
        message=f"member {name} gone before it is registered again",
    )
    member = member_object(name, mode=mode, secret=secret, labels=labels, rate_limit=rate_limit)
    hub.admin.create(MEMBER_PATH, member)


def remove_member(hub: Cluster, name: str) -> None:
    """Delete a member and its Secret."""
    hub.admin.delete(f"{MEMBER_PATH}/{name}")
    hub.admin.delete(path_of("Secret", SYSTEM_NAMESPACE, f"member-{name}"))


@pytest.fixture(scope="session")
def sync_world(sync_env: Environment) -> SyncWorld:
    """The hub with the sync installed and the three members registered (once a session)."""
    world = _worlds.get(id(sync_env))
    if world is not None:
        return world
    hub = sync_env.cluster("hub")
    install_sync(hub)
    for name in MEMBERS:
        cluster = sync_env.cluster(name)
        put_member(hub, name, cluster.kubeconfig, labels={"name": name})
    world = SyncWorld(
        env=sync_env,
        hub=hub,
        source=sync_env.cluster(SOURCE),
        targets={name: sync_env.cluster(name) for name in TARGETS},
    )
    _worlds[id(sync_env)] = world
    return world


def _stem(request: pytest.FixtureRequest, width: int = 30) -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")
    return f"{stem[:width].strip('-')}-{uuid.uuid4().hex[:5]}"


@pytest.fixture
def sync_ns(request: pytest.FixtureRequest, sync_world: SyncWorld) -> Iterator[str]:
    """A namespace named after the test, created on every member cluster (not the hub)."""
    name = _stem(request)
    for cluster in sync_world.members.values():
        cluster.admin.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
    yield name
    for cluster in sync_world.members.values():
        with contextlib.suppress(ControlPlaneError):
            cluster.admin.delete(f"/api/v1/namespaces/{name}")


def policy_object(name: str, **spec: Any) -> dict[str, Any]:
    """A ``ClusterSyncPolicy``; ``spec`` in the CRD's camelCase (sourceCluster, ...)."""
    return {
        "apiVersion": "sync.kubeops.io/v1alpha1",
        "kind": "ClusterSyncPolicy",
        "metadata": {"name": name},
        "spec": {"sourceCluster": SOURCE, **spec},
    }


MakePolicy = Callable[..., str]


@pytest.fixture
def make_policy(request: pytest.FixtureRequest, sync_world: SyncWorld) -> Iterator[MakePolicy]:
    """``make_policy(**spec)`` creates a policy with a unique name on the hub and returns
    the name; ``make_policy(create=False, ...)`` returns the object's name after writing
    nothing (read the object with :func:`policy_object`)."""
    made: list[str] = []

    def make(**spec: Any) -> str:
        name = f"p-{_stem(request, 20)}"
        sync_world.hub.admin.create(POLICIES, policy_object(name, **spec))
        made.append(name)
        return name

    yield make
    for name in made:
        with contextlib.suppress(ControlPlaneError):
            sync_world.hub.admin.delete(f"{POLICIES}/{name}")


RegisterMember = Callable[..., str]


@pytest.fixture
def register_member(
    request: pytest.FixtureRequest, sync_world: SyncWorld
) -> Iterator[RegisterMember]:
    """``register_member(cluster, kubeconfig=None, mode="Push", labels=None,
    rate_limit=None)`` registers ``cluster`` once more under a fresh member name
    (returned); removed at the end."""
    made: list[str] = []

    def register(
        cluster: Cluster,
        kubeconfig: Path | None = None,
        *,
        mode: str = "Push",
        labels: Mapping[str, str] | None = None,
        rate_limit: Mapping[str, float] | None = None,
    ) -> str:
        name = f"m-{uuid.uuid4().hex[:8]}"
        if kubeconfig is None and mode == "Push":
            kubeconfig = cluster.kubeconfig
        put_member(
            sync_world.hub, name, kubeconfig, mode=mode, labels=labels, rate_limit=rate_limit
        )
        made.append(name)
        return name

    yield register
    for name in made:
        with contextlib.suppress(ControlPlaneError):
            remove_member(sync_world.hub, name)


# -- the controller in-process -----------------------------------------------------------------


@dataclass
class Recorded:
    """One operation the controller reported, with when (monotonic seconds) it did."""

    at: float
    operation: Any
    extra: tuple[Any, ...] = ()

    @property
    def action(self) -> str:
        return str(self.operation.action)

    @property
    def target(self) -> str:
        return str(self.operation.target)

    @property
    def writes(self) -> bool:
        return bool(self.operation.writes) and not self.failed

    @property
    def failed(self) -> bool:
        return any(isinstance(e, BaseException) for e in self.extra)


@dataclass
class RunningController:
    """The push controller on a thread of its own, reporting every operation here."""

    kubeconfig: Path
    options: dict[str, Any]
    operations: list[Recorded] = field(default_factory=list)
    error: BaseException | None = None
    controller: Any = None
    registry: Any = None
    _thread: threading.Thread | None = None
    _loop: Any = None
    _stop: Any = None
    _started: threading.Event = field(default_factory=threading.Event)

    def start(self) -> RunningController:
        self._thread = threading.Thread(target=self._main, name="sync-controller", daemon=True)
        self._thread.start()
        if not self._started.wait(30):
            raise AssertionError("the sync controller's thread did not start")
        self.check()
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as err:  # reported by check() and stop()
            self.error = err
            self._started.set()

    def _record(self, operation: Any, *extra: Any) -> None:
        self.operations.append(Recorded(time.monotonic(), operation, extra))

    async def _run(self) -> None:
        from prometheus_client import CollectorRegistry

        from kubeops.api import Client

        SyncController = importlib.import_module("kubeops.sync.engine").SyncController

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.registry = CollectorRegistry()
        options = dict(self.options)
        accepted = inspect.signature(SyncController).parameters
        if "registry" in accepted:
            options.setdefault("registry", self.registry)
        async with Client.from_kubeconfig(self.kubeconfig) as hub:
            self.controller = SyncController(hub, on_operation=self._record, **options)
            self._started.set()
            await self.controller.run(self._stop)

    def check(self) -> None:
        """Raise what the controller's thread died of, if it did."""
        if self.error is not None:
            raise AssertionError(f"the sync controller failed: {self.error!r}") from self.error

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the controller to stop and wait for its thread; raise what it failed of."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the sync controller did not stop within {timeout}s")
        self._thread = None
        self.check()

    def writes(self, policy: str | None = None) -> list[Recorded]:
        """The operations that wrote to a target (not NONE, not failed), oldest first."""
        return [
            r
            for r in list(self.operations)
            if r.writes and (policy is None or r.operation.policy == policy)
        ]

    def metric(self, name: str, **labels: str) -> float:
        """The sum of one metric's samples matching ``labels`` in the controller's registry."""
        total = 0.0
        if self.registry is None:
            return total
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total


StartController = Callable[..., RunningController]


@pytest.fixture
def start_controller(sync_world: SyncWorld) -> Iterator[StartController]:
    """``start_controller(kubeconfig=None, **options)``: the push controller against the
    hub (admin unless ``kubeconfig`` says otherwise), running until the test ends."""
    running: list[RunningController] = []

    def start(kubeconfig: Path | None = None, **options: Any) -> RunningController:
        controller = RunningController(kubeconfig or sync_world.hub.kubeconfig, options)
        running.append(controller)
        return controller.start()

    yield start
    errors = []
    for controller in running:
        try:
            controller.stop()
        except AssertionError as err:
            errors.append(err)
    if errors:
        raise errors[0]


# -- the CLI as a subprocess ----------------------------------------------------------------


def _kubeops(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``kubeops ...`` to completion; fail the test, with its output, if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"kubeops {' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def kubeops_cli(*argv: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """Run ``kubeops ...``; its exit code must be one of ``ok``."""
    done = subprocess.run(
        [sys.executable, "-m", "kubeops", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    if done.returncode not in ok:
        raise AssertionError(
            f"kubeops {' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


class SyncProcess:
    """``kubeops sync run|agent ...`` in a subprocess; its stderr kept as it comes."""

    def __init__(self, *argv: str) -> None:
        self.argv = [sys.executable, "-m", "kubeops", "sync", *argv]
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self._lines.append(raw.decode(errors="replace"))

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def log(self) -> str:
        return "".join(self._lines)

    def records(self) -> list[dict[str, Any]]:
        """Every JSON line of its log (``--log-format json``)."""
        found = []
        for line in list(self._lines):
            with contextlib.suppress(orjson.JSONDecodeError):
                value = orjson.loads(line)
                if isinstance(value, dict):
                    found.append(value)
        return found

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as Kubernetes stops a Pod, then wait for the exit."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.argv} did not exit within {timeout}s:\n{self.log}"
            ) from None
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """SIGKILL: its node died; nothing runs on the way out."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.wait()
        self._reader.join(5)


SpawnSync = Callable[..., SyncProcess]


@pytest.fixture
def spawn_sync() -> Iterator[SpawnSync]:
    """``spawn_sync("run", "--kubeconfig", ...)`` starts ``kubeops sync ...``; every one
    still running at the end is stopped (SIGTERM, then SIGKILL after 10 s)."""
    started: list[SyncProcess] = []

    def spawn(*argv: str) -> SyncProcess:
        process = SyncProcess(*argv)
        started.append(process)
        return process

    yield spawn
    # SIGTERM first: a replica that stops gracefully releases its Lease, so the next
    # test's daemon on the same cluster need not wait the Lease out.
    for process in started:
        if process.running:
            process.process.send_signal(signal.SIGTERM)
    for process in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.process.wait(10)
        process.kill()


def write_yaml(path: Path, document: Any) -> Path:
    """``document`` as YAML at ``path``."""
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


# -- least privilege ----------------------------------------------------------------------------

_RBAC = "/apis/rbac.authorization.k8s.io/v1"
_COLLECTIONS = {
    "Namespace": lambda ns: "/api/v1/namespaces",
    "ServiceAccount": lambda ns: f"/api/v1/namespaces/{ns}/serviceaccounts",
    "ClusterRole": lambda ns: f"{_RBAC}/clusterroles",
    "ClusterRoleBinding": lambda ns: f"{_RBAC}/clusterrolebindings",
    "Role": lambda ns: f"{_RBAC}/namespaces/{ns}/roles",
    "RoleBinding": lambda ns: f"{_RBAC}/namespaces/{ns}/rolebindings",
}


def apply_objects(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    """Server-side apply each of ``objects`` (namespaces, accounts, roles, bindings) as
    admin, as an operator applies what ``kubeops sync install``/``rbac`` print."""
    for obj in objects:
        meta = obj["metadata"]
        path = f"{_COLLECTIONS[obj['kind']](meta.get('namespace'))}/{meta['name']}"
        cluster.admin.request(
            "PATCH",
            f"{path}?fieldManager=sync-e2e&force=true",
            obj,
            content_type="application/apply-patch+yaml",
        )


def token_kubeconfig(cluster: Cluster, namespace: str, account: str) -> Path:
    """A kubeconfig for ``cluster`` carrying a fresh token of the ServiceAccount
    ``namespace/account`` (a TokenRequest), so a daemon has exactly its RBAC."""
    from kubeops.config.kubeconfig import write_kubeconfig
    from kubeops.testenv import kubeconfig

    token = cluster.admin.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        {"spec": {"expirationSeconds": 3600}},
    )["status"]["token"]
    config = kubeconfig.kubeconfig(
        cluster.name, cluster.server, cluster.pki.ca.cert_pem, account, {"token": token}, namespace
    )
    path = cluster.kubeconfig.with_name(f"{cluster.name}-{namespace}-{account}.token.kubeconfig")
    return write_kubeconfig(path, config)
