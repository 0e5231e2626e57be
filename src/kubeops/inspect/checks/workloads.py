"""Workloads: availability of Deployments, StatefulSets and DaemonSets, stuck
rollouts, single points of failure, disruption budgets, autoscaling limits and
failing batch work."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kubeops.inspect.catalog import CheckContext, Hit, parse_time, register_check
from kubeops.inspect.checks.fields import (
    Lookup,
    condition_true,
    conditions,
    explain,
    integer,
    label_selector,
    meta,
    name,
    namespace,
    replicas,
    spec,
    status,
    template_labels,
)
from kubeops.inspect.model import Severity

if TYPE_CHECKING:
    from kubeops.api import Object


def _hpa_targets(ctx: CheckContext) -> Lookup:
    """HorizontalPodAutoscalers by the (kind, name) they scale."""
    targets = Lookup(ctx.snapshot.static)
    for hpa in ctx.objects("hpas"):
        ref = spec(hpa).get("scaleTargetRef") or {}
        if ref.get("kind") and ref.get("name"):
            targets.add(namespace(hpa), (ref["kind"], ref["name"]), hpa)
    return targets


def _replica_range(obj: Object, hpas: Lookup) -> tuple[int, int, Object | None]:
    """(fewest, most) replicas a workload runs: its HPA's bounds when one scales it."""
    for hpa in hpas.get(namespace(obj), (obj.get("kind"), name(obj))):
        hpa_spec = spec(hpa)
        low = integer(hpa_spec.get("minReplicas"), 1)
        return low, max(low, integer(hpa_spec.get("maxReplicas"), low)), hpa
    count = replicas(obj)
    return count, count, None


# --- availability --------------------------------------------------------------------------------


def _short_of_replicas(ctx: CheckContext, resource: str, field: str, state: str) -> Iterator[Hit]:
    """Workloads whose status ``field`` counts fewer replicas than they ask for;
    none at all is critical."""
    for workload in ctx.objects(resource):
        wanted = replicas(workload)
        if wanted <= 0:
            continue
        count = integer(status(workload).get(field))
        if count < wanted:
            yield Hit(
                workload,
                f"{count} of {wanted} replicas {state}",
                Severity.CRITICAL if count == 0 else None,
            )


@register_check(
    "deployment-unavailable",
    title="Deployment not fully available",
    category="workloads",
    severity=Severity.ERROR,
    subject="deployments",
    rationale="Fewer available replicas than asked for means less capacity and less redundancy than planned; none available means the application is down.",
    remediation="Find out why Pods are not available: `kubectl describe deployment NAME` and the events and logs of its Pods (crash loops, failed probes, image pulls, unschedulable Pods).",
)
def deployment_unavailable(ctx: CheckContext) -> Iterator[Hit]:
    return _short_of_replicas(ctx, "deployments", "availableReplicas", "available")


@register_check(
    "statefulset-not-ready",
    title="StatefulSet not fully ready",
    category="workloads",
    severity=Severity.ERROR,
    subject="statefulsets",
    rationale="A StatefulSet's replicas are usually members of a quorum or shards of data: one not ready degrades the service, and none ready means it is down.",
    remediation="`kubectl describe statefulset NAME` and the Pod with the lowest ordinal that is not ready: StatefulSets start Pods in order, so one stuck Pod blocks the rest (look at its events, logs and PVCs).",
)
def statefulset_not_ready(ctx: CheckContext) -> Iterator[Hit]:
    return _short_of_replicas(ctx, "statefulsets", "readyReplicas", "ready")


@register_check(
    "daemonset-unavailable",
    title="DaemonSet not fully scheduled or available",
    category="workloads",
    severity=Severity.ERROR,
    subject="daemonsets",
    rationale="DaemonSets run node agents (networking, storage, logging, monitoring): a node without its Pod silently lacks that function.",
    remediation="`kubectl describe daemonset NAME`, then look at the Pods that are not available and at nodes whose taints the DaemonSet does not tolerate or whose resources are exhausted.",
)
def daemonset_unavailable(ctx: CheckContext) -> Iterator[Hit]:
    for ds in ctx.objects("daemonsets"):
        st = status(ds)
        desired = integer(st.get("desiredNumberScheduled"))
        if desired <= 0:  # not yet observed by the controller, or meant for no node
            continue
        scheduled = integer(st.get("currentNumberScheduled"))
        available = integer(st.get("numberAvailable", st.get("numberReady")))
        unavailable = max(desired - available, integer(st.get("numberUnavailable")))
        problems = []
        if scheduled < desired:
            problems.append(f"{desired - scheduled} of {desired} Pods not scheduled")
        if unavailable > 0:
            problems.append(f"{unavailable} of {desired} Pods unavailable")
        if problems:
            yield Hit(ds, "; ".join(problems), Severity.CRITICAL if available == 0 else None)


