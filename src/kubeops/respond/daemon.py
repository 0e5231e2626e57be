"""``kubeops respond run``: the daemon that watches, decides and acts.

It has the shape of ``kubeops inspect serve`` -- one :class:`SecurePort` with
``/healthz``, ``/readyz``, ``/metrics``, JSON logs, a graceful stop on SIGTERM --
plus the event receiver (:mod:`kubeops.respond.receiver`) on the same port and
leader election: every replica serves, only the Lease holder runs the sources and
the engine.  On becoming leader a replica first finishes what the previous leader
claimed and did not finish and rebuilds the limits' windows from the ledger
(``engine.resume()``), then starts the sources from the ledger's watermark (the
last moment a leader was known to be watching), so objects created while nobody
led still fire their ``added`` rules.

With a ``bus:`` in the rules (Kafka), the modes are:

* publish only -- the leader publishes its cluster sources' events (through the
  on-disk spool) and handles them itself;
* consume -- every replica, leading or not, runs a Kafka consumer in the group and
  an engine whose limits are shared by all replicas (:mod:`~kubeops.respond.shared_limits`),
  keeps a heartbeat Lease, and acts; the leader still runs the cluster sources (their
  events go to its own engine, and published when ``publish`` is set), sweeps for the
  claims of replicas that stopped (:mod:`~kubeops.respond.heartbeat`) and writes the
  watermark;
* distributed (the published topic is consumed too) -- the leader's cluster sources
  only publish; every replica consumes and acts: responders scale out.

The bus is checked before anything starts: credentials read, the brokers reached;
a problem is one line naming the setting and the cause (exit 1).

The CLI adds the connection and serving flags (``respond`` cannot import ``cli``)
and calls :func:`add_run_flags` and :func:`run_from_args`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from kubeops.config.redact import error_line
from kubeops.errors import KubeopsError

if TYPE_CHECKING:
    from aiohttp import web

    from kubeops.api import Client
    from kubeops.bus.config import BusConfig, ResolvedCredentials
    from kubeops.controller.elected import LeaseSettings
    from kubeops.controller.serving import SecurePort, ServingOptions
    from kubeops.respond.event import Event

LOG = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_LEASE = "kubeops-respond"
SERVICE = "kubeops-respond"
"""The daemon's name in its traces."""
DEFAULT_QPS = 100.0
DEFAULT_BURST = 300
FREEZE_WAIT = 60.0
"""Seconds the start-up objects wait for the sources' first sync before being frozen."""
RESTART_PAUSE = 1.0
"""Seconds before leading again after leading failed."""
PRUNE_EVERY = 600.0
"""Seconds between two prunings of the ledger by the leader."""
KEEP_LEDGER = 24 * 3600.0
"""Ledger entries are kept at least this long (longer when a limit looks further back)."""
WATERMARK_EVERY = 10.0
"""Seconds between two watermarks written by the leader."""
WATERMARK_OVERLAP = datetime.timedelta(seconds=WATERMARK_EVERY)
"""How far before the watermark a new leader starts looking (the ledger removes repeats)."""
RECONCILE_BEFORE = datetime.timedelta(minutes=10)
"""How far before the start watermark a new leader looks for actions left unaudited."""
DRAIN_SECONDS = 20.0
"""How long a stopping leader lets running actions finish (Kubernetes gives 30 s)."""


class DaemonError(KubeopsError, ValueError):
    """A flag of ``kubeops respond run`` that cannot be used."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where ``notify: {email: ...}`` sends mail."""

    host: str
    port: int = 25
    sender: str = "kubeops@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False


@dataclass(frozen=True)
class RespondSettings:
    """Daemon-wide settings the actions read from ``ActionContext.settings``."""

    smtp: SmtpSettings | None = None


