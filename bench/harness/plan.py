"""What a run measures: sizes and repetitions for the full suite and for the smoke mode,
and each scenario's title, metric and kubeops' targets (copied into every results file,
so a report can be regenerated from an old file as it was)."""

# ruff: noqa: RUF001 -- targets are written with multiplication signs, as in the issue
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Plan:
    """Sizes of one run.  Pods are created in steps: S7's, then S8's, then S6's count,
    then each of S6-scale's sizes (S6-scale measures ``scale_reps[i]`` times at ``scale_sizes[i]``)."""

    mode: str
    reps: int
    configmaps: int  # S1, S2 (and S5 reads one of them)
    s3_objects: int
    s3_reps: int
    s3_seconds: float  # per repetition
    s8_reps: int  # Popeye takes ~35 s a run
    s4_creates: int
    s4_concurrency: int
    s5_gets: int
    nodes: int
    s7_pods: int
    s8_pods: int
    s6_pods: int
    pods_per_namespace: int
    scale_sizes: tuple[int, ...]
    scale_reps: tuple[int, ...]
    s9_reps: int = 3
    s9_seconds: float = 30.0  # per repetition
    s9_storm_per_minute: int = 10_000
    s9_probe_interval: float = 0.25  # seconds between probes: 120 a repetition
    s10_deployments: int = 1_000
    s10_targets: tuple[int, ...] = (3, 10, 20)  # the first is the comparison's, all are growth's
    s10_changes: int = 200  # per run, at s10_rate a second
    s10_rate: float = 10.0
    s10_outage_seconds: float = 60.0
    s10_reps: int = 3  # comparison runs per contender (each with an outage)
    s10_growth_reps: int = 2  # kubeops' runs at each further number of targets
    s10_converge_timeout: float = 600.0
    s10_catchup_timeout: float = 60.0
    s11_manifests: int = 5_000  # the CI part's corpus (and the admission load's objects)
    s11_reps: int = 3  # CI runs per contender
    s11_rate: float = 200.0  # admission requests a second, open loop
    s11_seconds: float = 30.0  # measured, per admission run
    s11_warmup: float = 10.0  # at the rate before measuring (a fresh webhook's first seconds)
    s11_admission_reps: int = 3  # admission runs per arm
    s12_reps: int = 3  # runs per arm (in-process, bus with 1 replica, bus with 3)
    s12_seconds: float = 30.0  # S9's stream per run
    s12_storm_per_minute: int = 10_000
    s12_probe_interval: float = 0.25
    s12_burst: int = 1_000  # probe changes written at once, for the throughput
    s12_arms: tuple[str, ...] = ("in-process", "bus-1", "bus-3")
    s12_burst_timeout: float = 120.0  # for the burst's last action

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Plan(
    mode="full",
    reps=5,
    configmaps=10_000,
    s3_objects=100,
    s3_reps=3,
    s3_seconds=15.0,
    s8_reps=3,
    s4_creates=5_000,
    s4_concurrency=32,
    s5_gets=2_000,
    nodes=100,
    s7_pods=1_000,
    s8_pods=5_000,
    s6_pods=10_000,
    pods_per_namespace=1_000,
    scale_sizes=(10_000, 30_000, 100_000),
    scale_reps=(5, 3, 3),
)

SMOKE = Plan(
    mode="smoke",
    reps=1,
    configmaps=50,
    s3_objects=5,
    s3_reps=1,
    s3_seconds=1.0,  # the Go writer makes ~400 changes a second: plenty to check with
    s8_reps=1,
    s4_creates=50,
    s4_concurrency=8,
    s5_gets=50,
    nodes=3,
    s7_pods=10,
    s8_pods=20,
    s6_pods=20,
    pods_per_namespace=10,
    scale_sizes=(20, 40),
    scale_reps=(1, 1),
    s9_reps=1,
    s9_seconds=4.0,
    s9_storm_per_minute=600,
    s9_probe_interval=0.5,
    s10_deployments=20,
    s10_targets=(2, 3),
    s10_changes=10,
    s10_rate=5.0,
    s10_outage_seconds=2.0,
    s10_reps=1,
    s10_growth_reps=1,
    s10_converge_timeout=120.0,
    s10_catchup_timeout=5.0,  # after the server is up; the engine takes ~1 s, the loop never
    s11_manifests=60,
    s11_reps=1,
    s11_rate=20.0,
    s11_seconds=2.0,
    s11_warmup=1.0,
    s11_admission_reps=1,
    s12_reps=1,
    s12_seconds=1.0,
    s12_storm_per_minute=300,
    s12_probe_interval=0.25,
    s12_burst=10,
    s12_arms=("in-process", "bus-3"),  # bus-1 is bus-3's path with one replica
    s12_burst_timeout=30.0,
)

