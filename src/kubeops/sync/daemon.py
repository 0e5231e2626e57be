"""``kubeops sync run`` and ``kubeops sync agent``: the sync's two daemons.

Both have the shape of ``kubeops respond run`` and ``kubeops inspect serve``: one
:class:`~kubeops.controller.serving.SecurePort` with ``/healthz``, ``/readyz`` and
``/metrics``, text or JSON logs, a graceful stop on SIGTERM
(:func:`~kubeops.controller.serving.run_until_signalled`) -- and leader election:
every replica serves its port, only the holder of the Lease works.

* ``sync run`` competes for the Lease ``kubeops-sync`` in ``kubeops-sync`` on the
  hub; the leader runs the push controller (:class:`kubeops.sync.engine.SyncController`).
* ``sync agent`` competes for ``kubeops-sync-agent`` in ``kubeops-sync`` on its
  member; the leader runs the pull agent (:class:`kubeops.sync.agent.Agent`).

A replica that loses the Lease cancels its worker before anyone else may take
over (the renew deadline is shorter than the lease), so two replicas never write
at the same time.  Each leadership builds its worker afresh, with a metrics
registry of its own that ``/metrics`` shows while it leads; a standby shows only
``kubeops_sync_leader``.  ``/readyz`` is 200 on a standby and on a leader whose
caches have synced, 503 while a new leader is still listing.

The CLI (:mod:`kubeops.cli.sync`) adds the connection and serving flags (``sync``
cannot import ``cli``) and calls :func:`add_run_flags`/:func:`add_agent_flags` and
:func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from kubeops.config.redact import error_line
from kubeops.errors import KubeopsError
from kubeops.sync.model import SYSTEM_NAMESPACE

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client import CollectorRegistry

    from kubeops.api import Client
    from kubeops.controller.elected import LeaseSettings
    from kubeops.controller.serving import SecurePort, ServingOptions

LOG = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:8080"
RUN_LEASE = "kubeops-sync"
AGENT_LEASE = "kubeops-sync-agent"
DEFAULT_WORKERS = 4
DEFAULT_QPS = 100.0
DEFAULT_BURST = 300
RESTART_PAUSE = 1.0
"""Seconds before standing for election again after leading ended or failed."""


class DaemonError(KubeopsError, ValueError):
    """A flag of ``kubeops sync run``/``agent`` that cannot be used, or a hub or member
    not ready for it (no lease namespace)."""


class Worker(Protocol):
    """What a leader runs: the push controller or the pull agent."""

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set (or the task is cancelled); write nothing after."""

    def synced(self) -> bool:
        """Whether every cache the worker reads has its first complete list."""


@dataclass(frozen=True)
class DaemonOptions:
    """Everything ``kubeops sync run`` or ``kubeops sync agent`` takes.

    ``kubeconfig``/``context`` name the hub for ``run`` and the member for
    ``agent`` (the cluster holding the Lease either way); ``hub_kubeconfig``,
    ``hub_context`` and ``member`` are the agent's."""

    role: str
    """``run`` or ``agent``."""
    lease: LeaseSettings
    kubeconfig: str | None = None
    context: str | None = None
    hub_kubeconfig: str | None = None
    hub_context: str | None = None
    member: str | None = None
    workers: int = DEFAULT_WORKERS
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    serving: ServingOptions | None = None
    auth_kubeconfig: str | None = None
    auth_context: str | None = None
    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST
    identity: str | None = None


# -- flags ------------------------------------------------------------------------------------


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of ``kubeops sync run`` other than the connection and serving ones."""
    work = parser.add_argument_group("controller")
    work.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"workers per target cluster (default: {DEFAULT_WORKERS})",
    )
    _add_common_flags(parser, RUN_LEASE, "the hub")


def add_agent_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of ``kubeops sync agent`` other than the connection and serving ones
    (the connection flags name the member cluster)."""
    hub = parser.add_argument_group("the hub")
    hub.add_argument(
        "--hub",
        required=True,
        metavar="KUBECONFIG",
        help="kubeconfig of the hub holding this member's SyncWork (its identity needs the "
        "Role `kubeops sync install --agent MEMBER` creates)",
    )
    hub.add_argument("--hub-context", metavar="NAME", help="that kubeconfig's context")
    hub.add_argument(
        "--member", required=True, metavar="NAME", help="this cluster's MemberCluster name"
    )
    hub.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"objects applied at once (default: {DEFAULT_WORKERS})",
    )
    _add_common_flags(parser, AGENT_LEASE, "the member")