@dataclass(frozen=True)
class RunOptions:
    """Everything ``kubeops respond run`` takes; see :func:`add_run_flags` for each."""

    rules: tuple[str, ...]
    kubeconfig: str | None = None
    context: str | None = None
    dry_run: bool = False
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    serving: ServingOptions | None = None
    auth_kubeconfig: str | None = None
    auth_context: str | None = None
    lease: LeaseSettings | None = None
    audit_url: str | None = field(default=None, repr=False)
    event_token_file: str | None = None
    settings: RespondSettings = field(default_factory=RespondSettings)
    record: str | None = None
    identity: str | None = None
    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST
    usage_interval: float = 15.0


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of ``kubeops respond run`` other than the connection and serving ones."""
    what = parser.add_argument_group("rules")
    what.add_argument(
        "--rules",
        action="extend",
        nargs="+",
        required=True,
        metavar="PATH",
        help="rule files, directories of *.yaml files or Python modules (repeatable)",
    )
    what.add_argument(
        "--dry-run",
        action="store_true",
        help="evaluate and audit everything, change nothing",
    )
    serve = parser.add_argument_group("HTTP port (receiver, /metrics, /healthz, /readyz)")
    serve.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"default: {DEFAULT_LISTEN}; :PORT for every interface (needs --auth or "
        "--allow-unauthenticated)",
    )
    serve.add_argument(
        "--event-token-file",
        metavar="PATH",
        help="POST /events and /alertmanager need this bearer token (re-read when it "
        "changes); without it they are behind --auth like /metrics",
    )
    serve.add_argument(
        "--record",
        metavar="FILE",
        help="append every event as a JSON line to FILE, for `kubeops respond replay`",
    )
    serve.add_argument(
        "--qps",
        type=float,
        default=DEFAULT_QPS,
        help=f"requests per second to the API server, sustained (default: {DEFAULT_QPS:g}; "
        "a storm's ledger claims and actions are paced by it)",
    )
    serve.add_argument(
        "--burst",
        type=int,
        default=DEFAULT_BURST,
        help=f"and in a burst (default: {DEFAULT_BURST})",
    )
    serve.add_argument(
        "--usage-interval",
        metavar="DURATION",
        default="15s",
        help="how often usage rules read the metrics API (default: 15s; metrics-server "
        "scrapes every 10s to 60s)",
    )
    audit = parser.add_argument_group("audit log")
    audit.add_argument(
        "--audit-url",
        metavar="URL",
        help="sqlite:///PATH or any SQLAlchemy URL "
        "(default: sqlite:///~/.local/share/kubeops/respond-audit.db)",
    )
    audit.add_argument(
        "--audit-url-file",
        metavar="PATH",
        help="read the audit database URL from this file (e.g. a mounted Secret: the "
        "password stays out of the process list)",
    )
    mail = parser.add_argument_group("email (notify: {email: ...})")
    mail.add_argument("--smtp-host", metavar="HOST", help="the SMTP server")
    mail.add_argument(
        "--smtp-port", type=int, metavar="PORT", help="default: 25 (465 with --smtp-ssl)"
    )
    mail.add_argument("--smtp-from", metavar="ADDRESS", help="default: kubeops@localhost")
    mail.add_argument("--smtp-username", metavar="NAME")
    mail.add_argument("--smtp-password-file", metavar="PATH", help="the SMTP password, in a file")
    mail.add_argument("--smtp-starttls", action="store_true", help="upgrade with STARTTLS")
    mail.add_argument("--smtp-ssl", action="store_true", help="connect over TLS (SMTPS)")
    lead = parser.add_argument_group("leader election (several replicas)")
    lead.add_argument(
        "--leader-elect",
        action="store_true",
        help="only the replica holding the Lease watches and acts; the others stand by",
    )
    lead.add_argument("--lease-name", default=DEFAULT_LEASE, help=f"default: {DEFAULT_LEASE}")
    lead.add_argument("--lease-namespace", help="default: the context's namespace")
    lead.add_argument(
        "--lease-duration",
        metavar="DURATION",
        default="15s",
        help="how long a silent leader keeps the Lease (default: 15s; renew deadline 2/3 of it)",
    )


def options_from_args(args: argparse.Namespace, serving: ServingOptions) -> RunOptions:
    """Validate the parsed flags (connection flags completed) into :class:`RunOptions`."""
    from kubeops.controller.serving import ServingError, parse_lease_duration, parse_listen
    from kubeops.models import DurationError, parse_duration

    lease = None
    try:
        listen = parse_listen(args.listen)
        if args.leader_elect:
            duration = parse_lease_duration(args.lease_duration)
            lease = _lease_settings(args.lease_name, args.lease_namespace, duration)
    except ServingError as err:
        raise DaemonError(str(err)) from None
    try:
        usage_interval = parse_duration(args.usage_interval, positive=True)
    except DurationError as err:
        raise DaemonError(f"--usage-interval: {err}") from None
    smtp = None
    if args.smtp_host:
        password = None
        if args.smtp_password_file:
            password = _read_secret(args.smtp_password_file, "--smtp-password-file")
        smtp = SmtpSettings(
            host=args.smtp_host,
            port=args.smtp_port or (465 if args.smtp_ssl else 25),
            sender=args.smtp_from or "kubeops@localhost",
            username=args.smtp_username,
            password=password,
            starttls=args.smtp_starttls,
            ssl=args.smtp_ssl,
        )
    elif any((args.smtp_port, args.smtp_from, args.smtp_username, args.smtp_password_file)):
        raise DaemonError(
            "--smtp-port, --smtp-from, --smtp-username and --smtp-password-file need --smtp-host"
        )
    audit_url = args.audit_url
    if args.audit_url_file:
        from kubeops.respond.audit import read_url_file

        if audit_url:
            raise DaemonError("give --audit-url or --audit-url-file, not both")
        audit_url = read_url_file(args.audit_url_file)
    if args.event_token_file and not Path(args.event_token_file).is_file():
        raise DaemonError(f"--event-token-file {args.event_token_file}: no such file")
    return RunOptions(
        rules=tuple(args.rules),
        kubeconfig=args.kubeconfig,
        context=args.context,
        dry_run=args.dry_run,
        listen=listen,
        serving=replace(serving, host=listen[0], port=listen[1]),
        auth_kubeconfig=getattr(args, "auth_kubeconfig", None),
        auth_context=getattr(args, "auth_context", None),
        lease=lease,
        audit_url=audit_url,
        event_token_file=args.event_token_file,
        settings=RespondSettings(smtp=smtp),
        record=args.record,
        qps=args.qps,
        burst=args.burst,
        usage_interval=usage_interval,
    )


def _read_secret(path: str, flag: str) -> str:
    from kubeops.config import InputError, read_bounded

    try:
        return read_bounded(path, limit=64 * 1024, what=flag).decode().strip()
    except InputError as err:
        raise DaemonError(str(err)) from None
    except UnicodeDecodeError:
        raise DaemonError(f"{flag} {path}: not UTF-8 text") from None


def run_from_args(args: argparse.Namespace, serving: ServingOptions) -> int:
    """Run the daemon as the CLI asked until SIGTERM or SIGINT; the exit status."""
    from kubeops.controller.serving import configure_daemon, run_until_signalled

    options = options_from_args(args, serving)
    configure_daemon(
        getattr(args, "log_format", "text"),
        getattr(args, "log_level", "info"),
        ("kubeops.respond", "kubeops.controller", "kubeops.bus"),
        SERVICE,
    )

    # Gracefully: finish running actions, release the Lease; a second signal kills.
    return run_until_signalled(lambda stop: run(options, stop))


async def run(options: RunOptions, stop: asyncio.Event | None = None) -> int:
    """Run until ``stop`` is set; configuration problems raise before anything starts."""
    from kubeops.api import Client
    from kubeops.config import load_config
    from kubeops.respond.rules import load_rules

    ruleset = load_rules(list(options.rules))
    port = _secure_port(options)
    try:
        config = load_config(options.kubeconfig, context=options.context)
        async with Client(config, qps=options.qps, burst=options.burst) as client:
            credentials = None
            if ruleset.bus is not None:
                credentials = await check_bus(ruleset.bus, client)
            daemon = Daemon(options, ruleset, client, port, credentials=credentials)
            await daemon.run(stop or asyncio.Event())
    finally:
        await port.close()
    return 0


BUS_CHECK_SECONDS = 15.0
"""How long the start-up check waits for the brokers to answer."""


async def check_bus(bus: BusConfig, client: Client) -> ResolvedCredentials:
    """Read the bus credentials and reach the brokers once, before anything starts; a
    :class:`~kubeops.bus.config.BusConfigError` names the setting and the cause."""
    from kubeops.bus import kafka
    from kubeops.bus.config import BusConfigError, resolve_credentials

    credentials = await resolve_credentials(bus, client)
    admin = kafka.admin(
        bus, credentials=credentials, request_timeout_ms=int(BUS_CHECK_SECONDS * 1000)
    )
    try:
        async with asyncio.timeout(BUS_CHECK_SECONDS):
            await kafka.start(admin, bus, what="checking the brokers")
    except TimeoutError:
        raise BusConfigError(
            f"bus.brokers: no broker answered within {BUS_CHECK_SECONDS:.0f}s at "
            f"{', '.join(bus.brokers)}"
        ) from None
    with contextlib.suppress(Exception):
        await asyncio.wait_for(admin.close(), 5)
    return credentials


class _Current:
    """A Prometheus collector showing the metrics of the current one of a part that is
    rebuilt (the publisher of each leadership, the consumer of each start): its own
    registry, swapped in and out, so the daemon's registry never sees a name twice."""

    def __init__(self) -> None:
        self.registry: Any = None

    def collect(self) -> Iterator[Any]:
        registry = self.registry
        if registry is not None:
            yield from registry.collect()


