"""A real single-node Apache Kafka on loopback, for tests of kubeops' event bus.

``with Kafka() as kafka: ... kafka.bootstrap ...`` runs one JVM that is both the
KRaft controller and the broker (no ZooKeeper), from the jars
:mod:`kubeops.testenv.assets_kafka` caches, with its data, configuration and log
(``logs/kafka.log``, WARN and above) in a run directory.  Settings suit one node
and fast tests: replication factor 1 everywhere, 3 partitions per auto-created
topic, no initial rebalance delay, short minimum session timeouts (so a test may
let a killed consumer's session lapse in about a second), small internal topics.

:meth:`Kafka.stop` shuts the broker down gracefully and :meth:`Kafka.kill` SIGKILLs
it; :meth:`Kafka.start` again runs it over the same data on the same ports, so
topics, messages and committed offsets survive -- an outage, as a client sees it.
:meth:`Kafka.close` stops it and removes a run directory it made itself.
Leftovers are prevented as for :class:`~kubeops.testenv.Alertmanager`: close runs
at interpreter exit and on SIGTERM, the JVM dies with its parent, and an own run
directory is a testenv run directory that the next testenv sweeps if we crash.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from kubeops.testenv import kafka_cds, rundir
from kubeops.testenv.assets import Assets, ensure_assets
from kubeops.testenv.assets_kafka import KAFKA, java_command
from kubeops.testenv.errors import AssetsError, ComponentFailed, ControlPlaneError, PortInUse
from kubeops.testenv.exit_hooks import LiveSet
from kubeops.testenv.kafka_probe import groups_ready, metadata_brokers
from kubeops.testenv.ports import HOST, ensure_free, free_port
from kubeops.testenv.process import Process

Progress = Callable[[str], None]
T = TypeVar("T")

# Measured on a 2-core machine: the serial collector and the C1 compiler only start
# the broker in ~1.8 s instead of ~2.9 s (~1.3 s with the class archive, kafka_cds).
# A benchmark that wants the broker's peak throughput passes ``jvm_options=THROUGHPUT_JVM``.
FAST_START_JVM: tuple[str, ...] = (
    "-Xms64m",
    "-Xmx384m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
)
THROUGHPUT_JVM: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
)
NODE_ID = 1
# The settings a storage format reads; overriding one formats with the storage tool.
FORMAT_SETTINGS = frozenset(
    {"node.id", "process.roles", "log.dirs", "log.dir", "metadata.log.dir"}
    | {"controller.quorum.voters", "controller.quorum.bootstrap.servers"}
)
LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
"""

_live: LiveSet[Kafka] = LiveSet(lambda kafka: kafka.close())