def _add_common_flags(parser: argparse.ArgumentParser, lease: str, where: str) -> None:
    serve = parser.add_argument_group("HTTP port (/metrics, /healthz, /readyz)")
    serve.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"default: {DEFAULT_LISTEN}; :PORT for every interface (needs --auth or "
        "--allow-unauthenticated)",
    )
    serve.add_argument(
        "--qps",
        type=float,
        default=DEFAULT_QPS,
        help=f"requests per second to {where}, sustained (default: {DEFAULT_QPS:g}; each "
        "member's own limit is its MemberCluster's spec.rateLimit)",
    )
    serve.add_argument(
        "--burst",
        type=int,
        default=DEFAULT_BURST,
        help=f"and in a burst (default: {DEFAULT_BURST})",
    )
    lead = parser.add_argument_group(f"leader election (on {where}; several replicas)")
    lead.add_argument("--lease-name", default=lease, help=f"default: {lease}")
    lead.add_argument(
        "--lease-namespace",
        default=SYSTEM_NAMESPACE,
        help=f"default: {SYSTEM_NAMESPACE} (it must exist)",
    )
    lead.add_argument(
        "--identity",
        metavar="NAME",
        help="this replica's name in the Lease and the logs (default: HOSTNAME_UUID; in a "
        "Pod, its name)",
    )
    lead.add_argument(
        "--lease-duration",
        metavar="DURATION",
        default="15s",
        help="how long a silent leader keeps the Lease (default: 15s; renew deadline 2/3 of it)",
    )


def options_from_args(
    args: argparse.Namespace, serving: ServingOptions, role: str
) -> DaemonOptions:
    """Validate the parsed flags (connection flags completed) into :class:`DaemonOptions`."""
    from kubeops.controller.serving import ServingError, parse_lease_duration, parse_listen

    try:
        listen = parse_listen(args.listen)
        duration = parse_lease_duration(args.lease_duration)
    except ServingError as err:
        raise DaemonError(str(err)) from None
    if args.workers < 1:
        raise DaemonError(f"--workers {args.workers}: at least 1")
    if args.qps <= 0 or args.burst < 1:
        raise DaemonError("--qps and --burst must be positive")
    lease = _lease_settings(args.lease_name, args.lease_namespace, duration)
    agent = role == "agent"
    return DaemonOptions(
        role=role,
        lease=lease,
        kubeconfig=args.kubeconfig,
        context=args.context,
        hub_kubeconfig=args.hub if agent else None,
        hub_context=args.hub_context if agent else None,
        member=args.member if agent else None,
        workers=args.workers,
        listen=listen,
        serving=replace(serving, host=listen[0], port=listen[1]),
        auth_kubeconfig=getattr(args, "auth_kubeconfig", None),
        auth_context=getattr(args, "auth_context", None),
        qps=args.qps,
        burst=args.burst,
        identity=args.identity or None,
    )


def main(args: argparse.Namespace, serving: ServingOptions, role: str) -> int:
    """Run ``role`` (``run`` or ``agent``) as the CLI asked until SIGTERM or SIGINT."""
    from kubeops.controller.serving import configure_daemon, run_until_signalled

    options = options_from_args(args, serving, role)
    configure_daemon(
        getattr(args, "log_format", "text"),
        getattr(args, "log_level", "info"),
        ("kubeops.sync", "kubeops.controller"),
        "kubeops-sync" if role == "run" else "kubeops-sync-agent",
    )
    # Gracefully: stop the worker, release the Lease; a second signal kills.
    return run_until_signalled(lambda stop: run(options, stop))


# -- running ----------------------------------------------------------------------------------


async def run(options: DaemonOptions, stop: asyncio.Event | None = None) -> int:
    """Run until ``stop`` is set; configuration problems raise before anything starts."""
    from kubeops.api import Client
    from kubeops.config import load_config

    port = _secure_port(options)
    stop = stop or asyncio.Event()
    try:
        config = load_config(options.kubeconfig, context=options.context)
        async with Client(config, qps=options.qps, burst=options.burst) as local:
            if options.role == "agent":
                hub_config = load_config(options.hub_kubeconfig, context=options.hub_context)
                async with Client(hub_config, qps=options.qps, burst=options.burst) as hub:
                    await _serve(options, local, port, _agent_factory(options, hub, local), stop)
            else:
                await _serve(options, local, port, _controller_factory(options, local), stop)
    finally:
        await port.close()
    return 0


