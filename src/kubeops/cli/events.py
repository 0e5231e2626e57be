"""``kubeops events``: the events of one object, newest last, as at the bottom of
``kubectl describe`` -- or of a whole namespace, as ``kubectl events`` shows them;
and ``kubeops events export``, a small daemon publishing what the cluster does to
Kafka (the rules' ``bus:`` settings) without acting on it.

::

    kubeops events pod web-7d9f -n shop      # or pod/web-7d9f
    kubeops events -A -o json
    kubeops events export -f rules/ --leader-elect --log-format json
    kubeops events export --watch Deployment,ConfigMap -A --bus bus.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import age, print_columns, print_objects, run
from kubeops.cli.connection import add_connection_flags

if TYPE_CHECKING:
    from kubeops.api import Client, Object
    from kubeops.bus.config import BusConfig
    from kubeops.respond.model import Trigger

log = logging.getLogger(__name__)


def register(groups: Any) -> None:
    """Add ``kubeops events`` to the command groups."""
    events = groups.add_parser(
        "events", help="show the events of an object (or of a namespace), newest last"
    )
    events.add_argument("kind", nargs="?", help="kind of the object, or KIND/NAME")
    events.add_argument("name", nargs="?", help="name of the object")
    events.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    add_connection_flags(events, all_namespaces="every namespace's events")
    events.set_defaults(handler=run(_events))
    register_export(groups)


async def _events(client: Client, args: argparse.Namespace) -> int:
    from kubeops.errors import KubeopsError
    from kubeops.ops.events import EVENTS, events_for, list_events

    kind, name = args.kind, args.name
    if kind and not name and "/" in kind:
        kind, _, name = kind.rpartition("/")
    if kind and not name:
        raise KubeopsError(
            f"events: name the object: `kubeops events {kind} NAME` or {kind}/NAME "
            "(or give neither, for all events of the namespace)"
        )
    if kind:
        resource = await client.resource(kind)
        items = await events_for(client, resource, name, args.namespace)
        subject = f"{resource.kind.lower()}/{name}"
    else:
        items = await list_events(client, args.namespace, all_namespaces=args.all_namespaces)
        subject = ""
    if args.output != "table":
        print_objects(EVENTS, items, args.output, single=False)
        return 0
    if not items:
        where = f" for {subject}" if subject else ""
        print(f"No events found{where}.", file=sys.stderr)
        return 0
    if subject:
        rows = [["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]]
        rows += [
            [e.get("type") or "", e.get("reason") or "", _age(e), _source(e), _message(e)]
            for e in items
        ]
    else:
        rows = [["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]]
        if args.all_namespaces:
            rows[0].insert(0, "NAMESPACE")
        for e in items:
            row = [_last_seen(e), e.get("type") or "", e.get("reason") or "", _object(e)]
            row.append(_message(e))
            if args.all_namespaces:
                row.insert(0, e.get("metadata", {}).get("namespace", ""))
            rows.append(row)
    print_columns(rows)
    return 0


def _last_seen(event: Object) -> str:
    from kubeops.ops.events import event_time

    moment = event_time(event)
    return age(moment.isoformat()) if moment else "<unknown>"


def _age(event: Object) -> str:
    """kubectl describe's age: ``2m``, or ``30s (x4 over 2m)`` for a repeated event."""
    last = _last_seen(event)
    count = event.get("count") or (event.get("series") or {}).get("count") or 1
    first = event.get("firstTimestamp") or event.get("eventTime")
    if int(count) > 1 and first:
        return f"{last} (x{count} over {age(str(first))})"
    return last


def _source(event: Object) -> str:
    from kubeops.ops.events import event_source

    return event_source(event) or "<unknown>"


def _object(event: Object) -> str:
    involved = event.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _message(event: Object) -> str:
    return " ".join(str(event.get("message") or "").split())


# --- kubeops events export -------------------------------------------------------------------

