"""S11: policy as code, at CI time and at admission.

Part 1 (``ci``): ``kubeops policy test`` over the generated corpus with the 30 policies
as Rego and as CEL, and conftest with the same Rego, each a whole process (wall, peak
RSS and CPU from the kernel), in alternating order.  A run counts only if it finds the
answer key's number of failures.

Part 2 (``admission``): on an API-only cluster, the Go load generator creates the same
objects at a fixed rate (open loop) in a namespace of each arm's own: no policy at all,
the 30 policies registered as native ValidatingAdmissionPolicies, or served by
``kubeops policy webhook``.  Latency is the create's, taken from its scheduled time; a
run counts only if the policies denied exactly the requests the answer key denies.
Beside that end-to-end figure, what the API server itself waited for: its trace span
around each webhook call, and its admission histograms (:mod:`harness.s11_trace`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import dataset, s11_corpus, s11_trace
from harness.procfs import alive, cpu_seconds, memory, stop
from harness.s9 import free_port
from harness.s11_rules import RULES
from harness.stats import percentile

CI = (
    "kubeops-policy-rego",
    "kubeops-policy-cel",
    "conftest",
    "kubeops-policy-rego-packages",
    "conftest-packages",
)
# Whom each CI contender is compared with: conftest on the same layout of the Rego.
PEER = {
    "kubeops-policy-rego": "conftest",
    "kubeops-policy-cel": "conftest",
    "conftest": "conftest",
    "kubeops-policy-rego-packages": "conftest-packages",
    "conftest-packages": "conftest-packages",
}
ARMS = ("no-policy", "apiserver-vap", "kubeops-webhook")
ARM_LABEL = "bench-s11-arm"
NAMESPACE_PREFIX = "bench-s11"
WEBHOOK_CONFIGURATION = "bench-s11"
READY_TIMEOUT = 90.0
RUN_TIMEOUT = 900.0
CONTENDERS = {
    "kubeops-policy-rego": {"label": "kubeops policy test (Rego)", "group": "kubeops"},
    "kubeops-policy-cel": {"label": "kubeops policy test (CEL)", "group": "kubeops"},
    "conftest": {"label": "conftest", "group": "go"},
    "kubeops-policy-rego-packages": {
        "label": "kubeops policy test (Rego, a package per policy)",
        "group": "kubeops",
    },
    "conftest-packages": {
        "label": "conftest --all-namespaces (a package per policy)",
        "group": "go",
    },
    "no-policy": {"label": "no policy (baseline)", "group": "floor"},
    "apiserver-vap": {"label": "API server ValidatingAdmissionPolicy", "group": "go"},
    "kubeops-webhook": {"label": "kubeops policy webhook", "group": "kubeops"},
}


@dataclass(frozen=True)
class Settings:
    """One S11 run's sizes."""

    manifests: int
    reps: int
    rate: float
    seconds: float
    warmup: float
    admission_reps: int


def settings_dict(settings: Settings) -> dict[str, Any]:
    """The settings as the results file keeps them."""
    return asdict(settings) | {"policies": len(RULES)}


# -- part 1: the CI gate, whole processes ----------------------------------------------------


def ci_commands(
    kubeops: str, conftest: str | None, corpus: s11_corpus.Corpus
) -> dict[str, list[str]]:
    """Each contender's command line over ``corpus`` (JSON on stdout, kept to count)."""
    policy_test = [kubeops, "policy", "test", "-f", str(corpus.manifests), "--no-builtins"]
    json_out = ["-o", "json", "-q"]
    argvs = {
        "kubeops-policy-rego": [*policy_test, "--policies", str(corpus.rego), *json_out],
        "kubeops-policy-cel": [*policy_test, "--policies", str(corpus.vap), *json_out],
    }
    if conftest is not None:
        conftest_test = [conftest, "test", "--no-color", "--output", "json"]
        argvs["conftest"] = [
            *conftest_test, "--policy", str(corpus.rego), str(corpus.manifests)
        ]  # fmt: skip
    argvs["kubeops-policy-rego-packages"] = [
        *policy_test, "--policies", str(corpus.rego_packages), *json_out
    ]  # fmt: skip
    if conftest is not None:
        argvs["conftest-packages"] = [
            *conftest_test, "--all-namespaces", "--policy", str(corpus.rego_packages),
            str(corpus.manifests),
        ]  # fmt: skip
    return argvs