async def _serve(
    options: DaemonOptions,
    lease_client: Client,
    port: SecurePort,
    build: WorkerFactory,
    stop: asyncio.Event,
) -> None:
    await check_lease_namespace(
        lease_client, options.lease.namespace or SYSTEM_NAMESPACE, options.role
    )
    await SyncDaemon(options, lease_client, port, build).run(stop)


WorkerFactory = Callable[["CollectorRegistry", str], Worker]
"""Builds a leader's worker: ``(registry, identity) -> Worker``."""


def _controller_factory(options: DaemonOptions, hub: Client) -> WorkerFactory:
    def build(registry: CollectorRegistry, identity: str) -> Worker:
        from kubeops.sync.engine import SyncController

        controller: Worker = SyncController(
            hub,
            registry=registry,
            workers=options.workers,
            identity=identity,
            on_operation=_operation_logger(identity),
        )
        return controller

    return build


def _agent_factory(options: DaemonOptions, hub: Client, member: Client) -> WorkerFactory:
    assert options.member is not None
    name = options.member

    def build(registry: CollectorRegistry, identity: str) -> Worker:
        from kubeops.sync.agent import Agent

        return Agent(
            hub, member, name, workers=options.workers, registry=registry, identity=identity
        )

    return build


def _operation_logger(identity: str) -> Callable[..., None]:
    """What the controller calls after each operation: one log record per write or
    failure, naming this replica and the object (``cluster`` is the target), so an
    operator -- or a test -- sees which replica wrote what and when."""
    from kubeops.controller.serving import log_event

    def logged(operation: Any, *extra: Any) -> None:
        error = next((e for e in extra if isinstance(e, BaseException)), None)
        if not operation.writes and error is None:
            return
        key = operation.key
        fields: dict[str, Any] = {
            "cluster": operation.target,
            "kind": key.kind,
            "namespace": key.namespace,
            "name": key.name,
            "event": "operation",
            "identity": identity,
            "policy": operation.policy,
            "target": operation.target,
            "key": str(key),
            "action": str(operation.action),
            "reason": operation.reason,
            "state": str(operation.state),
        }
        message = (
            f"{operation.action} {key} on {operation.target} "
            f"({operation.reason}; policy {operation.policy})"
        )
        if error is not None:
            fields["error"] = error_line(error)
            message += f": failed: {fields['error']}"
        log_event(LOG, logging.WARNING if error else logging.INFO, message, **fields)

    return logged


async def check_lease_namespace(client: Client, namespace: str, role: str) -> None:
    """Refuse to start, in one line, when the Lease's namespace does not exist: a replica
    would otherwise stand for election for ever without saying why.  An identity not
    allowed to read namespaces (least privilege needs only its Lease) is not checked."""
    from kubeops.errors import Forbidden, NotFound

    try:
        await client.get("v1/Namespace", namespace)
    except Forbidden:
        LOG.debug("may not read namespace %s; the Lease's own errors will tell", namespace)
    except NotFound:
        where = "hub (run `kubeops sync install`)" if role == "run" else "member"
        raise DaemonError(
            f"sync {role}: the Lease's namespace {namespace!r} does not exist on the {where}; "
            "create it or give --lease-namespace"
        ) from None


def _secure_port(options: DaemonOptions) -> SecurePort:
    from kubeops.controller.serving import SecurePort, ServingOptions

    serving = options.serving or ServingOptions(host=options.listen[0], port=options.listen[1])
    serving.check()
    client = None
    if serving.auth == "kubernetes":
        from kubeops.api import Client
        from kubeops.config import load_config

        client = Client(
            load_config(
                options.auth_kubeconfig or options.kubeconfig,
                context=options.auth_context or options.context,
            )
        )
    return SecurePort(serving, client, own_client=True)