# metric: what each run's "value" is; better: which way is good.
SCENARIOS: dict[str, dict[str, Any]] = {
    "S1": {
        "title": "LIST {configmaps:,} ConfigMaps (~1 KiB each), one request, decoded",
        "metric": "seconds",
        "unit": "ms",
        "better": "lower",
        "targets": ["≤ 1.1× the Python client floor", "≥ 2× faster than the fastest Python peer"],
    },
    "S2": {
        "title": "informer (or list + watch into a dict) synced over {configmaps:,} ConfigMaps",
        "metric": "seconds",
        "unit": "ms",
        "better": "lower",
        "targets": ["≤ 1.3× the Python list + watch floor"],
    },
    "S3": {
        "title": "watch lag, p99, one Go writer patching {s3_objects} ConfigMaps as fast as it can ({s3_reps} × {s3_seconds:.0f} s per client)",
        "metric": "p99 lag",
        "unit": "ms",
        "better": "lower",
        "targets": ["p99 ≤ 100 ms", "≤ 1.5× client-go's p99"],
    },
    "S4": {
        "title": "create {s4_creates:,} ConfigMaps, {s4_concurrency} requests in flight",
        "metric": "throughput",
        "unit": "objects/s",
        "better": "higher",
        "targets": ["≥ 0.9× client-go's throughput", "≥ 2× the best Python peer"],
    },
    "S5": {
        "title": "{s5_gets:,} sequential GETs of one ConfigMap",
        "metric": "time per request",
        "unit": "µs",
        "better": "lower",
        "targets": ["≤ 1.3× client-go's time per request"],
    },
    "S6": {
        "title": "memory of a cache of {s6_pods:,} Pods on {nodes} kwok nodes, managedFields dropped",
        "metric": "RSS after sync",
        "unit": "MiB",
        "better": "lower",
        "targets": [
            "≤ 1.0× client-go's RSS with the compact store",
            "≤ 2.0× client-go's RSS with plain dicts",
        ],
    },
    "S6-scale": {
        "title": "growth: RSS and sync time of a cache of {scale_titles} Pods on {nodes} kwok nodes, managedFields dropped",
        "metric": "RSS after sync",
        "unit": "MiB",
        "better": "lower",
        "targets": [
            "at {scale_largest} Pods: ≤ 1.0× client-go's RSS with the compact store",
            "at {scale_largest} Pods: ≤ 2.0× client-go's RSS with plain dicts",
            "cost per Pod grows linearly: no step in RSS or sync time per added Pod",
        ],
    },
    "S7": {
        "title": "`get pods -A` over {s7_pods:,} Pods, whole process",
        "metric": "wall time",
        "unit": "ms",
        "better": "lower",
        "targets": ["≤ 1.2× kubectl"],
    },
    "S7-startup": {
        "title": "CLI start-up (`kubeops --version`; kubectl: `kubectl version --client`)",
        "metric": "wall time",
        "unit": "ms",
        "better": "lower",
        "targets": ["kubeops ≤ 150 ms"],
    },
    "S8": {
        "title": "cluster inspection over {s8_pods:,} Pods on {nodes} kwok nodes, JSON report, whole process",
        "metric": "wall time",
        "unit": "ms",
        "better": "lower",
        "targets": ["kubeops faster than Popeye", "kubeops ≤ 10 s"],
    },
    "S9": {
        "title": "event to action: a ConfigMap change to the webhook request of the action it fires, under a storm of {s9_storm_per_minute:,} other ConfigMap changes a minute ({s9_reps} × {s9_seconds:.0f} s per contender)",
        "metric": "p99 event to action",
        "unit": "ms",
        "better": "lower",
        "targets": ["p99 ≤ 1 s under the storm"],
    },
    "S10": {
        "title": "multi-cluster sync: {s10_deployments:,} Deployments from a source to {s10_first} API-only targets ({s10_changes} changes at {s10_rate:g}/s, one target down {s10_outage_seconds:.0f} s; {s10_reps} runs per contender); growth over {s10_target_titles} targets",
        "metric": "initial convergence",
        "unit": "s",
        "better": "lower",
        "targets": [
            "convergence ≤ 10 s at {s10_first} targets",
            "propagation p99 ≤ 1 s at {s10_first} targets",
            "catch-up ≤ 10 s after a {s10_outage_seconds:.0f} s outage",
            "cost grows no worse than linearly in targets",
        ],
    },
    "S11": {
        "title": "policy as code: `kubeops policy test` over {s11_manifests:,} manifests × 30 policies beside conftest ({s11_reps} runs each); admission at {s11_rate:g} requests/s through the API server: `kubeops policy webhook` beside the API server's own ValidatingAdmissionPolicies and no policy ({s11_admission_reps} × {s11_seconds:.0f} s each)",
        "metric": "wall time (CI); p99 create latency (admission)",
        "unit": "ms",
        "better": "lower",
        "targets": [
            "webhook p99 ≤ 20 ms at {s11_rate:g} requests/s",
            "`policy test` finds what conftest finds, and its time and memory beside conftest's",
        ],
    },
    "S12": {
        "title": "event to action through Kafka: `kubeops respond` in distributed mode (the leader publishes, 1 or 3 replicas in one consumer group act) beside S9's in-process path, on S9's stream ({s12_storm_per_minute:,} storm changes a minute, a probe every {s12_probe_interval:g} s) and a burst of {s12_burst:,} probe changes ({s12_reps} × {s12_seconds:.0f} s per arm)",
        "metric": "p99 event to action",
        "unit": "ms",
        "better": "lower",
        "targets": ["p99 ≤ 1 s under the storm through the bus (S9's target)"],
    },
}


def scenario_specs(plan: Plan) -> dict[str, dict[str, Any]]:
    """The scenario table with this plan's sizes filled into the titles."""
    sizes = plan.as_dict()
    sizes["scale_titles"] = ", ".join(f"{n:,}" for n in plan.scale_sizes)
    sizes["scale_largest"] = f"{max(plan.scale_sizes):,}"
    sizes["s10_first"] = plan.s10_targets[0]
    sizes["s10_target_titles"] = ", ".join(str(n) for n in plan.s10_targets)
    return {
        k: {
            **v,
            "title": v["title"].format(**sizes),
            "targets": [t.format(**sizes) for t in v["targets"]],
        }
        for k, v in SCENARIOS.items()
    }