# Exit codes that mean "ran, found violations or not".
OK_CODES = {name: (0, 1) if name.startswith("conftest") else (0, 2) for name in CI}


def count_failures(name: str, text: str) -> int:
    """How many (object, policy) failures a contender's JSON reports."""
    data = json.loads(text)
    if name.startswith("conftest"):
        return sum(len(entry.get("failures") or []) for entry in data)
    return sum(
        1 for f in data.get("findings", []) if "Deny" in f.get("policy", {}).get("actions", [])
    )


def judge_ci(name: str, returncode: int, stdout: str, expected: int) -> dict[str, Any]:
    """The final word on one CI run: ok only when it found the answer key's failures."""
    if returncode not in OK_CODES[name]:
        return {"ok": False, "error": f"exit code {returncode}"}
    try:
        found = count_failures(name, stdout)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return {"ok": False, "error": f"unreadable JSON output: {type(err).__name__}: {err}"}
    if found != expected:
        return {
            "ok": False,
            "error": f"found {found} failures; the answer key (and conftest) say {expected}",
            "failures": found,
        }
    return {"ok": True, "failures": found, "exit_code": returncode}


# -- part 2: admission latency ----------------------------------------------------------------


@dataclass
class Admission:
    """What one arm's run measured."""

    ok: bool
    error: str = ""
    lags_ms: list[float] | None = None
    outcomes: list[str] | None = None
    extra: dict[str, Any] | None = None
    peak_rss_bytes: int = 0
    rss_bytes: int = 0
    wall_seconds: float = 0.0
    stderr_tail: str = ""


def namespace_name(arm: str, rep: int) -> str:
    return f"{NAMESPACE_PREFIX}-{arm}-{rep}"


async def _namespace(kubeconfig: Path, name: str, arm: str) -> None:
    async with dataset.client(kubeconfig) as c:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {ARM_LABEL: arm}},
        }
        with contextlib.suppress(dataset.AlreadyExists):
            await c.create(body)


async def _until_denied(kubeconfig: Path, namespace: str, deadline: float, pid: int | None) -> str:
    """Create a ConfigMap every policy-bearing arm denies until it is denied ("" then),
    or say why not."""
    async with dataset.client(kubeconfig) as c:
        attempt = 0
        while time.monotonic() < deadline:
            if pid is not None and not alive(pid):
                return "the webhook exited before it denied anything"
            attempt += 1
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"s11-probe-{attempt}"},
                "data": {"a": "b"},
            }
            try:
                await c.create(body, namespace)
            except Exception as err:
                if "owner-label" in str(err):
                    return ""
            await asyncio.sleep(0.5)
        return f"the policies denied nothing within {READY_TIMEOUT:.0f}s"


async def _clean(kubeconfig: Path, namespace: str) -> None:
    """Delete what a run created (not timed), so later runs see a store of the same size."""
    async with dataset.client(kubeconfig) as c:
        for kind in ("configmaps", "deployments.apps", "services"):
            with contextlib.suppress(Exception):
                await c.delete_collection(kind, namespace)


def register_vaps(kubeconfig: Path) -> list[tuple[str, str]]:
    """The 30 policies as native VAPs, bound to the VAP arm's namespaces only."""
    made: list[tuple[str, str]] = []

    async def create() -> None:
        async with dataset.client(kubeconfig) as c:
            for index, rule in enumerate(RULES):
                for doc in s11_corpus.vap_documents(index, rule, {ARM_LABEL: "apiserver-vap"}):
                    with contextlib.suppress(dataset.AlreadyExists):
                        await c.create(doc)
                    made.append((doc["kind"], doc["metadata"]["name"]))

    asyncio.run(create())
    return made


PLURALS = {
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies.admissionregistration.k8s.io",
    "ValidatingAdmissionPolicyBinding": (
        "validatingadmissionpolicybindings.admissionregistration.k8s.io"
    ),
}