def _secure_port(options: RunOptions) -> SecurePort:
    from kubeops.controller.serving import SecurePort, ServingOptions

    serving = options.serving or ServingOptions(host=options.listen[0], port=options.listen[1])
    if options.event_token_file:
        # The receiver checks its own token; the port's --auth guards the rest.
        from kubeops.respond.receiver import PATHS

        serving = replace(serving, always_allow=(*serving.always_allow, *PATHS))
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


class Daemon:
    """One replica: the port for everyone, the sources and engine while leading."""

    def __init__(
        self,
        options: RunOptions,
        ruleset: Any,
        client: Client,
        port: SecurePort,
        *,
        credentials: ResolvedCredentials | None = None,
    ) -> None:
        from prometheus_client import CollectorRegistry, Gauge

        from kubeops.controller.leader_election import default_identity
        from kubeops.respond.metrics import RespondMetrics

        self.options = options
        self.ruleset = ruleset
        self.client = client
        self.port = port
        self.identity = options.identity or default_identity()
        self.name = options.lease.name if options.lease is not None else DEFAULT_LEASE
        """The daemon's name in the ledger (its watermark): the Lease its replicas share."""
        self.registry = CollectorRegistry()
        self.metrics = RespondMetrics(self.registry)
        self.leader_gauge = Gauge(
            "kubeops_respond_leader",
            "1 while this replica leads (runs the sources and the engine)",
            registry=self.registry,
        )
        self.engine: Any = None
        self.sources: list[Any] = []
        self.leading = False
        self.started = datetime.datetime.now(datetime.UTC)
        self.leader: str | None = None
        self.audit: Any = None
        self._record: IO[str] | None = None
        self.bus: BusConfig | None = getattr(ruleset, "bus", None)
        self.credentials = credentials
        self.run_id = uuid.uuid4().hex[:16]
        """This process's ledger run: its heartbeat's holder."""
        self.publisher: Any = None
        self.consumer: Any = None
        self.heartbeat: Any = None
        self.sweep: Any = None
        self._engine_ready = asyncio.Event()
        self._bus_metrics = (_Current(), _Current())
        if self.bus is not None:
            for part in self._bus_metrics:
                self.registry.register(part)

    @property
    def consuming(self) -> bool:
        """Every replica consumes from the bus and acts (shared limits, heartbeats)."""
        return self.bus is not None and self.bus.consume is not None

    @property
    def distributed(self) -> bool:
        """The leader's cluster sources only publish; every replica acts on the bus."""
        return self.bus is not None and self.bus.distributed

    # -- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What ``/healthz`` reports."""
        return {
            "status": "ok",
            "identity": self.identity,
            "leader": self.leading,
            "leaderIdentity": self.leader,
            "dryRun": self.options.dry_run,
            "rules": len(self.ruleset.rules),
            "sources": {s.name: s.ready.is_set() for s in self.sources},
            **({"bus": self.bus_status()} if self.bus is not None else {}),
        }

    def bus_status(self) -> dict[str, Any]:
        """The bus part of ``/healthz``: the publisher's connection and spool, the
        consumer's partitions, the heartbeat."""
        status: dict[str, Any] = {"mode": self.mode}
        publisher = self.publisher
        if publisher is not None:
            status["publisher"] = {
                "connected": publisher.connected,
                "spoolEvents": len(publisher.spool),
                "spoolBytes": publisher.spool.size,
            }
        consumer = self.consumer
        if consumer is not None:
            status["consumer"] = {
                "group": consumer.group,
                "assigned": consumer.ready.is_set(),
                "partitions": [f"{t}/{p}" for t, p in consumer.partitions()],
            }
        if self.heartbeat is not None:
            status["heartbeat"] = self.heartbeat.alive
        return status

    @property
    def mode(self) -> str:
        """``distributed``, ``consume``, ``publish`` or ``local`` (no bus)."""
        if self.bus is None:
            return "local"
        if self.distributed:
            return "distributed"
        return "consume" if self.consuming else "publish"

    def _bus_ready(self) -> tuple[bool, str]:
        """Whether this replica's consumer part runs: engine built, partitions assigned
        (possibly none), heartbeat renewed."""
        if not self.consuming:
            return True, ""
        if self.engine is None:
            return False, "bus: starting the consumer"
        consumer = self.consumer
        if consumer is None or not consumer.ready.is_set():
            return False, "bus: joining consumer group"
        if self.heartbeat is not None and not self.heartbeat.alive:
            return False, "bus: heartbeat not renewed"
        return True, f"bus: consuming {len(consumer.partitions())} partition(s)"

    def _publisher_text(self) -> str:
        publisher = self.publisher
        if publisher is None:
            return ""
        state = "connected" if publisher.connected else "not connected (spooling)"
        return f"; publisher {state}, spool {len(publisher.spool)} event(s)"

    def ready(self) -> tuple[bool, str]:
        """Whether this replica does its part: a follower stands by, a leader has resumed
        and every source knows its initial state."""
        bus_ok, bus_text = self._bus_ready()
        if not bus_ok:
            return False, bus_text
        tail = f"; {bus_text}" if bus_text else ""
        if not self.leading:
            # A replica without leader election that is not leading is starting (over).
            if self.options.lease:
                return True, "standing by" + tail
            return False, "starting"
        if self.engine is None and not self.distributed:
            return False, "resuming"
        waiting = [s.name for s in self.sources if not s.ready.is_set()]
        if waiting:
            return False, "waiting for " + ", ".join(waiting)
        return True, "leading" + tail + self._publisher_text()

    # -- HTTP -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The port's routes: probes, metrics and the receiver."""
        from aiohttp import web

        from kubeops.controller.serving import add_probe_routes
        from kubeops.respond.receiver import Receiver

        app = self.port.application()
        add_probe_routes(app, self.status, self.ready, self.registry)
        Receiver(self.deliver, token_file=self.options.event_token_file).add_routes(app)
        assert isinstance(app, web.Application)
        return app

    async def deliver(self, events: Sequence[Event]) -> bool:
        """Handle received events now (the post is answered when they are done); False
        when this replica does not lead."""
        engine = self.engine
        if engine is None:
            return False
        for event in events:
            self._write(event)
            await engine.handle(event)
        return True

    async def emit(self, event: Event) -> None:
        """What the sources call: record the event, publish it (with ``publish``), queue it
        for the engine (unless distributed: then it comes back through the bus)."""
        publisher = self.publisher
        if publisher is not None:
            publisher.publish(event)
            if self.distributed:
                return
        engine = self.engine
        if engine is None:
            return
        self._write(event)
        await engine.submit(event)

    async def consumed(self, event: Event) -> None:
        """What the Kafka consumer calls: handled when this returns (its offset may then be
        committed).  Shielded: a stopping consumer cancels its calls, not the handling,
        which the engine's drain finishes."""
        engine = self.engine
        if engine is None:
            raise RuntimeError("no engine to handle a consumed event")
        self._write(event)
        task = await engine.submit(event)
        await asyncio.shield(task)

    def _write(self, event: Event) -> None:
        if self._record is None:
            return
        from kubeops.respond.replay import event_to_json

        self._record.write(event_to_json(event) + "\n")
        self._record.flush()

    # -- running ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve, stand for election (or lead at once), until ``stop``."""
        from kubeops.respond.audit import AuditLog

        self.audit = await AuditLog.open(self.options.audit_url, metrics=self.metrics)
        LOG.info("audit log %s", self.audit.url)  # its password masked
        if self.options.record:
            self._record = open(self.options.record, "a", encoding="utf-8")  # noqa: SIM115
        try:
            await self.port.start(self.app())
            for warning in self.port.warnings:
                LOG.warning("%s", warning)
            LOG.info(
                "serving %s (auth: %s); %d rule(s)%s; identity %s",
                self.port.options.url,
                self.port.options.auth,
                len(self.ruleset.rules),
                ", dry run" if self.options.dry_run else "",
                self.identity,
            )
            from kubeops.controller.serving.signals import run_until_stopped

            parts = [self._elected() if self.options.lease else self._lead_now()]
            if self.consuming:
                parts.append(self._consume_forever())
            await run_until_stopped(_all(parts), stop)
        finally:
            await self.port.stop()
            await self.audit.close()
            if self._record is not None:
                self._record.close()
        LOG.info("stopped")

    async def _lead_now(self) -> None:
        while True:
            try:
                await self.lead(asyncio.Event())
            except (
                Exception
            ) as err:  # a source or the ledger failed: start over, as a new leader would
                LOG.error("leading failed: %s; starting again", error_line(err))
            await asyncio.sleep(RESTART_PAUSE)

    async def _elected(self) -> None:
        from kubeops.controller.elected import stand_for_election

        lease = self.options.lease
        assert lease is not None

        def new_leader(holder: str) -> None:
            self.leader = holder or None

        config = lease.config(self.identity, self.lead, new_leader)
        await stand_for_election(self.client, config, pause=RESTART_PAUSE)

    def _engine(self, ledger: Any, limits: Any, kill_switch: Any, dry_run: bool) -> Any:
        """This replica's engine over ``limits`` (in memory, or shared when consuming)."""
        from kubeops.respond.engine import Engine

        return Engine(
            self.client,
            self.ruleset,
            audit=self.audit,
            # A dry run claims nothing and must not adopt a live daemon's claims.
            ledger=None if dry_run else ledger,
            limits=limits,
            kill_switch=kill_switch,
            dry_run=dry_run,
            metrics=self.metrics,
            settings=self.options.settings,
            replica=self.identity,
        )

    async def lead(self, stopped: asyncio.Event) -> None:
        """Lead: resume from the ledger, start the sources from its watermark, act until
        cancelled; then let running actions finish.  When consuming, the engine is the
        consumer's (every replica has one): the leader adds the cluster sources, the
        orphan sweep and the watermark."""
        if self.consuming:
            await self._lead_consuming()
            return
        from kubeops.cache import SharedInformerFactory
        from kubeops.respond.killswitch import KillSwitch
        from kubeops.respond.ledger import Ledger
        from kubeops.respond.limits import Limits

        limits_settings = self.ruleset.limits
        namespace = limits_settings.namespace
        self.leading = True
        self.leader = self.identity
        self.leader_gauge.set(1)
        tasks: list[asyncio.Task[Any]] = []
        engine: Any = None
        factory: Any = None
        switch: Any = None
        try:
            ledger = Ledger(self.client, namespace, self.identity)
            kill_switch = KillSwitch(
                self.client, namespace, limits_settings.kill_switch, metrics=self.metrics
            )
            await kill_switch.start()
            switch = kill_switch
            limits = Limits(self.ruleset.rules, limits_settings)
            dry_run = self.options.dry_run or limits_settings.dry_run
            engine = self._engine(ledger, limits, kill_switch, dry_run)
            # Overlap the previous leader's last stretch: what it saw is in the ledger
            # and fires no second time; what it had not yet claimed fires now.
            watermark = await ledger.watermark(self.name)
            since = watermark - WATERMARK_OVERLAP if watermark is not None else self.started
            LOG.info("leading: resuming from the ledger; sources start at %s", since.isoformat())
            await engine.resume()
            if not dry_run:
                await reconcile_audit(ledger, self.audit, since - RECONCILE_BEFORE)
            factory = SharedInformerFactory(self.client)
            self.sources = self._sources(since, factory)
            if self.bus is not None and self.bus.publish is not None:
                await self._start_publisher()
            self.engine = engine
            for source in self.sources:
                tasks.append(asyncio.create_task(source.run(self.emit), name=source.name))
            tasks.append(asyncio.create_task(self._freeze_when_ready(), name="gc freeze"))
            if not dry_run:  # a dry run writes nothing, its own state included
                tasks.append(
                    asyncio.create_task(self._watermarks(ledger, limits), name="watermark")
                )
            await _until_one_fails(tasks)
        finally:
            self.engine = None
            await _cancel(tasks)
            if engine is not None:  # the actions under way finish (their claims are ours)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(engine.drain(), DRAIN_SECONDS)
            await self._stop_publisher()
            if factory is not None:
                await factory.shutdown()
            if switch is not None:
                await switch.stop()
            self.sources = []
            self.leading = False
            self.leader_gauge.set(0)

    async def _lead_consuming(self) -> None:
        """Lead beside the consumer: the cluster sources (into the bus when distributed,
        else into this replica's engine too), the orphan sweep, the watermark."""
        from kubeops.cache import SharedInformerFactory
        from kubeops.respond.heartbeat import OrphanSweep
        from kubeops.respond.ledger import Ledger
        from kubeops.respond.limits import Limits

        namespace = self.ruleset.limits.namespace
        dry_run = self.options.dry_run or self.ruleset.limits.dry_run
        self.leading = True
        self.leader = self.identity
        self.leader_gauge.set(1)
        tasks: list[asyncio.Task[Any]] = []
        factory: Any = None
        try:
            if not self.distributed:  # the sources' events go to the consumer's engine
                await self._engine_ready.wait()
            ledger = Ledger(self.client, namespace, self.identity, run=self.run_id)
            watermark = await ledger.watermark(self.name)
            since = watermark - WATERMARK_OVERLAP if watermark is not None else self.started
            LOG.info("leading (%s): sources start at %s", self.mode, since.isoformat())
            factory = SharedInformerFactory(self.client)
            self.sources = self._sources(since, factory)
            if self.bus is not None and self.bus.publish is not None:
                await self._start_publisher()
            for source in self.sources:
                tasks.append(asyncio.create_task(source.run(self.emit), name=source.name))
            tasks.append(asyncio.create_task(self._freeze_when_ready(), name="gc freeze"))
            if not dry_run:
                names = {rule.name for rule in self.ruleset.rules}
                self.sweep = OrphanSweep(
                    self.client,
                    namespace,
                    ledger,
                    self._resume_entry,
                    on_dead=self._audit_dead,
                    daemon=self.name,
                    wanted=lambda entry: entry.rule in names,
                )
                tasks.append(asyncio.create_task(self.sweep.run(), name="orphan sweep"))
                horizon = Limits(self.ruleset.rules, self.ruleset.limits)  # its horizon only
                tasks.append(
                    asyncio.create_task(self._watermarks(ledger, horizon), name="watermark")
                )
            await _until_one_fails(tasks)
        finally:
            await _cancel(tasks)
            await self._stop_publisher()
            if factory is not None:
                await factory.shutdown()
            self.sweep = None
            self.sources = []
            self.leading = False
            self.leader_gauge.set(0)

    async def _resume_entry(self, entry: Any) -> Any:
        engine = self.engine
        if engine is None:
            return None
        return await engine.resume_entry(entry)

    async def _audit_dead(self, holders: Sequence[str]) -> None:
        """Audit what replicas found stopped finished and did not audit (their records
        are written in batches; SIGKILL loses the last one)."""
        from kubeops.respond.ledger import Ledger

        ledger = Ledger(self.client, self.ruleset.limits.namespace, self.identity, run=self.run_id)
        try:
            await reconcile_audit(
                ledger, self.audit, self.started - RECONCILE_BEFORE, holders=set(holders)
            )
        except KubeopsError as err:
            LOG.warning("cannot audit what stopped replicas did: %s", err)

    async def _start_publisher(self) -> None:
        from prometheus_client import CollectorRegistry

        from kubeops.bus.publisher import Publisher

        assert self.bus is not None
        registry = CollectorRegistry()
        self.publisher = Publisher(self.bus, self.credentials or _no_credentials(), registry)
        self._bus_metrics[0].registry = registry
        await self.publisher.start(check=False)

    async def _stop_publisher(self) -> None:
        publisher, self.publisher = self.publisher, None
        if publisher is not None:
            try:
                await publisher.close(DRAIN_SECONDS / 4)
            except Exception as err:  # what is left stays in the spool for the next leader
                LOG.warning("bus: closing the publisher: %s", error_line(err))

    # -- consuming (every replica) -----------------------------------------------------------

    async def _consume_forever(self) -> None:
        while True:
            try:
                await self._consume()
            except Exception as err:  # the brokers, the heartbeat or the limits failed
                LOG.error("consuming failed: %s; starting again", error_line(err))
            await asyncio.sleep(RESTART_PAUSE)

    async def _consume(self) -> None:
        """Run this replica's consumer and engine (shared limits, ledger, heartbeat)
        until cancelled; then commit what was handled, let the rest finish, and drop
        the heartbeat so what is still unfinished can be resumed at once."""
        from prometheus_client import CollectorRegistry

        from kubeops.bus.consumer import KafkaSource
        from kubeops.respond.heartbeat import Heartbeat
        from kubeops.respond.killswitch import KillSwitch
        from kubeops.respond.ledger import Ledger
        from kubeops.respond.limits import Limits
        from kubeops.respond.shared_limits import SharedLimits

        assert self.bus is not None
        settings = self.ruleset.limits
        namespace = settings.namespace
        dry_run = self.options.dry_run or settings.dry_run
        tasks: list[asyncio.Task[Any]] = []
        engine: Any = None
        switch: Any = None
        heartbeat: Any = None
        drained = False
        try:
            ledger = Ledger(self.client, namespace, self.identity, run=self.run_id)
            limits: Any
            if dry_run:  # writes nothing: no claims, no shared state, no heartbeat
                limits = Limits(self.ruleset.rules, settings)
            else:
                heartbeat = Heartbeat(
                    self.client, namespace, self.identity, self.run_id, daemon=self.name
                )
                await heartbeat.start()
                self.heartbeat = heartbeat
                limits = SharedLimits(
                    self.client, namespace, self.name, self.ruleset.rules, settings
                )
                await limits.load()
            switch = KillSwitch(self.client, namespace, settings.kill_switch, metrics=self.metrics)
            await switch.start()
            engine = self._engine(ledger, limits, switch, dry_run)
            self.engine = engine
            self._engine_ready.set()
            registry = CollectorRegistry()
            self.consumer = KafkaSource(self.bus, credentials=self.credentials, registry=registry)
            self._bus_metrics[1].registry = registry
            LOG.info(
                "bus: consuming %s as group %r (%s)",
                ", ".join(self.bus.consume.topics if self.bus.consume else ()),
                self.consumer.group,
                self.mode,
            )
            tasks.append(asyncio.create_task(self.consumer.run(self.consumed), name="kafka"))
            if heartbeat is not None:
                tasks.append(asyncio.create_task(heartbeat.run(), name="heartbeat"))
            await _until_one_fails(tasks)
        finally:
            self._engine_ready.clear()
            await _cancel(tasks)  # the consumer commits what was handled
            self.engine = None
            if engine is not None:
                try:
                    await asyncio.wait_for(engine.drain(), DRAIN_SECONDS)
                    drained = True
                except (Exception, TimeoutError):
                    drained = False
            if heartbeat is not None:
                if drained:  # nothing of ours unfinished: others need not wait for it
                    await heartbeat.stop()
                self.heartbeat = None
            if switch is not None:
                await switch.stop()
            self.consumer = None

    async def _freeze_when_ready(self) -> None:
        """Once the sources have synced, move what start-up made (modules, rules, the
        first lists) out of the collector's way: a storm's full collections then take
        milliseconds instead of a tenth of a second (perf's S9 measurement)."""
        from kubeops.controller.serving.collector import freeze_start_up

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FREEZE_WAIT):
                await asyncio.gather(*(s.ready.wait() for s in self.sources))
        freeze_start_up()

    def _sources(self, since: datetime.datetime, factory: Any) -> list[Any]:
        """One source per source name some rule's trigger uses, sharing ``factory``'s
        informers (the receiver is the ``http`` and ``alert`` sources)."""
        from kubeops.respond.sources import SOURCES

        triggers: dict[str, list[Any]] = {}
        for rule in self.ruleset.rules:
            triggers.setdefault(rule.trigger.source, []).append(rule.trigger)
        built = []
        for name, given in triggers.items():
            kind = SOURCES[name].cls if name in SOURCES else None
            if kind is not None:
                built.append(
                    kind(
                        self.client,
                        given,
                        since=since,
                        factory=factory,
                        interval=self.options.usage_interval,
                    )
                )
        return built

    async def _watermarks(self, ledger: Any, limits: Any) -> None:
        """While leading: record that events up to now were handled, and prune old entries."""
        pruned_at = time.monotonic()
        while True:
            await asyncio.sleep(WATERMARK_EVERY)
            moment = datetime.datetime.now(datetime.UTC)
            # Not past an event still waiting in the engine: a successor starts before it.
            pending = getattr(self.engine, "pending_since", None)
            oldest = pending() if callable(pending) else None
            if oldest is not None and oldest < moment:
                moment = oldest
            # Nor past an event still spooled for the broker: if this leader dies with it
            # unsent, the successor's sources see it again.
            publisher = self.publisher
            spooled = publisher.spool.oldest() if publisher is not None else None
            if spooled is not None:
                moment = min(moment, datetime.datetime.fromtimestamp(spooled, datetime.UTC))
            try:
                await ledger.set_watermark(self.name, moment)
            except KubeopsError as err:
                LOG.warning("cannot write the watermark: %s", err)
            if time.monotonic() - pruned_at < PRUNE_EVERY:
                continue
            pruned_at = time.monotonic()
            keep = max(KEEP_LEDGER, limits.horizon, RECONCILE_BEFORE.total_seconds() * 2)
            try:
                count = await ledger.prune(keep)
            except KubeopsError as err:
                LOG.warning("cannot prune the ledger: %s", err)
            else:
                if count:
                    LOG.info("pruned %d ledger entr%s", count, "y" if count == 1 else "ies")