EXPORT_LEASE = "kubeops-events-export"
EXPORT_LISTEN = "127.0.0.1:8080"


def register_export(groups: Any) -> None:
    """Add ``kubeops events export`` (the command line's ``events export`` is this parser)."""
    from kubeops.cli.inspect_serve import add_serving_flags

    export = groups.add_parser(
        "events-export",
        prog="kubeops events export",
        help="publish the cluster's events to Kafka (the bus: settings), acting on none",
        description="Run the event sources the rules use (-f) or watch kinds (--watch) and "
        "publish every event to the bus: topic as CloudEvents, through an on-disk spool; "
        "no actions.  /healthz, /readyz and /metrics on --listen; leader election.",
    )
    export.add_argument(
        "-f",
        "--rules",
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH",
        help="rule files or directories: their sources are run, their bus: key used",
    )
    export.add_argument(
        "--bus", metavar="FILE", help="a YAML file with the bus: settings (else from -f)"
    )
    export.add_argument(
        "--watch",
        metavar="KIND[,KIND]",
        action="append",
        default=[],
        help="publish these kinds' added/modified/deleted events (in -n's namespace, or -A)",
    )
    export.add_argument(
        "--listen",
        default=EXPORT_LISTEN,
        metavar="HOST:PORT",
        help=f"default: {EXPORT_LISTEN}; /healthz, /readyz, /metrics",
    )
    export.add_argument(
        "--leader-elect",
        action="store_true",
        help="only the replica holding the Lease publishes; the others stand by",
    )
    export.add_argument("--lease-name", default=EXPORT_LEASE, help=f"default: {EXPORT_LEASE}")
    export.add_argument("--lease-namespace", help="default: the context's namespace")
    export.add_argument("--lease-duration", metavar="DURATION", default="15s", help="default: 15s")
    add_connection_flags(export, all_namespaces="watch every namespace (with --watch)")
    add_serving_flags(export)
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from kubeops.cli.inspect_serve import serving_options
    from kubeops.controller.serving import configure_daemon, run_until_signalled
    from kubeops.respond.rules import RuleError

    try:
        exporter = _exporter(args, serving_options(args))
    except RuleError as err:
        from kubeops.cli.cluster import print_problems

        print_problems(err.problems, "the rules")
        return 1
    configure_daemon(
        args.log_format,
        args.log_level,
        ("kubeops.bus", "kubeops.controller", "kubeops.cli.events"),
        "kubeops-events",
    )
    return run_until_signalled(exporter.run)


def _exporter(args: argparse.Namespace, serving: Any) -> Exporter:
    """The flags checked into an :class:`Exporter`; one line for what is wrong."""
    from dataclasses import replace

    from kubeops.bus.config import BusConfigError
    from kubeops.controller.serving import ServingError, parse_lease_duration, parse_listen
    from kubeops.errors import KubeopsError
    from kubeops.respond.rules import load_rules

    if not args.rules and not args.watch:
        raise KubeopsError("events export: give -f RULES (their sources) or --watch KIND")
    if args.watch and args.rules:
        raise KubeopsError("events export: give -f RULES or --watch KIND, not both")
    files = list(args.rules) + ([args.bus] if args.bus else [])
    if not args.rules and not args.bus:
        raise KubeopsError("events export: --watch needs --bus FILE (the bus: settings)")
    ruleset = load_rules(files)
    bus = ruleset.bus
    if bus is None:
        raise BusConfigError(f"bus: not set in {', '.join(files)} (a bus: key with publish:)")
    if bus.publish is None:
        raise BusConfigError("bus.publish: required to export (topic and cluster)")
    kinds = [k.strip() for given in args.watch for k in given.split(",") if k.strip()]
    lease = None
    try:
        listen = parse_listen(args.listen)
        if args.leader_elect:
            from kubeops.controller.elected import LeaseSettings

            duration = parse_lease_duration(args.lease_duration)
            lease = LeaseSettings.for_duration(args.lease_name, args.lease_namespace, duration)
    except ServingError as err:
        raise KubeopsError(str(err)) from None
    return Exporter(
        bus=bus,
        triggers=[rule.trigger for rule in ruleset.rules],
        kinds=kinds,
        namespace="" if args.all_namespaces else args.namespace,
        kubeconfig=args.kubeconfig,
        context=args.context,
        serving=replace(serving, host=listen[0], port=listen[1]),
        lease=lease,
        auth=(args.auth_kubeconfig, args.auth_context),
    )