def unregister_vaps(kubeconfig: Path, made: list[tuple[str, str]]) -> None:
    """Delete what :func:`register_vaps` created."""

    async def delete() -> None:
        async with dataset.client(kubeconfig) as c:
            for kind, name in made:
                with contextlib.suppress(Exception):
                    await c.delete(PLURALS[kind], name)

    asyncio.run(delete())


def webhook_command(kubeops: str, kubeconfig: Path, vap_dir: Path, port: int) -> list[str]:
    """``kubeops policy webhook`` serving the CEL policies, registered for the webhook
    arm's namespaces only and unregistered when it stops."""
    return [
        kubeops,
        "policy",
        "webhook",
        str(vap_dir),
        "--no-builtins",
        "--kubeconfig",
        str(kubeconfig),
        "--listen",
        f"127.0.0.1:{port}",
        "--register",
        "--unregister-on-exit",
        "--configuration-name",
        WEBHOOK_CONFIGURATION,
        "--url",
        f"https://127.0.0.1:{port}/validate",
        "--namespace-selector",
        f"{ARM_LABEL}=kubeops-webhook",
    ]


def run_load(
    loader: str, kubeconfig: Path, namespace: str, load_file: Path, settings: Settings
) -> dict[str, Any]:
    """The Go load generator's final line (``ok`` false with the reason if it failed)."""
    params = {
        "kubeconfig": str(kubeconfig),
        "namespace": namespace,
        "file": str(load_file),
        "rate": settings.rate,
        "duration": settings.seconds,
        "warmup": settings.warmup,
    }
    done = subprocess.run(
        [loader, "load", json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=settings.warmup + settings.seconds + 180,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "error": f"load generator: {done.stderr[-500:]}"}
    return dict(json.loads(lines[-1]))


def judge_admission(arm: str, load: dict[str, Any], denies: list[bool]) -> str:
    """ "" when the arm denied exactly what it should (nothing for the baseline), else why."""
    if load.get("errors"):
        return f"{load['errors']} requests failed: {load.get('samples')}"
    warm = int(load["warmup"])
    wanted = [denies[(warm + i) % len(denies)] and arm != "no-policy" for i in range(load["count"])]
    got = [o == "denied" for o in load["outcomes"]]
    wrong = sum(1 for a, b in zip(wanted, got, strict=True) if a != b)
    if wrong:
        return (
            f"{wrong} of {len(got)} requests answered unlike the answer key"
            f" (first denials: {load.get('denials')})"
        )
    return ""


def measure_arm(
    arm: str,
    rep: int,
    *,
    kubeconfig: Path,
    apiserver_pid: int,
    loader: str,
    load_file: Path,
    denies: list[bool],
    settings: Settings,
    webhook_argv: Callable[[int], list[str]] | None,
    receiver: s11_trace.Receiver | None = None,
    scrape: Callable[[], str] | None = None,
) -> Admission:
    """One arm's run: its namespace, its webhook if it has one, the load, the verdict, and
    what the API server timed of it (its webhook-call spans, its admission histograms)."""
    namespace = namespace_name(arm, rep)
    asyncio.run(_namespace(kubeconfig, namespace, arm))
    started = time.perf_counter()
    proc: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryFile() as stderr:
        try:
            if arm == "kubeops-webhook":
                assert webhook_argv is not None
                proc = subprocess.Popen(
                    webhook_argv(free_port()),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    start_new_session=True,
                )
            if arm != "no-policy":
                why = asyncio.run(
                    _until_denied(
                        kubeconfig,
                        namespace,
                        time.monotonic() + READY_TIMEOUT,
                        proc.pid if proc else None,
                    )
                )
                if why:
                    raise RuntimeError(why)
            ready_seconds = time.perf_counter() - started
            pid = proc.pid if proc else apiserver_pid
            before = scrape() if scrape else ""
            cpu_api, cpu_own = cpu_seconds(apiserver_pid), cpu_seconds(pid)
            cpu_spans = cpu_seconds(receiver.pid) if receiver else 0.0
            load = run_load(loader, kubeconfig, namespace, load_file, settings)
            cpu_api, cpu_own = cpu_seconds(apiserver_pid) - cpu_api, cpu_seconds(pid) - cpu_own
            cpu_spans = cpu_seconds(receiver.pid) - cpu_spans if receiver else 0.0
            after = scrape() if scrape else ""
            rss, peak = memory(pid)
            if not load.get("ok"):
                raise RuntimeError(str(load.get("error")))
            if proc is not None and not alive(proc.pid):
                raise RuntimeError("the webhook exited during the load")
            wrong = judge_admission(arm, load, denies)
            lags = [float(v) for v in load["lags_ms"]]
            window = float(load["send_seconds"]) or 1.0
            warm = [float(v) for v in load.get("warmup_lags_ms") or []]
            extra = {
                "lags_ms": [round(v, 2) for v in lags],
                "warmup_p50_ms": percentile(warm, 50) if warm else None,
                "warmup_p99_ms": percentile(warm, 99) if warm else None,
                "p50_ms": percentile(lags, 50),
                "p99_ms": percentile(lags, 99),
                "allowed_p99_ms": percentile(
                    [v for v, o in zip(lags, load["outcomes"], strict=True) if o == "allowed"], 99
                ),
                "requests": load["count"],
                "allowed": load["allowed"],
                "denied": load["denied"],
                "errors": load["errors"],
                "rate_achieved": round((load["count"] + load["warmup"]) / window, 1),
                "ready_seconds": round(ready_seconds, 2),
                "apiserver_cpu_percent": round(cpu_api / window * 100, 1),
                "namespace": namespace,
            }
            if proc is not None:
                extra["webhook_cpu_percent"] = round(cpu_own / window * 100, 1)
                extra["webhook_rss_mib"] = round(rss / 2**20, 1)
            if receiver is not None:  # the measurement's own cost, the same in every arm
                extra["span_receiver_cpu_percent"] = round(cpu_spans / window * 100, 1)
            if scrape:
                extra["apiserver_histograms"] = s11_trace.plugin_figures(arm, before, after)
            if receiver is not None and arm == "kubeops-webhook":
                calls, matched_by = s11_trace.settled(receiver, load)
                extra["webhook_call"] = s11_trace.call_stats(calls) | {"matched_by": matched_by}
            result = Admission(
                ok=not wrong,
                error=wrong,
                lags_ms=lags,
                extra=extra,
                peak_rss_bytes=peak,
                rss_bytes=rss,
            )
        except Exception as err:
            result = Admission(ok=False, error=f"{type(err).__name__}: {err}")
        finally:
            if proc is not None:
                stop(proc)
            asyncio.run(_clean(kubeconfig, namespace))
        result.wall_seconds = time.perf_counter() - started
        if not result.ok:
            stderr.seek(0)
            result.stderr_tail = stderr.read()[-4000:].decode(errors="replace")
    return result


def expected_denied(denies: list[bool], settings: Settings) -> int:
    """How many measured requests the policies must deny."""
    warm = int(settings.warmup * settings.rate)
    count = int(settings.seconds * settings.rate)
    return sum(denies[(warm + i) % len(denies)] for i in range(count))


# -- the phase ----------------------------------------------------------------------------------


def settings_of(plan: Any) -> Settings:
    """S11's settings from a run's plan."""
    return Settings(
        manifests=plan.s11_manifests,
        reps=plan.s11_reps,
        rate=plan.s11_rate,
        seconds=plan.s11_seconds,
        warmup=plan.s11_warmup,
        admission_reps=plan.s11_admission_reps,
    )


def run_phase(suite: Any) -> None:
    """Both parts of S11 for ``suite`` (a :class:`harness.suite.Suite`)."""
    from harness.clients import go_binary

    settings = settings_of(suite.plan)
    entry = suite._scenario("S11", {"settings": settings_dict(settings)})
    suite.contenders.update({name: dict(c) for name, c in CONTENDERS.items()})
    with tempfile.TemporaryDirectory(prefix="bench-s11-") as tmp:
        out = Path(tmp)
        made = time.perf_counter()
        corpus = s11_corpus.generate(out / "corpus", settings.manifests)
        suite.setup["s11_corpus"] = {
            "manifests": corpus.objects,
            "files": corpus.files,
            "seconds": time.perf_counter() - made,
        }
        entry["params"].update(
            expected_failures=corpus.expected_failures,
            failing_objects=corpus.failing_objects,
            files=corpus.files,
        )
        conftest: str | None = None
        try:
            conftest = str(go_binary("conftest"))
            suite.tool_versions["conftest"] = conftest_version(conftest)
            suite.contenders["conftest"]["version"] = suite.tool_versions["conftest"]
        except Exception as err:
            entry["skipped"]["conftest"] = f"not available: {err}"
            entry["skipped"]["conftest-packages"] = f"not available: {err}"
        _ci_part(suite, entry, ci_commands(suite._kubeops_cli(), conftest, corpus), corpus, out)
        try:
            loader = str(go_binary("clientgo"))
        except Exception as err:
            for arm in ARMS:
                entry["skipped"][arm] = f"not available: the Go load generator ({err})"
            return
        _admission_part(suite, entry, settings, corpus, loader, out)


def conftest_version(conftest: str) -> str:
    """``v0.71.1`` from ``conftest --version``."""
    done = subprocess.run([conftest, "--version"], capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("Conftest:"):
            return line.split(":", 1)[1].strip()
    return done.stdout.strip() or "unknown"


def _ci_part(
    suite: Any,
    entry: dict[str, Any],
    argvs: dict[str, list[str]],
    corpus: s11_corpus.Corpus,
    out: Path,
) -> None:
    settings = settings_of(suite.plan)
    entry["params"]["commands"] = {
        name: [Path(argv[0]).name, *(_shown(arg, out) for arg in argv[1:])]
        for name, argv in argvs.items()
    }

    def one(name: str, rep: int, position: int) -> None:
        stdout = out / f"{name}.json"
        load_1m = os.getloadavg()[0]
        outcome = suite.spawner.run(
            argvs[name], timeout=RUN_TIMEOUT, read_lines=False, stdout=stdout
        )
        final = judge_ci(name, outcome.returncode, stdout.read_text(), corpus.expected_failures)
        run: dict[str, Any] = {
            "client": name,
            "part": "ci",
            "rep": rep,
            "position": position,
            "ok": bool(final["ok"]),
            "wall_seconds": outcome.wall_seconds,
            "peak_rss_bytes": outcome.peak_rss_bytes,
            "cpu_seconds": outcome.cpu_seconds,
            "loadavg_1m": round(load_1m, 2),
        }
        if run["ok"]:
            run["value"] = outcome.wall_seconds * 1e3
            run["extra"] = {"failures": final["failures"], "exit_code": final["exit_code"]}
            shown = (
                f"{outcome.wall_seconds:.2f} s, {outcome.peak_rss_bytes / 2**20:.0f} MiB,"
                f" CPU {outcome.cpu_seconds:.1f} s, {final['failures']} failures"
            )
        else:
            run["error"] = str(final["error"])
            run["stderr_tail"] = outcome.stderr_tail[-2000:]
            shown = f"FAILED: {run['error'][:200]} {outcome.stderr_tail[-300:]}"
        entry["runs"].append(run)
        suite.progress(f"S11 CI {name} rep {rep + 1}: {shown}")

    suite._rounds("S11 CI", list(argvs), settings.reps, one)


def _shown(arg: str, out: Path) -> str:
    """A command-line argument with the run's temporary directory left out."""
    return arg.replace(str(out), "$S11")


def _admission_part(
    suite: Any,
    entry: dict[str, Any],
    settings: Settings,
    corpus: s11_corpus.Corpus,
    loader: str,
    out: Path,
) -> None:
    from kubeops.testenv import Environment

    kubeops = suite._kubeops_cli()
    probe = subprocess.run(
        [kubeops, "policy", "webhook", "--help"], capture_output=True, check=False
    )
    arms = list(ARMS)
    if probe.returncode != 0:
        entry["skipped"]["kubeops-webhook"] = "not available: `kubeops policy webhook` is missing"
        arms.remove("kubeops-webhook")
    load_file = out / "load.jsonl"
    denies = s11_corpus.write_load(load_file, settings.manifests)
    entry["params"]["expected_denied"] = expected_denied(denies, settings)
    entry["params"]["requests"] = int(settings.seconds * settings.rate)
    entry["params"]["tracing"] = (
        "the API server traces every request (sampled 1,000,000 per million, OTLP/gRPC to a"
        " loopback receiver) in every arm, so tracing costs each arm the same"
    )
    # One receiver for the cluster's life: the API server's exporter is pointed at it once.
    receiver = s11_trace.Receiver(loader, out)
    stack = contextlib.ExitStack()
    stack.callback(lambda: entry["params"].update(trace_receiver=_kept(receiver.stop())))
    start = time.perf_counter()
    with stack:
        with s11_trace.exporter_env():
            env = stack.enter_context(
                Environment(
                    api_only=True,
                    progress=suite.progress,
                    extra_args={"kube-apiserver": s11_trace.apiserver_args(out, receiver.address)},
                )
            )
        suite.setup["s11_cluster_start_seconds"] = time.perf_counter() - start
        cluster = env.cluster()
        kubeconfig = cluster.kubeconfig
        suite.server_version = suite.server_version or str(
            cluster.admin.get("/version").get("gitVersion", "")
        )
        apiserver = cluster.running()["kube-apiserver"]
        assert apiserver is not None
        made = register_vaps(kubeconfig)
        try:

            def one(arm: str, rep: int, position: int) -> None:
                load_1m = os.getloadavg()[0]
                result = measure_arm(
                    arm,
                    rep,
                    kubeconfig=kubeconfig,
                    apiserver_pid=apiserver,
                    loader=loader,
                    load_file=load_file,
                    denies=denies,
                    settings=settings,
                    webhook_argv=lambda port: webhook_command(
                        kubeops, kubeconfig, corpus.vap, port
                    ),
                    receiver=receiver,
                    scrape=lambda: s11_trace.scrape(cluster.server, cluster.pki),
                )
                run: dict[str, Any] = {
                    "client": arm,
                    "part": "admission",
                    "rep": rep,
                    "position": position,
                    "ok": result.ok,
                    "wall_seconds": result.wall_seconds,
                    "peak_rss_bytes": result.peak_rss_bytes,
                    "loadavg_1m": round(load_1m, 2),
                }
                if result.ok and result.extra is not None:
                    run["rss_bytes"] = result.rss_bytes
                    run["value"] = float(result.extra["p99_ms"])
                    run["extra"] = result.extra
                    x = result.extra
                    shown = (
                        f"p50 {x['p50_ms']:.1f} ms, p99 {x['p99_ms']:.1f} ms,"
                        f" {x['denied']} of {x['requests']} denied, {x['rate_achieved']}/s"
                    )
                    call = x.get("webhook_call")
                    if call is not None:
                        shown += f"; webhook call as the API server times it: {call['calls']} calls"
                        if call["calls"]:
                            shown += f", p50 {call['p50_ms']:.1f} ms, p99 {call['p99_ms']:.1f} ms"
                else:
                    run["error"] = result.error
                    run["stderr_tail"] = result.stderr_tail[-2000:]
                    shown = f"FAILED: {result.error[:300]}"
                    if result.extra is not None:  # what the load saw, for the report
                        run["extra"] = result.extra
                        shown += f" (p99 {result.extra['p99_ms']:.0f} ms)"
                entry["runs"].append(run)
                suite.progress(f"S11 admission {arm} rep {rep + 1}: {shown}")

            suite._rounds("S11 admission", arms, settings.admission_reps, one)
        finally:
            unregister_vaps(kubeconfig, made)


def compare(entry: dict[str, Any]) -> None:
    """The figures S11's report quotes: each CI contender against conftest, each admission
    arm against the baseline (medians of runs; p50/p99 of every request pooled)."""
    summary = entry.get("summary", {})

    def median(name: str, key: str) -> float | None:
        stats = summary.get(name, {})
        return stats.get(key) if stats.get("n") else None

    ci: dict[str, Any] = {}
    for name in CI:
        peer_wall = median(PEER[name], "median")
        peer_rss = median(PEER[name], "peak_rss_mib_median")
        runs = [r for r in entry["runs"] if r["client"] == name and r["ok"]]
        if not runs:
            continue
        wall = median(name, "median")
        rss = median(name, "peak_rss_mib_median")
        cpu = sorted(r["cpu_seconds"] for r in runs)[len(runs) // 2]
        ci[name] = {
            "wall_ms": wall,
            "peak_rss_mib": rss,
            "cpu_seconds": cpu,
            "failures": runs[0]["extra"]["failures"],
            "peer": PEER[name],
            "wall_vs_conftest": wall / peer_wall if wall and peer_wall else None,
            "rss_vs_conftest": rss / peer_rss if rss and peer_rss else None,
        }
    admission: dict[str, Any] = {}
    base = summary.get("no-policy", {}).get("pooled", {})
    for arm in ARMS:
        runs = [r for r in entry["runs"] if r["client"] == arm and r["ok"]]
        pooled = summary.get(arm, {}).get("pooled", {})
        if not runs or not pooled.get("events"):
            continue
        row: dict[str, Any] = {
            "p50_ms": pooled["p50"],
            "p99_ms": pooled["p99"],
            "allowed_p99_ms": sorted(r["extra"]["allowed_p99_ms"] for r in runs)[len(runs) // 2],
            "warmup_p99_ms": _middle([r["extra"].get("warmup_p99_ms") for r in runs]),
            "requests": pooled["events"],
            "denied": sum(r["extra"]["denied"] for r in runs),
            "rate_achieved": sorted(r["extra"]["rate_achieved"] for r in runs)[len(runs) // 2],
            "apiserver_cpu_percent": sorted(r["extra"]["apiserver_cpu_percent"] for r in runs)[
                len(runs) // 2
            ],
        }
        if arm == "kubeops-webhook":
            row["webhook_cpu_percent"] = sorted(r["extra"]["webhook_cpu_percent"] for r in runs)[
                len(runs) // 2
            ]
            row["webhook_rss_mib"] = sorted(r["extra"]["webhook_rss_mib"] for r in runs)[
                len(runs) // 2
            ]
        if base.get("events"):
            row["added_p50_ms"] = pooled["p50"] - base["p50"]
            row["added_p99_ms"] = pooled["p99"] - base["p99"]
        row.update(_apiserver_view(runs))
        admission[arm] = row
    entry["comparison"] = {"ci": ci, "admission": admission}


def _kept(final: dict[str, Any]) -> dict[str, Any]:
    """The receiver's final line without its file's (temporary) path."""
    return {k: final[k] for k in ("ok", "count", "spans_seen", "error") if k in final}


def _apiserver_view(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the API server timed of an arm's runs: the webhook calls of every run pooled
    (p50/p99/max from its trace spans), and the median run's histogram bucket bounds."""
    view: dict[str, Any] = {}
    receiver_cpu = _middle([r["extra"].get("span_receiver_cpu_percent") for r in runs])
    if receiver_cpu is not None:
        view["span_receiver_cpu_percent"] = receiver_cpu
    calls = [r["extra"]["webhook_call"] for r in runs if "webhook_call" in r["extra"]]
    if calls:
        ms = [v for c in calls for v in c.get("ms", [])]
        view["webhook_call"] = {
            "calls": len(ms),
            "requests": sum(r["extra"]["requests"] for r in runs if "webhook_call" in r["extra"]),
            "p50_ms": percentile(ms, 50) if ms else None,
            "p99_ms": percentile(ms, 99) if ms else None,
            "max_ms": max(ms) if ms else None,
            "failed_calls": sum(c.get("failed_calls", 0) for c in calls),
        }
    for key in ("plugin", "check"):
        seen = [
            r["extra"]["apiserver_histograms"][key]
            for r in runs
            if (r["extra"].get("apiserver_histograms") or {}).get(key)
        ]
        if seen:
            view[f"{key}_p50_le_ms"] = _middle([h["p50_le_ms"] for h in seen])
            view[f"{key}_p99_le_ms"] = _middle([h["p99_le_ms"] for h in seen])
            view[f"{key}_count"] = sum(h["count"] for h in seen)
    return view


def _middle(values: list[float | None]) -> float | None:
    """The median of the values there are (None when none)."""
    known = sorted(v for v in values if v is not None)
    return known[len(known) // 2] if known else None
