"""kubeops against client-go, the Python peers and the floors: one command, every sample.

    .venv/bin/python bench/run.py            # the full suite (make bench), ~106 min on 2 cores
    .venv/bin/python bench/run.py --smoke    # tiny sizes, one repetition: the harness still works
    .venv/bin/python bench/run.py --scenarios S6-scale --scale-sizes 1000,3000 --report out.md
                                             # one scenario at sizes of your choice
    .venv/bin/python bench/run.py --scenarios S10   # multi-cluster sync alone (~40 min):
                                             # rewrites S10's part of docs/benchmarks.md only
    .venv/bin/python bench/run.py --scenarios S11   # policy as code alone (~11 min):
                                             # rewrites S11's part of docs/benchmarks.md only
    .venv/bin/python bench/run.py --scenarios S12   # the respond daemon through Kafka alone
                                             # (~6 min): rewrites S12's part only

Starts its own testenv clusters, runs every scenario for every client in alternating
order, writes ``bench/results/<timestamp>.json`` and regenerates ``docs/benchmarks.md``
(the full suite only, unless ``--report`` says where).  Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import clients, machine
from harness.plan import FULL, SMOKE, Plan, scenario_specs
from harness.suite import POD_SCENARIOS, Suite

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CONFIGMAP_SCENARIOS = frozenset({"S1", "S2", "S3", "S4", "S5"})
PHASE_SCENARIOS = {
    "configmaps": CONFIGMAP_SCENARIOS,
    "pods": frozenset({*POD_SCENARIOS, "S7-startup"}),
    "respond": frozenset({"S9", "S12"}),
    "sync": frozenset({"S10"}),
    "policy": frozenset({"S11"}),
}


def _numbers(option: str, text: str) -> tuple[int, ...]:
    """``1000,3000`` as whole numbers of at least 1, or ValueError naming the option."""
    try:
        numbers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"{option}: {text!r} is not a comma-separated list of whole numbers"
        ) from None
    if min(numbers) < 1:
        raise ValueError(f"{option}: {text!r} has a number below 1")
    return numbers


def _scale_options(plan: Plan, sizes: str | None, reps: str | None) -> Plan:
    """The plan with S6-scale's sizes and repetitions from the command line, if given."""
    scale_sizes = _numbers("--scale-sizes", sizes) if sizes else plan.scale_sizes
    if reps:
        scale_reps = _numbers("--scale-reps", reps)
    elif sizes:
        scale_reps = (plan.reps,) * len(scale_sizes)
    else:
        scale_reps = plan.scale_reps
    if len(scale_reps) != len(scale_sizes):
        raise ValueError(f"--scale-reps: {len(scale_reps)} numbers for {len(scale_sizes)} sizes")
    if list(scale_sizes) != sorted(set(scale_sizes)):
        raise ValueError(f"--scale-sizes: {sizes!r} must increase")
    return replace(plan, scale_sizes=scale_sizes, scale_reps=scale_reps)


def _s10_options(plan: Plan, args: argparse.Namespace) -> Plan:
    """The plan with S10's sizes from the command line, if given."""
    changes: dict[str, Any] = {}
    if args.s10_deployments is not None:
        if args.s10_deployments < 1:
            raise ValueError(f"--s10-deployments: {args.s10_deployments} is below 1")
        changes["s10_deployments"] = args.s10_deployments
    if args.s10_targets:
        targets = _numbers("--s10-targets", args.s10_targets)
        if list(targets) != sorted(set(targets)):
            raise ValueError(f"--s10-targets: {args.s10_targets!r} must increase")
        changes["s10_targets"] = targets
    if args.s10_reps is not None:
        if args.s10_reps < 1:
            raise ValueError(f"--s10-reps: {args.s10_reps} is below 1")
        changes["s10_reps"] = changes["s10_growth_reps"] = args.s10_reps
    if args.s10_outage is not None:
        if args.s10_outage <= 0:
            raise ValueError(f"--s10-outage: {args.s10_outage} must be above 0 seconds")
        changes["s10_outage_seconds"] = args.s10_outage
    return replace(plan, **changes)