class Kafka:
    """One Kafka broker+controller (KRaft) on 127.0.0.1; also a context manager.

    ``libs`` is the directory of Kafka's jars or an :class:`Assets` holding them
    (default: :func:`ensure_assets` fetches them).  ``run_dir`` keeps the broker's
    files there (kept after :meth:`close`); by default a testenv run directory is
    made and removed on close.  ``properties`` add to or override the broker's
    settings (:meth:`properties`).
    """

    def __init__(
        self,
        libs: Assets | Path | None = None,
        run_dir: Path | None = None,
        *,
        properties: Mapping[str, str] | None = None,
        jvm_options: Sequence[str] = FAST_START_JVM,
        start_timeout: float = 60.0,
        progress: Progress | None = None,
        class_archive: bool = True,
    ) -> None:
        self._libs = libs
        self.class_archive = class_archive
        self.run_dir = run_dir
        self._owns_dir = run_dir is None
        self.overrides = dict(properties or {})
        self.jvm_options = list(jvm_options)
        self.start_timeout = start_timeout
        self.progress: Progress = progress or (lambda _: None)
        self.port = free_port()
        self.controller_port = free_port()
        self.cluster_id = cluster_id()
        self.start_seconds: float | None = None  # how long the last start took
        self._process: Process | None = None
        self._last: Process | None = None  # the latest, running or not: its log
        self._dumping: tuple[Path, str, Path] | None = None  # (file, java, libs) of a CDS dump

    def __enter__(self) -> Kafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT``: what a client's ``bootstrap_servers`` takes."""
        return f"{HOST}:{self.port}"

    def properties(self) -> dict[str, str]:
        """The broker's ``server.properties``, as written at each start."""
        assert self.run_dir is not None
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.run_dir / "data"),
            "num.partitions": "3",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",  # one to load, and probe (kafka_probe)
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "3",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "500",
            "group.consumer.min.session.timeout.ms": "1000",
            "group.consumer.min.heartbeat.interval.ms": "500",
            # After a SIGKILL the controller keeps the dead broker's registration
            # until its session lapses (9 s by default), and the restarted broker
            # cannot register until then: 2 s makes crash recovery ~3.5 s, not ~12 s.
            "broker.session.timeout.ms": "2000",
            "broker.heartbeat.interval.ms": "500",
        }
        settings.update(self.overrides)
        return settings

    def add_sasl_plain(self, user: str, password: str) -> str:
        """Open a second listener taking SASL/PLAIN for ``user`` with ``password``, from
        the next start on; its ``127.0.0.1:PORT``, for clients that authenticate."""
        port = free_port()
        self.overrides.update(
            {
                "listeners": f"PLAINTEXT://{HOST}:{self.port},SASL://{HOST}:{port},"
                f"CONTROLLER://{HOST}:{self.controller_port}",
                "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port},SASL://{HOST}:{port}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL:SASL_PLAINTEXT,"
                "CONTROLLER:PLAINTEXT",
                "listener.name.sasl.sasl.enabled.mechanisms": "PLAIN",
                "listener.name.sasl.plain.sasl.jaas.config": (
                    "org.apache.kafka.common.security.plain.PlainLoginModule required "
                    f'user_{user}="{password}";'
                ),
            }
        )
        return f"{HOST}:{port}"

    def start(self) -> None:
        """Start the broker (formatting its storage the first time) and wait until it
        lists itself as a live broker and consumer groups work.  No-op when running."""
        if self._process is not None:
            return
        started = time.monotonic()
        libs = self._resolve_libs()
        java = java_command()
        if self.run_dir is None:
            for stale, killed in rundir.sweep(rundir.default_base()):
                self.progress(f"cleaned {stale} left by a crashed run ({killed} process(es) ended)")
            self.run_dir = Path(tempfile.mkdtemp(prefix="kafka-", dir=rundir.default_base()))
            rundir.claim(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _live.add(self)
        config = self.run_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        (self.run_dir / "log4j2.properties").write_text(LOG4J2)
        base = [java, *self.jvm_options, *self._logging(), "-cp", f"{libs}/*"]
        if not (self.run_dir / "data" / "meta.properties").is_file():
            shared = kafka_cds.archive_options(java, libs, dump=False)[0]
            self._format([*base, *(shared if self.class_archive else [])], config, libs)
        for attempt in range(3):
            sharing, dump = kafka_cds.archive_options(java, libs, dump=self.class_archive)
            if not self.class_archive:
                sharing = []
            self._dumping = (dump, java, libs) if dump is not None else None
            try:
                self._run([*base, *sharing, "kafka.Kafka", str(config)])
                break
            except (PortInUse, ComponentFailed) as err:
                # Ports are picked free but may be taken before the JVM binds them; a
                # broker that never ran may move (clients have not seen its address yet),
                # unless a caller's listeners name its ports.
                taken = isinstance(err, PortInUse) or any(
                    "Address already in use" in line for line in err.log_tail
                )
                fixed = {"listeners", "advertised.listeners"} & self.overrides.keys()
                if not taken or fixed or self.start_seconds is not None or attempt == 2:
                    raise
                self.port, self.controller_port = free_port(), free_port()
                config.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        self.start_seconds = time.monotonic() - started
        self.progress(f"Kafka ready at {self.bootstrap} in {self.start_seconds:.1f}s")

    def _run(self, args: list[str]) -> None:
        assert self.run_dir is not None
        ensure_free(self.port, "Kafka")
        ensure_free(self.controller_port, "Kafka's controller")
        process = Process("kafka", args, self._log(), self.run_dir)
        self._process = self._last = process
        try:
            process.start()
            process.wait_ready(self.ready, self.start_timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the broker down gracefully (SIGTERM; SIGKILL after ``timeout``). Data stays."""
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None
        if self._dumping is not None:
            kafka_cds.publish(*self._dumping)
            self._dumping = None

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would; :meth:`start` recovers from its data."""
        process = self._process
        if process is not None:
            pid = process.pid
            if pid is not None and process.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            process.stop()  # reaps it and clears the ledger
            self._process = None
        if self._dumping is not None:
            kafka_cds.discard(self._dumping[0])
            self._dumping = None

    def restart(self) -> None:
        """Stop gracefully and start again over the same data and ports."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker and remove its run directory if this object made it."""
        self.stop()
        if self._owns_dir and self.run_dir is not None and self in _live:
            rundir.release(self.run_dir, remove=True)
            self.run_dir = None
        _live.discard(self)

    def running(self) -> bool:
        """Whether the broker's process is alive."""
        return self._process is not None and self._process.alive()

    def pids(self) -> list[int]:
        """The running broker's process ids (one JVM), empty when stopped."""
        pid = self._process.pid if self._process is not None else None
        return [pid] if pid is not None and self.running() else []

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines of the broker's log (also after it stopped), for a failing
        test's message."""
        last = self._process or self._last
        return last.log_tail(lines) if last is not None else []

    def answers(self) -> bool:
        """Whether the broker answers a metadata request listing itself as live."""
        try:
            return NODE_ID in metadata_brokers(HOST, self.port)
        except (OSError, ValueError, struct.error):
            return False

    def ready(self) -> bool:
        """Whether the broker is live and consumer groups work (their offsets loaded)."""
        try:
            return self.answers() and groups_ready(HOST, self.port)
        except (OSError, ValueError, struct.error):
            return False

    def create_topic(
        self, name: str, partitions: int = 3, *, config: Mapping[str, str] | None = None
    ) -> str:
        """Create topic ``name`` and wait until every partition has a leader; its name.

        Callable from a test's event loop too (it runs on a thread of its own)."""
        return _run_async(self._create_topic(name, partitions, dict(config or {})))

    async def _create_topic(self, name: str, partitions: int, config: dict[str, str]) -> str:
        # Imported by name: aiokafka ships no type information.
        aiokafka_admin = importlib.import_module("aiokafka.admin")
        admin = aiokafka_admin.AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id="kubeops-testenv"
        )
        await admin.start()
        try:
            topic = aiokafka_admin.NewTopic(name, partitions, 1, topic_configs=config)
            response = await admin.create_topics([topic])
            for item in response.topic_errors:
                code = item[1]
                if code != 0:
                    message = item[2] if len(item) > 2 else ""
                    raise ControlPlaneError(
                        f"Kafka at {self.bootstrap} refused to create topic {name!r}: "
                        f"error {code} {message or ''}".rstrip()
                    )
            deadline = time.monotonic() + 30.0
            while True:
                described = await admin.describe_topics([name])
                found = described[0] if described else {}
                parts = found.get("partitions") or []
                if (
                    found.get("error_code") == 0
                    and len(parts) == partitions
                    and all(p.get("leader", -1) >= 0 for p in parts)
                ):
                    return name
                if time.monotonic() > deadline:
                    raise ControlPlaneError(
                        f"topic {name!r} on Kafka at {self.bootstrap} has no leaders after 30s"
                    )
                await asyncio.sleep(0.05)
        finally:
            await admin.close()

    def _resolve_libs(self) -> Path:
        if isinstance(self._libs, Path):
            return self._libs
        assets = self._libs or ensure_assets([KAFKA], self.progress)
        return assets.path(KAFKA)

    def _logging(self) -> list[str]:
        assert self.run_dir is not None
        return [
            f"-Dlog4j2.configurationFile={self.run_dir / 'log4j2.properties'}",
            # A JVM crash report goes with the logs, not into the caller's directory.
            f"-XX:ErrorFile={self.run_dir / 'logs' / 'hs_err_pid%p.log'}",
        ]

    def _log(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / "logs" / "kafka.log"

    def _format(self, base: list[str], config: Path, libs: Path) -> None:
        """``kafka-storage format``: give the empty data directory its ids and the
        release's feature levels -- from the kept template unless a setting the format
        reads is overridden, else with the storage tool (whose result is kept)."""
        assert self.run_dir is not None
        data = self.run_dir / "data"
        template = kafka_cds.bootstrap_template(libs)
        own = not FORMAT_SETTINGS & self.overrides.keys()
        if own and template.is_file():
            data.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, data / "bootstrap.checkpoint")
            meta = {
                "version": "1",
                "node.id": str(NODE_ID),
                "directory.id": cluster_id(),
                "cluster.id": self.cluster_id,
            }
            (data / "meta.properties").write_text("".join(f"{k}={v}\n" for k, v in meta.items()))
            return
        args = [
            *base,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(config),
        ]
        try:
            done = subprocess.run(args, capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ControlPlaneError(f"formatting Kafka's storage failed: {err}") from err
        if done.returncode != 0:
            text = (done.stderr + done.stdout).decode(errors="replace").strip().splitlines()
            raise ControlPlaneError(
                f"formatting Kafka's storage in {self.run_dir} failed (exit code "
                f"{done.returncode}): {text[-1] if text else 'no output'}"
            )
        if own:
            kafka_cds.keep_template(data / "bootstrap.checkpoint", libs)


def prepare_class_archive(libs: Path, progress: Progress) -> None:
    """Make the class archive (:mod:`.kafka_cds`) for these jars unless it exists, by
    starting a broker and stopping it, so that even a machine's first test broker
    starts fast.  Not fatal: without it brokers start ~1 s slower and make it later."""
    try:
        java = java_command()
    except AssetsError:
        return  # whoever starts a broker is told
    if kafka_cds.archive_path(java, libs).is_file():
        return
    started = time.monotonic()
    try:
        with Kafka(libs):
            pass
    except ControlPlaneError as err:
        first = str(err).splitlines()[0]
        progress(f"could not prepare Kafka's class archive (brokers start ~1 s slower): {first}")
        return
    progress(f"prepared Kafka's class archive in {time.monotonic() - started:.0f}s")


def cluster_id() -> str:
    """A random cluster id as Kafka writes them (22 characters of URL-safe base64),
    never starting with ``-``, which the storage tool would take for an option."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a new loop in a thread of its own."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as err:  # handed to the caller's thread
            failure.append(err)

    thread = threading.Thread(target=run, name="kafka-admin")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