class SyncDaemon:
    """One replica: the port for everyone, the worker while it holds the Lease."""

    def __init__(
        self,
        options: DaemonOptions,
        lease_client: Client,
        port: SecurePort,
        build: WorkerFactory,
    ) -> None:
        from prometheus_client import CollectorRegistry, Gauge

        from kubeops.controller.leader_election import default_identity

        self.options = options
        self.client = lease_client
        self.port = port
        self.build = build
        self.identity = options.identity or default_identity()
        self.registry = CollectorRegistry()
        self.leader_gauge = Gauge(
            "kubeops_sync_leader",
            "1 while this replica holds the Lease and runs the "
            + ("controller" if options.role == "run" else "agent"),
            registry=self.registry,
        )
        self.registry.register(_Current(self))
        self.worker: Worker | None = None
        self.worker_registry: CollectorRegistry | None = None
        self.leading = False
        self.leader: str | None = None
        self.leaderships = 0

    @property
    def noun(self) -> str:
        """What a leader runs: ``controller`` (run) or ``agent``."""
        return "controller" if self.options.role == "run" else "agent"

    # -- status -----------------------------------------------------------------------------

    def synced(self) -> bool:
        """Whether the current worker's caches have synced (False when there is none)."""
        worker = self.worker
        if worker is None:
            return False
        try:
            return bool(worker.synced())
        except Exception as err:  # a probe never fails on a worker's bug
            LOG.warning("synced() failed: %s", error_line(err))
            return False

    def status(self) -> dict[str, Any]:
        """What ``/healthz`` reports."""
        status: dict[str, Any] = {
            "status": "ok",
            "role": self.options.role,
            "identity": self.identity,
            "leader": self.leading,
            "leaderIdentity": self.leader,
            "lease": f"{self.options.lease.namespace}/{self.options.lease.name}",
            "synced": self.synced(),
            "leaderships": self.leaderships,
        }
        if self.options.member:
            status["member"] = self.options.member
        return status

    def ready(self) -> tuple[bool, str]:
        """A standby is ready (it stands by); a leader once its caches have synced."""
        if not self.leading:
            return True, "standing by"
        if self.worker is None:
            return False, "starting"
        if not self.synced():
            return False, "waiting for the caches to sync"
        return True, "leading"

    # -- HTTP -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The port's routes: probes and metrics."""
        from aiohttp import web

        from kubeops.controller.serving import add_probe_routes

        app = self.port.application()
        add_probe_routes(app, self.status, self.ready, self.registry)
        assert isinstance(app, web.Application)
        return app

    # -- running ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve and stand for election until ``stop``; a leader then stops its worker
        and releases the Lease before this returns."""
        try:
            await self.port.start(self.app())
            for warning in self.port.warnings:
                LOG.warning("%s", warning)
            LOG.info(
                "sync %s serving %s (auth: %s); identity %s; lease %s/%s",
                self.options.role,
                self.port.options.url,
                self.port.options.auth,
                self.identity,
                self.options.lease.namespace,
                self.options.lease.name,
            )
            from kubeops.controller.serving.signals import run_until_stopped

            work = asyncio.create_task(self._elected(), name="sync election")
            await run_until_stopped(work, stop)
        finally:
            await self.port.stop()
        LOG.info("stopped")

    async def _elected(self) -> None:
        from kubeops.controller.elected import stand_for_election

        lease = self.options.lease

        def new_leader(holder: str) -> None:
            self.leader = holder or None

        config = lease.config(self.identity, self.lead, new_leader)
        await stand_for_election(self.client, config, pause=RESTART_PAUSE)

    async def lead(self, stopped: asyncio.Event) -> None:
        """Build a worker and run it until leadership ends (``stopped`` set, or this
        task cancelled by the elector); nothing of it runs after this returns."""
        from prometheus_client import CollectorRegistry

        from kubeops.controller.serving import log_event

        registry = CollectorRegistry()
        self.leading = True
        self.leader = self.identity
        self.leaderships += 1
        self.leader_gauge.set(1)
        try:
            worker = self.build(registry, self.identity)
            self.worker_registry = registry
            self.worker = worker
            log_event(
                LOG,
                logging.INFO,
                f"leading: the {self.noun} starts",
                event="leading",
                identity=self.identity,
            )
            await worker.run(stopped)
            if not stopped.is_set():  # a worker that ends by itself failed: step down
                raise DaemonError(f"sync {self.options.role}: the worker stopped by itself")
        finally:
            self.worker = None
            self.leading = False
            self.leader_gauge.set(0)
            LOG.info("no longer leading: the %s stopped", self.noun)


class _Current:
    """A collector showing the current leader's worker registry (nothing on a standby)."""

    def __init__(self, daemon: SyncDaemon) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[Any]:
        """The worker's metrics while it leads."""
        registry = self.daemon.worker_registry if self.daemon.leading else None
        if registry is not None:
            yield from registry.collect()

    def describe(self) -> list[Any]:
        """Nothing up front: the worker's metrics come and go with leadership."""
        return []


def _lease_settings(name: str, namespace: str | None, duration: float) -> LeaseSettings:
    from kubeops.controller.elected import LeaseSettings  # the controller loads on use only

    return LeaseSettings.for_duration(name, namespace, duration)