@register_check(
    "deployment-rollout-stuck",
    title="Deployment rollout stuck",
    category="workloads",
    severity=Severity.ERROR,
    subject="deployments",
    rationale="A rollout past its progress deadline has stopped making progress: the new version is not serving and the Deployment is stuck between two ReplicaSets.",
    remediation="Look at the new ReplicaSet's Pods (`kubectl describe deployment NAME`); fix the template, or roll back with `kubectl rollout undo deployment NAME`.",
)
def rollout_stuck(ctx: CheckContext) -> Iterator[Hit]:
    for deployment in ctx.objects("deployments"):
        progressing = conditions(deployment).get("Progressing")
        if (
            progressing is not None
            and progressing.get("status") == "False"
            and progressing.get("reason") == "ProgressDeadlineExceeded"
        ):
            deadline = spec(deployment).get("progressDeadlineSeconds", 600)
            detail = progressing.get("message")
            yield Hit(
                deployment,
                f"the rollout made no progress for {deadline}s (ProgressDeadlineExceeded)"
                + (f": {detail}" if detail else ""),
            )


# --- redundancy ----------------------------------------------------------------------------------


def _single_replica(ctx: CheckContext, resource: str) -> Iterator[Hit]:
    hpas = _hpa_targets(ctx)
    for workload in ctx.objects(resource):
        low, _, hpa = _replica_range(workload, hpas)
        if low != 1:
            continue
        if hpa is not None:
            yield Hit(
                workload,
                f'HorizontalPodAutoscaler "{name(hpa)}" may scale it down to 1 replica (minReplicas 1)',
            )
        else:
            yield Hit(workload, "runs 1 replica")


_SINGLE_RATIONALE = (
    "With one replica every node drain, eviction, crash or rollout of this workload is an outage."
)
_SINGLE_REMEDIATION = (
    "Run at least two replicas (`kubectl scale {kind} NAME --replicas=2`, or minReplicas 2 "
    "on its HorizontalPodAutoscaler), spread them across nodes, and add a PodDisruptionBudget."
)


@register_check(
    "deployment-single-replica",
    title="Deployment with a single replica",
    category="workloads",
    severity=Severity.WARNING,
    subject="deployments",
    needs=("hpas",),
    static=True,
    rationale=_SINGLE_RATIONALE,
    remediation=_SINGLE_REMEDIATION.format(kind="deployment"),
)
def deployment_single_replica(ctx: CheckContext) -> Iterator[Hit]:
    return _single_replica(ctx, "deployments")


@register_check(
    "statefulset-single-replica",
    title="StatefulSet with a single replica",
    category="workloads",
    severity=Severity.WARNING,
    subject="statefulsets",
    needs=("hpas",),
    static=True,
    rationale=_SINGLE_RATIONALE,
    remediation=_SINGLE_REMEDIATION.format(kind="statefulset"),
)
def statefulset_single_replica(ctx: CheckContext) -> Iterator[Hit]:
    return _single_replica(ctx, "statefulsets")


def _no_pdb(ctx: CheckContext, resource: str) -> Iterator[Hit]:
    budgets = Lookup(ctx.snapshot.static)
    for pdb in ctx.objects("pdbs"):
        selector = label_selector(spec(pdb).get("selector"))
        if selector is not None:
            budgets.add(namespace(pdb), None, selector)
    hpas = _hpa_targets(ctx)
    for workload in ctx.objects(resource):
        _, high, _ = _replica_range(workload, hpas)
        if high <= 1:
            continue
        labels = template_labels(workload)
        if not any(s.matches(labels) for s in budgets.get(namespace(workload), None)):
            yield Hit(workload, f"no PodDisruptionBudget selects its Pods (up to {high} replicas)")