def _s11_options(plan: Plan, args: argparse.Namespace) -> Plan:
    """The plan with S11's sizes from the command line, if given."""
    changes: dict[str, Any] = {}
    for option, field in (
        ("s11_manifests", "s11_manifests"),
        ("s11_reps", "s11_reps"),
        ("s11_reps", "s11_admission_reps"),
    ):
        value = getattr(args, option)
        if value is not None:
            if value < 1:
                raise ValueError(f"--{option.replace('_', '-')}: {value} is below 1")
            changes[field] = value
    for option in ("s11_rate", "s11_seconds"):
        value = getattr(args, option)
        if value is not None:
            if value <= 0:
                raise ValueError(f"--{option.replace('_', '-')}: {value} must be above 0")
            changes[option] = value
    return replace(plan, **changes)


def compile_like_an_install() -> None:
    """Measure kubeops as pip leaves it: with bytecode.

    pip compiles what it installs; an editable checkout under
    ``PYTHONDONTWRITEBYTECODE`` would make every measured process compile its modules
    from source (about 14% of `kubeops get pods -A`'s CPU), which no user pays.  The
    peers' virtualenvs were compiled by pip already.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(REPO / "src", quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument("--reps", type=int, help="repetitions per scenario (default 5; smoke 1)")
    parser.add_argument(
        "--clients",
        default=",".join(c.name for c in clients.CLIENTS),
        help="comma-separated client names (default: all)",
    )
    parser.add_argument(
        "--phases",
        default="configmaps,pods,respond,sync,policy",
        help="configmaps (S1-S5), pods (S6-S8), respond (S9, S12), sync (S10), policy (S11);"
        " comma-separated",
    )
    parser.add_argument(
        "--scenarios",
        help="comma-separated scenarios to run, e.g. S6,S6-scale (default: all of the phases')",
    )
    parser.add_argument(
        "--scale-sizes",
        help="S6-scale's Pod counts, comma-separated (default 10000,30000,100000; smoke 20,40)",
    )
    parser.add_argument(
        "--scale-reps",
        help="repetitions at each S6-scale size, comma-separated (default 5,3,3; smoke 1,1)",
    )
    parser.add_argument(
        "--s10-deployments", type=int, help="S10's Deployments on the source (default 1000)"
    )
    parser.add_argument(
        "--s10-targets",
        help="S10's numbers of targets, comma-separated: the first is the comparison's, every"
        " one a growth point (default 3,10,20; smoke 2,3)",
    )
    parser.add_argument(
        "--s10-reps", type=int, help="S10's runs per contender at each number of targets"
    )
    parser.add_argument(
        "--s10-outage", type=float, help="seconds S10's first target is down (default 60)"
    )
    parser.add_argument(
        "--s11-manifests", type=int, help="S11's corpus of manifests (default 5000)"
    )
    parser.add_argument("--s11-reps", type=int, help="S11's runs per contender and per arm")
    parser.add_argument(
        "--s11-rate", type=float, help="S11's admission requests a second (default 200)"
    )
    parser.add_argument(
        "--s11-seconds", type=float, help="S11's measured seconds per admission run (default 30)"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        help="where the JSON goes (default: bench/results; smoke runs: a temporary directory)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help="markdown to regenerate (default: docs/benchmarks.md, full runs only: not with"
        " --smoke, --scenarios, --clients or --phases; a targeted run with S10 or S11"
        " rewrites that scenario's part of docs/benchmarks.md alone; so does S12)",
    )
    args = parser.parse_args(argv)
    compile_like_an_install()

    plan = SMOKE if args.smoke else FULL
    if args.reps:
        plan = replace(plan, reps=args.reps)
    try:
        plan = _scale_options(plan, args.scale_sizes, args.scale_reps)
    except ValueError as err:
        parser.error(str(err))
    try:
        plan = _s10_options(plan, args)
        plan = _s11_options(plan, args)
    except ValueError as err:
        parser.error(str(err))
    only = frozenset(k.strip() for k in args.scenarios.split(",")) if args.scenarios else None
    unknown = sorted((only or frozenset()) - set(scenario_specs(plan)))
    if unknown:
        parser.error(f"--scenarios: unknown scenario(s) {', '.join(unknown)}")
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)

    begun = datetime.now(UTC)
    load_start = machine.load()
    progress(f"{plan.mode} run, load average {load_start['loadavg_1m']:.2f}; preparing clients")
    selected = [name.strip() for name in args.clients.split(",") if name.strip()]
    prepared = clients.prepare(selected, progress)
    prepare_seconds = time.perf_counter() - started

    suite = Suite(plan, prepared, progress)
    phases = set(args.phases.split(","))
    if only is not None:  # only the phases the chosen scenarios live in
        phases = {phase for phase in phases if only & PHASE_SCENARIOS.get(phase, frozenset())}
    try:
        if "configmaps" in phases:
            suite.configmap_phase(only)
        if "pods" in phases:
            suite.pod_phase(only)
        if "respond" in phases:
            suite.respond_phase(only)
        if "sync" in phases:
            suite.sync_phase(only)
        if "policy" in phases:
            suite.policy_phase(only)
    finally:
        suite.spawner.close()
    suite.summarise()

    specs = scenario_specs(plan)
    for key, entry in suite.scenarios.items():
        entry.update(specs[key])
    contenders = {
        c.name: {
            "label": c.label,
            "group": c.group,
            "version": c.version,
            **({"unavailable": c.unavailable} if c.unavailable else {}),
        }
        for c in prepared
    }
    contenders.update(suite.contenders)
    results: dict[str, Any] = {
        "schema": 1,
        "mode": plan.mode,
        "started": begun.isoformat(timespec="seconds"),
        "duration_seconds": time.perf_counter() - started,
        "prepare_seconds": prepare_seconds,
        "plan": plan.as_dict(),
        "machine": {**machine.machine(), "load_start": load_start, "load_end": machine.load()},
        "versions": {
            "kubeops": f"{contenders.get('kubeops-async', {}).get('version', '')} ({machine.git_commit(REPO)})",
            "kubernetes_server": suite.server_version,
            "go": machine.go_version(),
            "curl": machine.curl_version(),
            **{c.name: c.version for c in prepared if c.group in ("peer", "go") and c.version},
            **suite.tool_versions,
        },
        "contenders": contenders,
        "setup": suite.setup,
        "scenarios": {k: suite.scenarios[k] for k in specs if k in suite.scenarios},
    }
    if args.results_dir is None:
        smoke_dir = Path(tempfile.gettempdir()) / "kubeops-bench-smoke"
        args.results_dir = smoke_dir if args.smoke else BENCH / "results"
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = begun.strftime("%Y%m%dT%H%M%SZ")
    # A targeted run (some scenarios, clients or phases) must not replace the full run's report,
    # nor be taken for a full run by `bench/report.py` (which reads the newest plain file).
    targeted = bool(
        args.smoke
        or args.scenarios
        or args.clients != parser.get_default("clients")
        or args.phases != parser.get_default("phases")
    )
    prefix = "smoke-" if args.smoke else ("targeted-" if targeted else "")
    path = args.results_dir / f"{prefix}{stamp}.json"
    # Compact: S3 alone holds tens of thousands of samples per client.
    path.write_text(json.dumps(results, separators=(",", ":")) + "\n")
    progress(f"results: {path}")
    report_path = args.report or (None if targeted else REPO / "docs" / "benchmarks.md")
    if report_path is not None:
        import report

        report.write(results, path, report_path)
        progress(f"report: {report_path}")
    elif not args.smoke:
        # S10 and S11 have parts of the report of their own: a targeted run rewrites those alone.
        import report

        if "S10" in results["scenarios"]:
            report.write_s10(results, path, REPO / "docs" / "benchmarks.md")
            progress("report: S10's part of docs/benchmarks.md")
        if "S11" in results["scenarios"]:
            report.write_s11(results, path, REPO / "docs" / "benchmarks.md")
            progress("report: S11's part of docs/benchmarks.md")
        if "S12" in results["scenarios"]:
            report.write_s12(results, path, REPO / "docs" / "benchmarks.md")
            progress("report: S12's part of docs/benchmarks.md")
    failed = [
        f"{key}/{run['client']}"
        for key, entry in results["scenarios"].items()
        for run in entry["runs"]
        if not run["ok"]
    ]
    if failed:
        progress(f"{len(failed)} run(s) failed: {', '.join(sorted(set(failed)))}")
    progress(f"done in {time.perf_counter() - started:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
