"""Runs the scenarios: clusters up, data sets in, every client in alternating order,
every sample recorded.  S1-S5 run on an API-only cluster (nothing else competing for
the two cores); S6-S8 on a full cluster with kwok nodes, Pods added in steps."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import dataset, s9, s10, s11, s12
from harness.clients import Client, go_binary
from harness.plan import Plan
from harness.process import Outcome, Spawner
from harness.stats import percentile, summary
from kubeops.testenv import Environment
from kubeops.testenv.assets import ensure_assets

LIST_NS = "bench-list"
POD_SCENARIOS = ("S7", "S8", "S6", "S6-scale")
# S6-scale measures these, the best Python peer by S6 (DEFAULT_PEER if S6 did not run).
SCALE_CLIENTS = ("kubeops-async", "kubeops-async-dict", "client-go")
DEFAULT_PEER = "lightkube"
# kwok writes Pod statuses 4 at a time by default: ~230 Pods/s here, 7 min for 100,000.
# A KwokConfiguration replaces every default, so the others are restated.
KWOK_CONFIG = """apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: 16
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 4
  enableDebuggingHandlers: true
"""
S3_NS = "bench-s3"
RUN_TIMEOUT = 900.0


def _value(scenario: str, outcome: Outcome) -> float:
    """The run's figure in its scenario's display unit."""
    final = outcome.final
    if scenario in ("S1", "S2"):
        return float(final["seconds"]) * 1e3
    if scenario == "S3":
        return percentile(final["lags_ms"], 99)
    if scenario == "S4":
        return float(final["count"]) / float(final["seconds"])
    if scenario == "S5":
        return float(final["seconds"]) / max(1, int(final["count"])) * 1e6
    if scenario in ("S6", "S6-scale"):
        return float(final["rss_bytes"]) / 2**20
    return outcome.wall_seconds * 1e3  # CLI scenarios: the whole process


class Suite:
    """One benchmark run; ``results`` is what ends up in the JSON file."""

    def __init__(self, plan: Plan, clients: list[Client], progress: Callable[[str], None]) -> None:
        self.plan = plan
        self.clients = clients
        self.progress = progress
        self.spawner = Spawner()
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.setup: dict[str, Any] = {}
        self.server_version = ""
        self.tool_versions: dict[str, str] = {}
        self.contenders: dict[str, dict[str, Any]] = {}

    # -- bookkeeping ----------------------------------------------------------------------

    def _scenario(self, key: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.scenarios.setdefault(key, {"params": params, "runs": [], "skipped": {}})

    def _record(
        self, key: str, name: str, rep: int, position: int, outcome: Outcome, **extra: Any
    ) -> None:
        final = dict(outcome.final)
        run: dict[str, Any] = {
            "client": name,
            "rep": rep,
            "position": position,
            "ok": outcome.ok,
            "wall_seconds": outcome.wall_seconds,
            "peak_rss_bytes": outcome.peak_rss_bytes,
        }
        if "size" in extra:
            run["size"] = extra["size"]
        if outcome.ok:
            for field in ("seconds", "count", "rss_bytes"):
                if field in final:
                    run[field] = final.pop(field)
            final.pop("ok", None)
            run["value"] = _value(key, outcome)
            run["extra"] = {**final, **extra}
        else:
            run["error"] = outcome.error
            run["stderr_tail"] = outcome.stderr_tail[-2000:]
        self.scenarios[key]["runs"].append(run)
        shown = f"{run['value']:.4g}" if outcome.ok else f"FAILED: {outcome.error[:200]}"
        at = f" at {extra['size']:,} Pods" if "size" in extra else ""
        self.progress(f"{key} {name} rep {rep + 1}{at}: {shown}")

    def _rounds(
        self, key: str, names: list[str], reps: int, one: Callable[[str, int, int], None]
    ) -> None:
        """``reps`` rounds over ``names``, the order reversed every other round."""
        for rep in range(reps):
            order = names if rep % 2 == 0 else list(reversed(names))
            for position, name in enumerate(order):
                self.progress(f"{key} {name} rep {rep + 1}/{reps}")
                one(name, rep, position)

    def _library_clients(self, key: str) -> list[Client]:
        entry = self.scenarios[key]
        usable = []
        for client in self.clients:
            if key not in client.scenarios:
                continue
            if client.unavailable:
                entry["skipped"][client.name] = f"not available: {client.unavailable}"
                continue
            usable.append(client)
        return usable

    def _library(self, key: str, params: dict[str, Any], reps: int | None = None) -> None:
        """A library scenario: every client runs ``key`` with the same params."""
        self._scenario(key, params)
        by_name = {c.name: c for c in self._library_clients(key)}

        def one(name: str, rep: int, position: int) -> None:
            client = by_name[name]
            run_params = {**params, **client.params}
            if key == "S4":  # a fresh namespace per run, so every run creates the same names
                run_params["namespace"] = f"s4-{name.replace('_', '-')}-{rep}"
                asyncio.run(
                    dataset.fresh_namespace(Path(params["kubeconfig"]), run_params["namespace"])
                )
            outcome = self.spawner.run(
                client.argv(key, json.dumps(run_params)), timeout=RUN_TIMEOUT
            )
            self._record(key, name, rep, position, outcome)

        self._rounds(key, list(by_name), self.plan.reps if reps is None else reps, one)

    # -- phase A: API-only cluster, ConfigMaps ------------------------------------------------

    def configmap_phase(self, scenarios: frozenset[str] | None = None) -> None:
        """S1, S2, S5, S3, then S4 (``scenarios`` picks some of them)."""
        wanted = scenarios or frozenset({"S1", "S2", "S3", "S4", "S5"})
        plan = self.plan
        with Environment(api_only=True, progress=self.progress) as env:
            kubeconfig = env.cluster().kubeconfig
            self.server_version = str(env.cluster().admin.get("/version").get("gitVersion", ""))
            self.progress(f"creating {plan.configmaps:,} ConfigMaps")
            seconds = asyncio.run(dataset.configmaps(kubeconfig, LIST_NS, plan.configmaps, "cm-"))
            self.setup["configmaps"] = {"count": plan.configmaps, "seconds": seconds}
            seconds = asyncio.run(
                dataset.configmaps(kubeconfig, S3_NS, plan.s3_objects, "bench-s3-", {"bench": "s3"})
            )
            self.setup["s3_configmaps"] = {"count": plan.s3_objects, "seconds": seconds}
            base = {"kubeconfig": str(kubeconfig)}
            if "S1" in wanted:
                self._library("S1", {**base, "namespace": LIST_NS})
            if "S2" in wanted:
                self._library("S2", {**base, "namespace": LIST_NS, "size": plan.configmaps})
            if "S5" in wanted:
                self._library(
                    "S5", {**base, "namespace": LIST_NS, "size": plan.s5_gets, "name": "cm-0"}
                )
            if "S3" in wanted:
                self._watch_lag(kubeconfig)
            if "S4" in wanted:  # last: it leaves reps x clients x creates objects behind
                self._library(
                    "S4", {**base, "size": plan.s4_creates, "concurrency": plan.s4_concurrency}
                )

    def _watch_lag(self, kubeconfig: Path) -> None:
        plan = self.plan
        params = {
            "kubeconfig": str(kubeconfig),
            "namespace": S3_NS,
            "size": plan.s3_objects,
            "duration": plan.s3_seconds + 0.5,  # the window outlasts the writer a little
            "label_selector": "bench=s3",
        }
        entry = self._scenario("S3", params)
        try:
            writer = go_binary("clientgo")
        except Exception as err:
            for client in self.clients:
                entry["skipped"][client.name] = f"not available: the Go writer ({err})"
            return
        by_name = {c.name: c for c in self._library_clients("S3")}
        writer_params = json.dumps({**params, "duration": plan.s3_seconds, "label_selector": ""})

        def one(name: str, rep: int, position: int) -> None:
            written: dict[str, Any] = {}

            def start_writer() -> None:
                done = subprocess.run(
                    [str(writer), "writer", writer_params],
                    capture_output=True,
                    text=True,
                    timeout=plan.s3_seconds + 120,
                    check=False,
                )
                lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
                written.update(
                    json.loads(lines[-1]) if lines else {"ok": False, "error": done.stderr[-500:]}
                )

            outcome = self.spawner.run(
                by_name[name].argv("S3", json.dumps(params)),
                timeout=plan.s3_seconds + RUN_TIMEOUT,
                on_ready=start_writer,
            )
            if outcome.ok and not written.get("ok"):
                outcome.final = {"ok": False, "error": f"writer failed: {written.get('error')}"}
            writes = int(written.get("count", 0))
            events = int(outcome.final.get("count", 0))
            self._record(
                "S3", name, rep, position, outcome, writes=writes, missed=max(0, writes - events)
            )

        self._rounds("S3", list(by_name), plan.s3_reps, one)

    # -- phase C: API-only cluster, kubeops respond against a watch loop ----------------------

    def respond_phase(self, scenarios: frozenset[str] | None = None) -> None:
        """S9: event to action under a storm, each contender its own process; then S12:
        kubeops' daemon through Kafka beside its in-process path, on the same cluster."""
        wanted = {"S9", "S12"} if scenarios is None else {"S9", "S12"} & scenarios
        if not wanted:
            return
        with Environment(api_only=True, progress=self.progress) as env:
            kubeconfig = env.cluster().kubeconfig
            self.server_version = self.server_version or str(
                env.cluster().admin.get("/version").get("gitVersion", "")
            )
            if "S9" in wanted:
                self._event_to_action(kubeconfig)
            if "S12" in wanted:
                self._bus(kubeconfig)

    def _event_to_action(self, kubeconfig: Path) -> None:
        """S9: kubeops' daemon and a hand-written watch loop, each its own process."""
        plan = self.plan
        asyncio.run(s9.prepare(kubeconfig))
        settings = s9.Settings(plan.s9_seconds, plan.s9_storm_per_minute, plan.s9_probe_interval)
        self._scenario("S9", {"settings": settings.__dict__, "namespace": s9.NAMESPACE})
        by_name = {c.name: c for c in self._library_clients("S9")}

        def one(name: str, rep: int, position: int) -> None:
            client = by_name[name]
            result = s9.run(lambda raw: client.argv("S9", raw), kubeconfig, settings)
            run: dict[str, Any] = {
                "client": name,
                "rep": rep,
                "position": position,
                "ok": result.ok,
                "wall_seconds": result.wall_seconds,
                "peak_rss_bytes": result.peak_rss_bytes,
            }
            if result.ok:
                run["rss_bytes"] = result.rss_bytes
                run["value"] = result.p99_ms
                run["extra"] = result.extra()
                shown = (
                    f"p99 {result.p99_ms:.0f} ms, {result.missed} missed, "
                    f"CPU {run['extra']['cpu_percent']}%, RSS {result.rss_bytes / 2**20:.0f} MiB"
                )
            else:
                run["error"] = result.error
                run["stderr_tail"] = result.stderr_tail[-2000:]
                shown = f"FAILED: {result.error[:200]}"
            self.scenarios["S9"]["runs"].append(run)
            self.progress(f"S9 {name} rep {rep + 1}: {shown}")

        self._rounds("S9", list(by_name), plan.s9_reps, one)

    def _bus(self, kubeconfig: Path) -> None:
        """S12: each arm (no bus, bus with 1 replica, with 3) on one broker of its own."""
        plan = self.plan
        settings = s12.Settings(
            plan.s12_seconds,
            plan.s12_storm_per_minute,
            plan.s12_probe_interval,
            plan.s12_burst,
            plan.s12_burst_timeout,
        )
        entry = self._scenario(
            "S12",
            {"settings": settings.__dict__, "namespace": s12.NAMESPACE, "partitions": s12.PARTITIONS,
             "qps": s12.QPS, "arms": {a: s12.ARMS[a] for a in plan.s12_arms}},
        )  # fmt: skip
        version = next((c.version for c in self.clients if c.group == "kubeops"), "")
        for arm, label in s12.LABELS.items():
            self.contenders[arm] = {"label": label, "group": "kubeops", "version": version}
        [daemon] = [c for c in self.clients if c.name == "kubeops-respond"] or [None]
        if daemon is None or daemon.unavailable:
            why = daemon.unavailable if daemon else "kubeops-respond is not among --clients"
            for arm in plan.s12_arms:
                entry["skipped"][arm] = f"not available: {why}"
            return
        asyncio.run(s12.prepare(kubeconfig))
        with tempfile.TemporaryDirectory(prefix="bench-kafka-") as run_dir:
            try:
                broker = s12.broker(Path(run_dir), self.progress, plan.mode == "smoke")
            except Exception as err:  # the in-process arm still runs
                self.progress(f"S12: no broker: {type(err).__name__}: {err}")
                for arm in plan.s12_arms:
                    if s12.ARMS[arm]:
                        entry["skipped"][arm] = f"not available: the broker ({err})"
                broker = None
            if broker is not None:
                self.tool_versions["kafka"] = s12.kafka_version()
            bootstrap = str(broker.bootstrap) if broker is not None else None
            arms = [a for a in plan.s12_arms if a not in entry["skipped"]]

            def one(arm: str, rep: int, position: int) -> None:
                result = s12.run(
                    lambda raw: daemon.argv("S12", raw), kubeconfig, settings, arm, bootstrap
                )
                run: dict[str, Any] = {
                    "client": arm,
                    "rep": rep,
                    "position": position,
                    "ok": result.ok,
                    "wall_seconds": result.wall_seconds,
                    "peak_rss_bytes": result.peak_rss_bytes,
                }
                if result.ok:
                    run["rss_bytes"] = result.rss_bytes
                    run["value"] = result.p99_ms
                    run["extra"] = result.extra()
                    shown = (
                        f"p99 {result.p99_ms:.0f} ms, {result.missed} missed,"
                        f" burst {result.actions_per_second:.0f} actions/s"
                        f" ({result.burst_actions}/{settings.burst}),"
                        f" {result.duplicates} duplicates, CPU {run['extra']['cpu_percent']}%,"
                        f" RSS {result.rss_bytes / 2**20:.0f} MiB"
                    )
                else:
                    run["error"] = result.error
                    run["stderr_tail"] = result.stderr_tail[-2000:]
                    shown = f"FAILED: {result.error[:200]}"
                self.scenarios["S12"]["runs"].append(run)
                self.progress(f"S12 {arm} rep {rep + 1}: {shown}")

            try:
                self._rounds("S12", arms, plan.s12_reps, one)
            finally:
                if broker is not None:
                    broker.close()

    # -- phase D: API-only clusters (hub, source, targets), multi-cluster sync ---------------

    def sync_phase(self, scenarios: frozenset[str] | None = None) -> None:
        """S10: the comparison at the first number of targets (each run with an outage),
        then kubeops' engine and the floor at each further number (growth)."""
        if scenarios is not None and "S10" not in scenarios:
            return
        plan = self.plan
        sizes = plan.s10_targets
        settings = s10.Settings(
            deployments=plan.s10_deployments,
            changes=plan.s10_changes,
            rate=plan.s10_rate,
            outage_seconds=plan.s10_outage_seconds,
            converge_timeout=plan.s10_converge_timeout,
            catchup_timeout=plan.s10_catchup_timeout,
        )
        entry = self._scenario(
            "S10",
            {"settings": s10.settings_dict(settings), "namespace": s10.fleet.NAMESPACE,
             "sizes": list(sizes)},
        )  # fmt: skip
        start = time.perf_counter()
        with Environment(s10.env_names(max(sizes)), api_only=True, progress=self.progress) as env:
            self.setup["s10_clusters_start_seconds"] = time.perf_counter() - start
            self.server_version = self.server_version or str(
                env.cluster().admin.get("/version").get("gitVersion", "")
            )
            source = env.cluster(s10.SOURCE)
            targets = [env.cluster(name) for name in s10.target_names(max(sizes))]
            made = time.perf_counter()
            revisions = asyncio.run(s10.fleet.make_source(source.kubeconfig, settings.deployments))
            self.setup["s10_source_deployments"] = {
                "count": settings.deployments,
                "seconds": time.perf_counter() - made,
            }
            for target in targets[sizes[0] :]:  # idle API servers would take CPU from the runs
                target.stop_apiserver()
            changes = s10.Changes(source, revisions)
            contenders = self._s10_contenders(env, entry)
            self._s10_rounds(
                contenders, targets[: sizes[0]], changes, settings, plan.s10_reps, True
            )
            # Growth: the engine, and the floor beside it (what the machine itself does with
            # more targets, so the engine's growth can be told from the two cores').
            growing = [c for c in contenders if c.name in ("kubeops-sync-run", "floor-sync")]
            for before, size in itertools.pairwise(sizes):
                for target in targets[before:size]:
                    target.start_apiserver()
                self._s10_rounds(
                    growing, targets[:size], changes, settings, plan.s10_growth_reps, False
                )
        s10.summarise(entry, sizes[0])

    def _s10_contenders(self, env: Environment, entry: dict[str, Any]) -> list[s10.Contender]:
        by_name = {c.name: c for c in self._library_clients("S10")}
        source = env.cluster(s10.SOURCE)
        contenders: list[s10.Contender] = []
        for name, client in by_name.items():

            def argv_for(raw: str, client: Client = client) -> list[str]:
                return client.argv("S10", raw)

            if name == "kubeops-sync-run":
                why = s10.EngineContender.available()
                if why:
                    entry["skipped"][name] = f"not available: {why}"
                    continue
                engine = s10.EngineContender(argv_for, env.cluster(s10.HUB), source)
                try:
                    engine.install()
                except Exception as err:  # the others still run
                    entry["skipped"][name] = f"not available: {err}"
                    continue
                contenders.append(engine)
            else:
                contenders.append(s10.StdinContender(name, argv_for, source))
        return contenders

    def _s10_rounds(
        self,
        contenders: list[s10.Contender],
        targets: list[Any],
        changes: s10.Changes,
        settings: s10.Settings,
        reps: int,
        outage: bool,
    ) -> None:
        by_name = {c.name: c for c in contenders}

        def one(name: str, rep: int, position: int) -> None:
            record = asyncio.run(
                s10.measure(by_name[name], targets, changes, settings, outage, self.progress)
            )
            record = {"client": name, "rep": rep, "position": position, **record}
            record.setdefault("peak_rss_bytes", 0)
            self.scenarios["S10"]["runs"].append(record)
            shown = (
                f"converged in {record['value']:.2f}s"
                if record["ok"]
                else f"FAILED: {record['error'][:200]}"
            )
            self.progress(f"S10 {name} rep {rep + 1} at {len(targets)} targets: {shown}")

        self._rounds(f"S10 at {len(targets)} targets:", list(by_name), reps, one)

    # -- phase E: policy as code, CI gate and admission (S11) ---------------------------------

    def policy_phase(self, scenarios: frozenset[str] | None = None) -> None:
        """S11: `kubeops policy test` beside conftest, then admission latency on an API-only
        cluster with no policy, the API server's own VAPs and kubeops' webhook."""
        if scenarios is not None and "S11" not in scenarios:
            return
        s11.run_phase(self)

    # -- phase B: full cluster, Pods on kwok nodes -------------------------------------------

    def pod_phase(self, scenarios: frozenset[str] | None = None) -> None:
        """S7, S8, S6, then S6-scale at each size, Pods added in steps between them
        (``scenarios`` picks some of them; the Pods each needs are created anyway)."""
        plan = self.plan
        wanted = scenarios or frozenset(POD_SCENARIOS)
        steps: list[tuple[str, int]] = [
            ("S7", plan.s7_pods),
            ("S8", plan.s8_pods),
            ("S6", plan.s6_pods),
            *(("S6-scale", size) for size in plan.scale_sizes),
        ]
        steps = [(key, size) for key, size in steps if key in wanted]
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="bench-kwok-") as config_dir:
            kwok_config = Path(config_dir) / "kwok.yaml"
            kwok_config.write_text(KWOK_CONFIG)
            self._pod_steps(steps, kwok_config, start)

    def _pod_steps(self, steps: list[tuple[str, int]], kwok_config: Path, start: float) -> None:
        plan = self.plan
        with Environment(
            nodes=plan.nodes,
            start_timeout=600,
            progress=self.progress,
            extra_args={"kwok": [f"--config={kwok_config}"]},
        ) as env:
            self.setup["full_cluster_start_seconds"] = time.perf_counter() - start
            kubeconfig = env.cluster().kubeconfig
            created = 0
            for key, target in steps:
                if target > created:
                    try:
                        self._add_pods(kubeconfig, key, created, target)
                    except Exception as err:
                        if key != "S6-scale":
                            raise
                        # The largest sizes must not cost the rest of the run its results.
                        self._scale_failed(kubeconfig, target, err)
                        break
                    created = target
                if key == "S7":
                    self._cli(kubeconfig)
                elif key == "S8":
                    self._inspect(kubeconfig)
                elif key == "S6":
                    self._library("S6", {"kubeconfig": str(kubeconfig), "size": plan.s6_pods})
                else:
                    self._scale(kubeconfig, target)

    def _add_pods(self, kubeconfig: Path, key: str, created: int, target: int) -> None:
        plan = self.plan
        self.progress(f"creating Pods {created:,}..{target - 1:,} on {plan.nodes} kwok nodes")
        made = asyncio.run(
            dataset.pods(kubeconfig, created, target - created, plan.pods_per_namespace, plan.nodes)
        )
        self.progress(f"{target - created:,} Pods created in {made:.1f}s; waiting for Running")
        running = asyncio.run(
            dataset.wait_running(kubeconfig, target, timeout=1800, progress=self.progress)
        )
        name = f"pods_for_{key}" if key != "S6-scale" else f"pods_for_S6-scale_{target}"
        self.setup[name] = {
            "count": target - created,
            "create_seconds": made,
            "then_running_seconds": running,
        }
        self.progress(
            f"{target - created:,} Pods created in {made:.1f}s, all Running {running:.1f}s later"
        )

    def _scale(self, kubeconfig: Path, size: int) -> None:
        """S6-scale at one size: the S6 runner of each growth client, ``scale_reps`` times."""
        plan = self.plan
        entry = self._scenario(
            "S6-scale",
            {
                "kubeconfig": str(kubeconfig),
                "sizes": list(plan.scale_sizes),
                "reps": list(plan.scale_reps),
            },
        )
        usable = {c.name: c for c in self._library_clients("S6-scale")}
        peer = self._best_peer(entry)
        names = [n for n in (*SCALE_CLIENTS, peer) if n and n in usable]
        reps = plan.scale_reps[plan.scale_sizes.index(size)]

        def one(name: str, rep: int, position: int) -> None:
            client = usable[name]
            params = {"kubeconfig": str(kubeconfig), "size": size, **client.params}
            outcome = self.spawner.run(client.argv("S6", json.dumps(params)), timeout=RUN_TIMEOUT)
            self._record("S6-scale", name, rep, position, outcome, size=size)

        self._rounds(f"S6-scale at {size:,} Pods:", names, reps, one)

    def _scale_failed(self, kubeconfig: Path, size: int, err: Exception) -> None:
        """Record why S6-scale stops short of ``size`` Pods."""
        entry = self._scenario("S6-scale", {"kubeconfig": str(kubeconfig)})
        entry["params"]["stopped_at"] = size
        entry["params"]["stopped_because"] = f"{type(err).__name__}: {err}"
        self.progress(f"S6-scale stops before {size:,} Pods: {type(err).__name__}: {err}")

    def _best_peer(self, entry: dict[str, Any]) -> str | None:
        """The Python peer with the lightest S6 cache in this run (lightkube when S6 did
        not run), chosen once for every S6-scale size."""
        if "best_peer" not in entry["params"]:
            peers = {c.name for c in self.clients if c.group == "peer" and not c.unavailable}
            s6 = [
                r
                for r in self.scenarios.get("S6", {}).get("runs", [])
                if r["ok"] and r["client"] in peers
            ]
            by_client: dict[str, list[float]] = {}
            for run in s6:
                by_client.setdefault(run["client"], []).append(run["value"])
            if by_client:
                best = min(by_client, key=lambda n: statistics.median(by_client[n]))
                why = "the lightest Python peer in this run's S6"
            else:
                best = DEFAULT_PEER if DEFAULT_PEER in peers else ""
                why = "S6 did not run: the lightest Python peer in earlier runs"
            entry["params"]["best_peer"] = best
            entry["params"]["best_peer_reason"] = why
            for client in self.clients:
                if client.group == "peer" and client.name != best:
                    entry["skipped"].setdefault(
                        client.name,
                        f"not measured: only the best Python peer ({best or 'none'}) is",
                    )
        return str(entry["params"]["best_peer"]) or None

    def _kubeops_cli(self) -> str:
        return str(Path(sys.executable).with_name("kubeops"))

    def _cli(self, kubeconfig: Path) -> None:
        kubectl = str(ensure_assets(["kubectl"]).path("kubectl"))
        self.tool_versions["kubectl"] = _kubectl_version(kubectl)
        kubeops = self._kubeops_cli()
        commands = {
            "S7": {
                "kubeops": [kubeops, "get", "pods", "-A", "--kubeconfig", str(kubeconfig)],
                "kubectl": [kubectl, "--kubeconfig", str(kubeconfig), "get", "pods", "-A"],
            },
            "S7-startup": {
                "kubeops": [kubeops, "--version"],
                "kubectl": [kubectl, "version", "--client"],
            },
        }
        self.contenders["kubeops"] = {"label": "kubeops (CLI)", "group": "kubeops"}
        self.contenders["kubectl"] = {
            "label": "kubectl",
            "group": "go",
            "version": self.tool_versions["kubectl"],
        }
        for key, argvs in commands.items():
            self._scenario(key, {"pods": self.plan.s7_pods, "commands": argvs})
            self._process_rounds(key, argvs, ok_codes=(0,))

    def _inspect(self, kubeconfig: Path) -> None:
        entry = self._scenario("S8", {"pods": self.plan.s8_pods, "nodes": self.plan.nodes})
        out = Path(tempfile.mkdtemp(prefix="bench-s8-"))
        argvs: dict[str, list[str]] = {}
        kubeops = self._kubeops_cli()
        probe = subprocess.run([kubeops, "inspect", "--help"], capture_output=True, check=False)
        self.contenders["kubeops-inspect"] = {"label": "kubeops inspect", "group": "kubeops"}
        self.contenders["popeye"] = {"label": "Popeye", "group": "go"}
        if probe.returncode == 0:
            argvs["kubeops-inspect"] = [
                kubeops,
                "inspect",
                "--kubeconfig",
                str(kubeconfig),
                "--format",
                "json",
                "--out",
                str(out / "kubeops.json"),
            ]
        else:
            entry["skipped"]["kubeops-inspect"] = (
                "not available: `kubeops inspect` does not exist yet"
            )
        try:
            popeye = str(go_binary("popeye"))
            self.tool_versions["popeye"] = _popeye_version(popeye)
            self.contenders["popeye"]["version"] = self.tool_versions["popeye"]
            argvs["popeye"] = popeye_command(popeye, kubeconfig, out)
        except Exception as err:
            entry["skipped"]["popeye"] = f"not available: {err}"
        entry["params"]["commands"] = argvs
        try:
            if argvs:
                self._process_rounds(
                    "S8",
                    argvs,
                    ok_codes=(0, 1),
                    env_extra={"POPEYE_REPORT_DIR": str(out)},
                    reps=self.plan.s8_reps,
                )
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def _process_rounds(
        self,
        key: str,
        argvs: dict[str, list[str]],
        ok_codes: tuple[int, ...],
        env_extra: dict[str, str] | None = None,
        reps: int | None = None,
    ) -> None:
        env = {**os.environ, **(env_extra or {})}

        def one(name: str, rep: int, position: int) -> None:
            outcome = self.spawner.run(argvs[name], timeout=RUN_TIMEOUT, env=env, read_lines=False)
            if outcome.returncode in ok_codes:
                outcome.final = {"ok": True}
                outcome.returncode = 0
            else:
                outcome.final = {
                    "ok": False,
                    "error": f"exit code {outcome.returncode}: {outcome.stderr_tail[-300:]}",
                }
            self._record(key, name, rep, position, outcome)

        self._rounds(key, list(argvs), reps or self.plan.reps, one)

    # -- summaries ------------------------------------------------------------------------------

    def summarise(self) -> None:
        for key, entry in self.scenarios.items():
            if key == "S10":
                continue  # summarised by sync_phase (s10.summarise)
            by_client: dict[str, list[dict[str, Any]]] = {}
            for run in entry["runs"]:
                by_client.setdefault(run["client"], []).append(run)
            if key == "S6-scale":
                _summarise_sizes(entry, by_client)
                continue
            entry["summary"] = {
                name: _stats(runs, pooled_lags=key in ("S3", "S9", "S12") or name in s11.ARMS)
                for name, runs in by_client.items()
            }
            if key == "S11":
                s11.compare(entry)
            if key == "S12":
                s12.compare(entry)
            if key == "S9":
                for name, runs in by_client.items():
                    good = [r for r in runs if r["ok"]]
                    entry["summary"][name]["process"] = {
                        "cpu_percent": summary([r["extra"]["cpu_percent"] for r in good]),
                        "rss_mib": summary([r["rss_bytes"] / 2**20 for r in good]),
                        "peak_rss_mib": summary([r["peak_rss_bytes"] / 2**20 for r in good]),
                        "storm_per_minute": summary([r["extra"]["storm_per_minute"] for r in good]),
                    }