_PDB_RATIONALE = (
    "Without a PodDisruptionBudget a node drain or cluster upgrade may evict every "
    "replica at once, turning planned maintenance into an outage."
)
_PDB_REMEDIATION = (
    "Add a PodDisruptionBudget whose selector matches the Pod template's labels, e.g. "
    "`kubectl create poddisruptionbudget NAME --selector app=NAME --max-unavailable 1`."
)


@register_check(
    "deployment-no-pdb",
    title="Multi-replica Deployment without a PodDisruptionBudget",
    category="workloads",
    severity=Severity.WARNING,
    subject="deployments",
    needs=("pdbs", "hpas"),
    static=True,
    rationale=_PDB_RATIONALE,
    remediation=_PDB_REMEDIATION,
)
def deployment_no_pdb(ctx: CheckContext) -> Iterator[Hit]:
    return _no_pdb(ctx, "deployments")


@register_check(
    "statefulset-no-pdb",
    title="Multi-replica StatefulSet without a PodDisruptionBudget",
    category="workloads",
    severity=Severity.WARNING,
    subject="statefulsets",
    needs=("pdbs", "hpas"),
    static=True,
    rationale=_PDB_RATIONALE,
    remediation=_PDB_REMEDIATION,
)
def statefulset_no_pdb(ctx: CheckContext) -> Iterator[Hit]:
    return _no_pdb(ctx, "statefulsets")


@register_check(
    "pdb-blocks-eviction",
    title="PodDisruptionBudget allows no disruption",
    category="workloads",
    severity=Severity.WARNING,
    subject="pdbs",
    rationale="A budget that allows no disruption even while all its Pods are healthy (minAvailable equal to the replicas, or maxUnavailable 0) blocks every node drain and cluster upgrade until someone deletes it.",
    remediation="Set maxUnavailable to at least 1 (or minAvailable below the replica count), or run more replicas than minAvailable.",
)
def pdb_blocks_eviction(ctx: CheckContext) -> Iterator[Hit]:
    for pdb in ctx.objects("pdbs"):
        st = status(pdb)
        expected = integer(st.get("expectedPods"))
        if expected <= 0 or "disruptionsAllowed" not in st:
            continue
        healthy = integer(st.get("currentHealthy"))
        if healthy >= expected and integer(st.get("disruptionsAllowed")) == 0:
            yield Hit(
                pdb,
                f"all {expected} Pods are healthy yet 0 disruptions are allowed "
                f"(desired healthy {integer(st.get('desiredHealthy'))})",
            )


@register_check(
    "hpa-at-max",
    title="HorizontalPodAutoscaler at its maximum",
    category="workloads",
    severity=Severity.WARNING,
    subject="hpas",
    rationale="An autoscaler at maxReplicas cannot add capacity: if load keeps growing the workload saturates, and the autoscaler will not say so anywhere else.",
    remediation="Check whether the load is expected; raise maxReplicas (and make sure the cluster has room), or make the workload more efficient.",
)
def hpa_at_max(ctx: CheckContext) -> Iterator[Hit]:
    for hpa in ctx.objects("hpas"):
        hpa_spec, st = spec(hpa), status(hpa)
        if "maxReplicas" not in hpa_spec or "currentReplicas" not in st:
            continue
        most = integer(hpa_spec.get("maxReplicas"))
        if integer(hpa_spec.get("minReplicas"), 1) >= most:
            continue  # a fixed size is always "at its maximum"
        current = integer(st.get("currentReplicas"))
        if current >= most:
            limited = condition_true(hpa, "ScalingLimited")
            why = f" ({explain(limited)})" if limited else ""
            yield Hit(hpa, f"runs {current} replicas, at its maxReplicas {most}{why}")


# --- batch ---------------------------------------------------------------------------------------