class Exporter:
    """``kubeops events export``: every replica serves its probes; the leader (or the
    only replica) runs the sources and publishes what they see, acting on nothing."""

    def __init__(
        self,
        *,
        bus: BusConfig,
        triggers: list[Trigger],
        kinds: list[str],
        namespace: str | None,
        kubeconfig: str | None,
        context: str | None,
        serving: Any,
        lease: Any,
        auth: tuple[str | None, str | None] = (None, None),
    ) -> None:
        from prometheus_client import CollectorRegistry, Gauge

        from kubeops.controller.leader_election import default_identity

        self.bus = bus
        self.triggers = triggers
        self.kinds = kinds
        self.namespace = namespace
        """For ``--watch``: "" every namespace, None the context's."""
        self.kubeconfig, self.context = kubeconfig, context
        self.serving = serving
        self.lease = lease
        self.auth = auth
        """``--auth-kubeconfig``/``--auth-context``: the cluster reviewing callers."""
        self.identity = default_identity()
        self.registry = CollectorRegistry()
        self.leader_gauge = Gauge(
            "kubeops_events_export_leader",
            "1 while this replica leads (runs the sources and publishes)",
            registry=self.registry,
        )
        self.publisher: Any = None
        self.sources: list[Any] = []
        self.leading = False
        self.credentials: Any = None
        self.client: Client | None = None
        self._current = _Current()
        self.registry.register(self._current)

    def status(self) -> dict[str, Any]:
        """What ``/healthz`` reports."""
        publisher = self.publisher
        return {
            "status": "ok",
            "identity": self.identity,
            "leader": self.leading,
            "sources": {s.name: s.ready.is_set() for s in self.sources},
            "publisher": None
            if publisher is None
            else {
                "connected": publisher.connected,
                "spoolEvents": len(publisher.spool),
                "spoolBytes": publisher.spool.size,
            },
        }

    def ready(self) -> tuple[bool, str]:
        """A follower stands by; a leader is ready once its sources know their state."""
        if not self.leading:
            return (True, "standing by") if self.lease else (False, "starting")
        waiting = [s.name for s in self.sources if not s.ready.is_set()]
        if waiting or self.publisher is None:
            return False, "waiting for " + (", ".join(waiting) or "the publisher")
        state = "connected" if self.publisher.connected else "broker away, spooling"
        return True, f"publishing ({state}, spool {len(self.publisher.spool)} event(s))"

    async def run(self, stop: asyncio.Event) -> int:
        """Check the bus, serve, lead (or stand for election) until ``stop``."""
        from kubeops.api import Client
        from kubeops.config import load_config
        from kubeops.controller.serving import add_probe_routes
        from kubeops.controller.serving.signals import run_until_stopped
        from kubeops.respond.daemon import check_bus

        config = load_config(self.kubeconfig, context=self.context)
        async with Client(config) as client:
            self.client = client
            self.credentials = await check_bus(self.bus, client)
            port = self._port(client)
            try:
                app = port.application()
                add_probe_routes(app, self.status, self.ready, self.registry)
                await port.start(app)
                for warning in port.warnings:
                    log.warning("%s", warning)
                assert self.bus.publish is not None
                log.info(
                    "serving %s; publishing to %s on %s; identity %s",
                    port.options.url,
                    self.bus.publish.topic,
                    ", ".join(self.bus.brokers),
                    self.identity,
                )
                work = self._elected(client) if self.lease else self._lead_now()
                await run_until_stopped(work, stop)
            finally:
                await port.close()
        log.info("stopped")
        return 0

    def _port(self, client: Client) -> Any:
        """The HTTP port; with ``--auth kubernetes`` callers are reviewed by the
        ``--auth-kubeconfig`` cluster, else by the one exported."""
        from kubeops.api import Client
        from kubeops.config import load_config
        from kubeops.controller.serving import SecurePort

        if self.serving.auth != "kubernetes" or self.auth == (None, None):
            return SecurePort(self.serving, client)
        kubeconfig, context = self.auth
        reviewer = Client(
            load_config(kubeconfig or self.kubeconfig, context=context or self.context)
        )
        return SecurePort(self.serving, reviewer, own_client=True)

    async def _lead_now(self) -> None:
        """Without leader election: lead, and start over when a source fails."""
        from kubeops.config.redact import error_line

        while True:
            try:
                await self.lead(asyncio.Event())
            except Exception as err:  # a source or the spool failed: start over
                log.error("publishing failed: %s; starting again", error_line(err))
            await asyncio.sleep(1.0)

    async def _elected(self, client: Client) -> None:
        from kubeops.controller.elected import stand_for_election

        config = self.lease.config(self.identity, self.lead, lambda _holder: None)
        await stand_for_election(client, config)

    async def lead(self, _stopped: asyncio.Event) -> None:
        """Run the sources into the publisher until cancelled; then hand the spool over
        (what is not sent in a few seconds stays on disk for the next leader)."""
        from prometheus_client import CollectorRegistry

        from kubeops.bus.publisher import Publisher
        from kubeops.cache import SharedInformerFactory

        assert self.client is not None
        registry = CollectorRegistry()
        publisher = Publisher(self.bus, self.credentials, registry)
        factory = SharedInformerFactory(self.client)
        tasks: list[asyncio.Task[None]] = []
        try:
            await publisher.start(check=False)
            self.publisher = publisher
            self._current.registry = registry
            self.sources = self._sources(factory)
            self.leading = True
            self.leader_gauge.set(1)
            log.info("leading: %d source(s) publishing", len(self.sources))
            tasks = [asyncio.create_task(s.run(publisher.emit), name=s.name) for s in self.sources]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a source that failed: leading failed
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
            self.leading = False
            self.leader_gauge.set(0)
            self.sources = []
            await factory.shutdown()
            self.publisher = None
            await publisher.close(5.0)

    def _sources(self, factory: Any) -> list[Any]:
        """One source per source name the triggers use (those that run in-process)."""
        from kubeops.respond.event import RESOURCE
        from kubeops.respond.model import Trigger
        from kubeops.respond.sources import SOURCES

        assert self.client is not None
        triggers = list(self.triggers)
        namespace = self.client.namespace if self.namespace is None else self.namespace
        for watched in self.kinds:
            triggers.append(
                Trigger(RESOURCE, kind=watched, namespaces=(namespace,) if namespace else ())
            )
        by_source: dict[str, list[Trigger]] = {}
        for trigger in triggers:
            by_source.setdefault(trigger.source, []).append(trigger)
        built = []
        for name, given in by_source.items():
            cls = SOURCES[name].cls if name in SOURCES else None
            if cls is not None:
                built.append(cls(self.client, given, since=now_utc(), factory=factory))
        return built


class _Current:
    """The current leadership's publisher metrics in the daemon's registry."""

    def __init__(self) -> None:
        self.registry: Any = None

    def collect(self) -> Iterator[Any]:
        registry = self.registry
        if registry is not None:
            yield from registry.collect()


def now_utc() -> datetime.datetime:
    """Sources start now: an export publishes what happens from here on."""
    return datetime.datetime.now(datetime.UTC)