def _stats(runs: list[dict[str, Any]], pooled_lags: bool = False) -> dict[str, Any]:
    """Median, min and max of the runs' values, with process wall and peak RSS medians."""
    good = [r for r in runs if r["ok"]]
    stats: dict[str, Any] = {
        **summary([r["value"] for r in good]),
        "runs": len(runs),
        "failed": len(runs) - len(good),
        "wall_seconds_median": summary([r["wall_seconds"] for r in runs]).get("median"),
        "peak_rss_mib_median": (summary([r["peak_rss_bytes"] for r in runs]).get("median") or 0)
        / 2**20,
    }
    if pooled_lags and good:
        lags = [lag for r in good for lag in r["extra"].get("lags_ms", [])]
        stats["pooled"] = {
            "events": len(lags),
            "p50": percentile(lags, 50),
            "p99": percentile(lags, 99),
            "max": max(lags) if lags else None,
            "writes": sum(r["extra"].get("writes", 0) for r in good),
            "missed": sum(r["extra"].get("missed", 0) for r in good),
        }
    return stats


def _summarise_sizes(entry: dict[str, Any], by_client: dict[str, list[dict[str, Any]]]) -> None:
    """S6-scale: ``by_size[client][size]`` holds the RSS (value) and sync-time statistics at
    each size; ``summary`` is the largest size's, which the targets judge."""
    entry["by_size"] = {}
    entry["summary"] = {}
    for name, runs in by_client.items():
        sizes: dict[str, Any] = {}
        for size in sorted({int(r["size"]) for r in runs}):
            at = [r for r in runs if r["size"] == size]
            stats = _stats(at)
            seconds = summary([float(r["seconds"]) for r in at if r["ok"]])
            stats["sync_seconds"] = seconds
            sizes[str(size)] = stats
        entry["by_size"][name] = sizes
        if sizes:
            entry["summary"][name] = sizes[max(sizes, key=int)]


def popeye_command(popeye: str, kubeconfig: Path, out: Path) -> list[str]:
    """Popeye over every namespace, its JSON report saved to a file, logs out of the way."""
    return [
        popeye,
        "--kubeconfig",
        str(kubeconfig),
        "--all-namespaces",
        "--out",
        "json",
        "--save",
        "--output-file",
        "popeye.json",
        "--logs",
        str(out / "popeye.log"),
    ]


def _kubectl_version(kubectl: str) -> str:
    done = subprocess.run(
        [kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False
    )
    try:
        return str(json.loads(done.stdout)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError):
        return done.stdout.strip() or "unknown"


def _popeye_version(popeye: str) -> str:
    done = subprocess.run([popeye, "version"], capture_output=True, text=True, check=False)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    found = re.search(r"Version:\s*(\S+)", plain)
    return found.group(1) if found else "unknown"