@register_check(
    "cronjob-suspended",
    title="CronJob suspended",
    category="workloads",
    severity=Severity.INFO,
    subject="cronjobs",
    static=True,
    rationale="A suspended CronJob schedules nothing; a suspension meant to be temporary is easily forgotten, and backups or clean-ups then silently stop.",
    remediation='Resume it when intended (`kubectl patch cronjob NAME -p \'{"spec":{"suspend":false}}\'`) or delete it if it is no longer needed.',
)
def cronjob_suspended(ctx: CheckContext) -> Iterator[Hit]:
    for cronjob in ctx.objects("cronjobs"):
        if spec(cronjob).get("suspend") is True:
            last = status(cronjob).get("lastScheduleTime")
            since = f"; last scheduled {last}" if last else ""
            yield Hit(cronjob, f"spec.suspend is true{since}")


def _finished(job: Object) -> str | None:
    """The condition that finished a Job (Complete or Failed), None while it runs."""
    for kind in ("Complete", "Failed"):
        if condition_true(job, kind):
            return kind
    return None


def _owner(obj: Object, kind: str) -> str | None:
    """The name of the object's owner of ``kind`` (its controller when marked)."""
    refs = [r for r in meta(obj).get("ownerReferences") or [] if r.get("kind") == kind]
    refs.sort(key=lambda r: not r.get("controller"))
    return str(refs[0].get("name")) if refs else None


def _run_order(job: Object) -> tuple[float, float, str]:
    """Sort key of a CronJob's runs: start time, then creation (second resolution), then name."""
    started = parse_time(status(job).get("startTime"))
    created = parse_time(meta(job).get("creationTimestamp"))
    return (
        started.timestamp() if started else 0.0,
        created.timestamp() if created else 0.0,
        name(job),
    )


@register_check(
    "cronjob-failing",
    title="CronJob failing",
    category="workloads",
    severity=Severity.ERROR,
    subject="cronjobs",
    needs=("jobs",),
    rationale="A CronJob whose runs fail does its work no more (backups, reports, clean-ups) and nothing else tells anyone.",
    remediation="Look at the failed Job's Pods (`kubectl describe job NAME`, `kubectl logs job/NAME`); run it by hand once fixed with `kubectl create job --from=cronjob/NAME NAME-manual`.",
)
def cronjob_failing(ctx: CheckContext) -> Iterator[Hit]:
    runs: dict[tuple[str | None, str], list[Object]] = defaultdict(list)
    for job in ctx.objects("jobs"):
        owner = _owner(job, "CronJob")
        if owner is not None:
            runs[(namespace(job), owner)].append(job)
    for cronjob in ctx.objects("cronjobs"):
        finished = [
            (_run_order(job), job, state)
            for job in runs.get((namespace(cronjob), name(cronjob)), [])
            if (state := _finished(job)) is not None
        ]
        if finished:
            _, job, state = max(finished, key=lambda item: item[0])
            if state == "Failed":
                failed = condition_true(job, "Failed") or {}
                why = f" ({explain(failed)})" if explain(failed) else ""
                yield Hit(cronjob, f'its last finished Job "{name(job)}" failed{why}')
            continue
        # No finished Job left to look at (history limits): trust the CronJob's own times.
        st = status(cronjob)
        scheduled = parse_time(st.get("lastScheduleTime"))
        succeeded = parse_time(st.get("lastSuccessfulTime"))
        if scheduled and succeeded and succeeded < scheduled and not st.get("active"):
            yield Hit(
                cronjob,
                f"last successful run {st['lastSuccessfulTime']} is older than the last "
                f"scheduled run {st['lastScheduleTime']}, and no Job is running",
            )


@register_check(
    "job-failed",
    title="Job failed",
    category="workloads",
    severity=Severity.WARNING,
    subject="jobs",
    rationale="A failed Job did not do its work (a migration, an import, a one-off task); it stays failed until someone notices.",
    remediation="Read its Pods' logs (`kubectl logs job/NAME`) and events, fix the cause, then delete and re-create the Job; set ttlSecondsAfterFinished so finished Jobs do not linger.",
)
def job_failed(ctx: CheckContext) -> Iterator[Hit]:
    for job in ctx.objects("jobs"):
        if _owner(job, "CronJob") is not None:
            continue  # judged as a run of its CronJob by cronjob-failing
        failed = condition_true(job, "Failed")
        if failed is not None:
            why = explain(failed)
            yield Hit(job, "the Job failed" + (f": {why}" if why else ""))