async def _all(parts: Sequence[Any]) -> None:
    """Run ``parts`` together until one fails (the rest cancelled) or all return."""
    tasks = [asyncio.ensure_future(part) for part in parts]
    try:
        await _until_one_fails(tasks)
    finally:
        await _cancel(tasks)


async def _until_one_fails(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Wait for ``tasks``; the first failure is raised (a source that fails ends a
    leadership, another starts over); with no tasks, wait until cancelled."""
    if tasks:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error
    await asyncio.Event().wait()


async def _cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _no_credentials() -> ResolvedCredentials:
    from kubeops.bus.config import ResolvedCredentials

    return ResolvedCredentials()


async def reconcile_audit(
    ledger: Any, audit: Any, since: datetime.datetime, *, holders: set[str] | None = None
) -> int:
    """Audit what the ledger shows done since ``since`` and the audit log lacks; how many.

    A leader killed between finishing an action in the ledger and storing its audit
    record (records are written in batches) would leave the action done and unaudited;
    the ledger in the cluster is the truth, so the new leader writes the record,
    naming the replica that acted.  With one audit database for every replica (the
    HA setup) each action then has exactly one outcome in the log.  ``holders``: only
    what these replicas did (replicas found stopped, while others still act and audit
    their own)."""
    from kubeops.respond.audit import AuditRecord
    from kubeops.respond.outcome import FAILED, SUCCEEDED

    done = [
        e
        for e in await ledger.entries(since)
        if e.state in (SUCCEEDED, FAILED) and (holders is None or e.holder in holders)
    ]
    if not done:
        return 0
    await audit.flush(DRAIN_SECONDS)  # this replica's own records first
    earliest = min(e.claimed_at for e in done)
    stored = {
        r.action_id
        for r in await audit.query(since=earliest, limit=None)
        if r.outcome in (SUCCEEDED, FAILED)
    }
    missing = [e for e in done if e.action_id not in stored]
    for entry in missing:
        audit.record(
            AuditRecord(
                time=entry.finished_at or entry.claimed_at,
                rule=entry.rule,
                outcome=entry.state,
                replica=entry.holder,
                event_name=entry.event_name,
                event_source=entry.event_source,
                event_identity=entry.event_identity,
                subject=str(entry.subject) if entry.subject is not None else "",
                action=entry.action,
                action_id=entry.action_id,
                detail=(entry.detail + " " if entry.detail else "")
                + "(audited from the ledger: the replica that acted stopped first)",
            )
        )
    if missing:
        await audit.flush(DRAIN_SECONDS)
        who = "stopped replica(s)" if holders is not None else "previous leader"
        LOG.info("audited %d action(s) the %s left unaudited", len(missing), who)
    return len(missing)


def _lease_settings(name: str, namespace: str | None, duration: float) -> LeaseSettings:
    from kubeops.controller.elected import LeaseSettings  # the controller loads on use only

    return LeaseSettings.for_duration(name, namespace, duration)
