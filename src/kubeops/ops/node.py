"""Node maintenance: cordon, uncordon and drain, with kubectl's rules.

``drain`` cordons the node, then asks the Eviction API to remove each pod on it,
so PodDisruptionBudgets are honoured: an eviction a budget forbids is answered
with 429 and asked again every ``retry_interval`` until ``timeout``.  Before
anything is evicted every pod is checked the way kubectl checks it: mirror pods
belong to their kubelet and are left alone; DaemonSet pods are skipped only when
asked (their controller would put them straight back); pods without a
controller, or with emptyDir data, are evicted only when asked, because nothing
brings them or their data back.  If any pod fails the check nothing is evicted.

The outcome is a :class:`DrainReport`: what was evicted, what was skipped, what
a budget blocked and what failed, and why.  A drain that did not finish leaves
the node cordoned, as kubectl does.

Every verb takes an async :class:`~kubeops.api.Client` (await it) or a
:class:`~kubeops.api.SyncClient` (it blocks and returns the result).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from kubeops.api import Client, Object, RetryPolicy, either_client, retry_on_conflict
from kubeops.api.retry import CONFLICT_ATTEMPTS
from kubeops.errors import (
    ApiError,
    Conflict,
    Forbidden,
    KubeopsError,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from kubeops.models.selector import Selector, SelectorError

__all__ = [
    "CordonResult",
    "DrainAborted",
    "DrainRefused",
    "DrainReport",
    "PodResult",
    "cordon",
    "drain",
    "uncordon",
]

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# kubectl waits five seconds before asking again for an eviction a budget refused.
DEFAULT_RETRY_INTERVAL = 5.0

Progress = Callable[[str], None]
Outcome = Literal["evicted", "terminating", "blocked", "failed", "skipped"]
_OUTCOMES: tuple[Outcome, ...] = ("evicted", "skipped", "blocked", "failed", "terminating")


@dataclass(frozen=True)
class CordonResult:
    """Whether a node is now marked unschedulable, and whether this call changed it."""

    node: str
    unschedulable: bool
    changed: bool
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The result for JSON output."""
        return {
            "node": self.node,
            "unschedulable": self.unschedulable,
            "changed": self.changed,
            "dryRun": self.dry_run,
        }


@dataclass(frozen=True)
class PodResult:
    """What a drain did with one pod.

    ``outcome`` is ``evicted`` (gone from the API, or accepted in a dry run),
    ``terminating`` (eviction accepted, pod not gone when the timeout came),
    ``blocked`` (a PodDisruptionBudget refused until the timeout; ``budgets``
    names the budgets covering the pod), ``failed`` (the server refused for
    another reason) or ``skipped`` (mirror and, when asked, DaemonSet pods).
    """

    namespace: str
    name: str
    outcome: Outcome
    reason: str = ""
    budgets: tuple[str, ...] = ()
    attempts: int = 0

    @property
    def key(self) -> str:
        """``NAMESPACE/NAME`` of the pod."""
        return f"{self.namespace}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """The result for JSON output."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "outcome": self.outcome,
            "reason": self.reason,
            "disruptionBudgets": list(self.budgets),
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class DrainReport:
    """The result of :func:`drain`; ``complete`` says every pod that had to go is gone."""

    node: str
    pods: tuple[PodResult, ...]
    cordoned: bool  # this drain cordoned the node (False: it already was)
    dry_run: bool = False
    elapsed: float = 0.0

    def _with(self, outcome: Outcome) -> list[PodResult]:
        return [p for p in self.pods if p.outcome == outcome]

    @property
    def evicted(self) -> list[PodResult]:
        """The pods evicted (gone, or accepted in a dry run)."""
        return self._with("evicted")

    @property
    def terminating(self) -> list[PodResult]:
        """The pods whose eviction was accepted but that were not gone at the timeout."""
        return self._with("terminating")

    @property
    def blocked(self) -> list[PodResult]:
        """The pods a PodDisruptionBudget kept until the timeout."""
        return self._with("blocked")

    @property
    def failed(self) -> list[PodResult]:
        """The pods whose eviction the server refused for another reason."""
        return self._with("failed")

    @property
    def skipped(self) -> list[PodResult]:
        """The pods left alone: mirror pods and, when asked, DaemonSet pods."""
        return self._with("skipped")

    @property
    def complete(self) -> bool:
        """Every pod that had to go is gone: nothing blocked, failed or still terminating."""
        return not (self.blocked or self.failed or self.terminating)

    def summary(self) -> str:
        """One line: ``node/n drained: 3 evicted, 1 skipped`` or what kept it from draining."""
        counts = ", ".join(
            f"{len(found)} {outcome}" for outcome in _OUTCOMES if (found := self._with(outcome))
        )
        verdict = "drained" if self.complete else "not drained"
        dry = " (server dry run)" if self.dry_run else ""
        line = f"node/{self.node} {verdict}{dry}: {counts or 'no pods to evict'}"
        if self.complete:
            return line
        problems = [
            f"{p.key} blocked by PodDisruptionBudget {', '.join(p.budgets) or '(unknown)'}"
            for p in self.blocked
        ]
        problems += [f"{p.key} failed: {p.reason}" for p in self.failed]
        problems += [f"{p.key} still terminating" for p in self.terminating]
        return f"{line}; {'; '.join(problems)}; the node stays cordoned"

    def to_dict(self) -> dict[str, Any]:
        """The report for JSON output."""
        return {
            "node": self.node,
            "complete": self.complete,
            "cordoned": self.cordoned,
            "dryRun": self.dry_run,
            "elapsedSeconds": round(self.elapsed, 3),
            "pods": [p.to_dict() for p in self.pods],
        }


class DrainAborted(KubeopsError):
    """The drain stopped on an error no retry helps (a forbidden eviction, an unreachable
    server); ``done`` lists the pods handled before it, ``cause`` is the error."""

    def __init__(self, node: str, cause: BaseException, done: list[PodResult]) -> None:
        self.node = node
        self.cause = cause
        self.done = done
        evicted = [p.key for p in done if p.outcome == "evicted"]
        before = f"; evicted before that: {', '.join(evicted)}" if evicted else ""
        super().__init__(
            f'drain of node "{node}" stopped: {cause}{before}; the node stays cordoned'
        )


class DrainRefused(KubeopsError):
    """Some pods on the node may not be evicted with the options given; nothing was evicted."""

    def __init__(self, node: str, refused: dict[str, list[str]], *, cordoned: bool) -> None:
        self.node = node
        self.refused = refused  # reason -> pod keys
        self.cordoned = cordoned
        parts = [f"{reason}: {', '.join(keys)}" for reason, keys in refused.items()]
        state = "node stays cordoned" if cordoned else "node was not changed"
        super().__init__(
            f'cannot drain node "{node}", nothing was evicted ({state}): ' + "; ".join(parts)
        )


# -- cordon and uncordon ---------------------------------------------------------------------


@either_client
async def cordon(client: Client, node: str, *, dry_run: bool = False) -> CordonResult:
    """Mark ``node`` unschedulable; pods already on it keep running."""
    return await _set_unschedulable(client, node, True, dry_run)


@either_client
async def uncordon(client: Client, node: str, *, dry_run: bool = False) -> CordonResult:
    """Mark ``node`` schedulable again."""
    return await _set_unschedulable(client, node, False, dry_run)


async def _set_unschedulable(
    client: Client, node: str, unschedulable: bool, dry_run: bool
) -> CordonResult:
    async def step() -> CordonResult:
        current = await client.get("nodes", node)
        if bool(current.get("spec", {}).get("unschedulable")) == unschedulable:
            return CordonResult(node, unschedulable, changed=False, dry_run=dry_run)
        # The resourceVersion makes the patch conditional, so "changed" is true: a
        # concurrent change gives a Conflict, and the node is read again.
        patch = {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
            "spec": {"unschedulable": True if unschedulable else None},
        }
        updated = await client.patch("nodes", node, patch, dry_run=dry_run)
        now = bool(updated.get("spec", {}).get("unschedulable"))
        return CordonResult(node, now, changed=True, dry_run=dry_run)

    try:
        return await retry_on_conflict(step)
    except Conflict as err:
        raise KubeopsError(
            f'{"cordon" if unschedulable else "uncordon"} node "{node}": '
            f"it kept changing under us ({CONFLICT_ATTEMPTS} conflicts in a row)"
        ) from err


# -- drain -----------------------------------------------------------------------------------


@either_client
async def drain(
    client: Client,
    node: str,
    *,
    ignore_daemonsets: bool = False,
    force: bool = False,
    delete_emptydir_data: bool = False,
    pod_selector: str | None = None,
    grace_period: int | None = None,
    timeout: float | None = None,
    retry_interval: float = DEFAULT_RETRY_INTERVAL,
    poll_interval: float = 1.0,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> DrainReport:
    """Cordon ``node`` and evict its pods through the Eviction API.

    * ``ignore_daemonsets`` skips DaemonSet pods (otherwise their presence refuses the drain);
    * ``force`` also evicts pods no controller manages (nothing recreates them);
    * ``delete_emptydir_data`` also evicts pods with emptyDir volumes (their data is lost);
    * ``pod_selector`` limits the drain to pods with matching labels;
    * ``grace_period`` overrides each pod's terminationGracePeriodSeconds;
    * ``timeout`` bounds the whole drain in seconds (None: wait as long as it takes,
      like kubectl); evictions a budget refuses are retried every ``retry_interval``;
    * ``dry_run`` sends the cordon and the evictions as server-side dry runs;
    * ``progress`` receives a line for each step worth telling a person who waits.

    Raises :class:`DrainRefused` when pods fail the checks above (nothing is evicted);
    the typed API errors (``NotFound``, ``Forbidden``...) for an unknown node or a
    refused cordon or pod list; :class:`DrainAborted` (with the typed error as its
    cause) when an eviction meets an error no retry helps, such as a forbidden verb or
    an unreachable server.  Evictions a budget still refuses at the timeout, or that
    the server rejects for one pod alone, end up in the report, not in an exception.
    """
    run = _Drain(
        node=node,
        ignore_daemonsets=ignore_daemonsets,
        force=force,
        delete_emptydir_data=delete_emptydir_data,
        pod_selector=pod_selector,
        grace_period=grace_period,
        timeout=timeout,
        retry_interval=retry_interval,
        poll_interval=poll_interval,
        dry_run=dry_run,
        progress=progress or (lambda _line: None),
    )
    return await run.run(client)


class _EvictionRetry(RetryPolicy):
    """The client's policy, except that a 429 comes back at once: for an eviction it
    means a PodDisruptionBudget said no, and the drain decides when to ask again."""

    def decide(
        self,
        attempt: int,
        *,
        method: str,
        status: int | None,
        retry_after: float | None,
        connection_error: bool,
        sent: bool = True,
    ) -> float | None:
        if status == 429:
            return None
        return super().decide(
            attempt,
            method=method,
            status=status,
            retry_after=retry_after,
            connection_error=connection_error,
            sent=sent,
        )


def _plan(
    pod: Object, *, ignore_daemonsets: bool, force: bool, delete_emptydir_data: bool
) -> tuple[Literal["evict", "skip", "refuse"], str]:
    """What a drain does with ``pod``, and why (kubectl's drain filters)."""
    meta = pod.get("metadata", {})
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return "skip", "mirror pod, owned by its kubelet"
    controller = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if controller is not None and controller.get("kind") == "DaemonSet":
        if ignore_daemonsets:
            return "skip", f"managed by DaemonSet {controller.get('name', '')}"
        return "refuse", "managed by a DaemonSet (use --ignore-daemonsets / ignore_daemonsets=True)"
    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return "evict", "finished"
    notes = []
    if controller is None:
        if not force:
            return "refuse", "declares no controller (use --force / force=True)"
        notes.append("declares no controller")
    if any("emptyDir" in v for v in pod.get("spec", {}).get("volumes") or []):
        if not delete_emptydir_data:
            return (
                "refuse",
                "has emptyDir data (use --delete-emptydir-data / delete_emptydir_data=True)",
            )
        notes.append("emptyDir data deleted")
    return "evict", ", ".join(notes)


def _key(pod: Object) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


@dataclass
class _Drain:
    node: str
    ignore_daemonsets: bool
    force: bool
    delete_emptydir_data: bool
    pod_selector: str | None
    grace_period: int | None
    timeout: float | None
    retry_interval: float
    poll_interval: float
    dry_run: bool
    progress: Progress
    deadline: float | None = None
    _present: set[str] = field(default_factory=set)  # uids of the pods still on the node
    _waiting: dict[str, asyncio.Event] = field(default_factory=dict)  # set once a pod is gone
    _budgets: dict[str, list[Object]] = field(default_factory=dict)

    async def run(self, client: Client) -> DrainReport:
        started = time.monotonic()
        if self.timeout is not None:
            self.deadline = started + self.timeout
        if self.pod_selector:
            try:
                Selector.parse(self.pod_selector)
            except SelectorError as err:
                raise KubeopsError(f'drain node "{self.node}": bad pod selector: {err}') from err
        cordoned = await _set_unschedulable(client, self.node, True, self.dry_run)
        if cordoned.changed:
            self.progress(
                f"node/{self.node} cordoned" + (" (server dry run)" if self.dry_run else "")
            )
        pods = await self._pods_on_node(client)
        results: list[PodResult] = []
        to_evict: list[Object] = []
        refused: dict[str, list[str]] = {}
        for pod in pods:
            action, reason = _plan(
                pod,
                ignore_daemonsets=self.ignore_daemonsets,
                force=self.force,
                delete_emptydir_data=self.delete_emptydir_data,
            )
            meta = pod["metadata"]
            if action == "skip":
                results.append(
                    PodResult(meta.get("namespace", ""), meta["name"], "skipped", reason)
                )
            elif action == "refuse":
                refused.setdefault(reason, []).append(_key(pod))
            else:
                to_evict.append(pod)
        if refused:
            raise DrainRefused(self.node, refused, cordoned=not self.dry_run)
        for skipped in results:
            self.progress(f"skipping pod {skipped.key}: {skipped.reason}")
        if to_evict:
            results += await self._evict_all(client, to_evict)
        order = {_key(p): i for i, p in enumerate(pods)}
        results.sort(key=lambda r: order.get(r.key, 0))
        return DrainReport(
            self.node,
            tuple(results),
            cordoned=cordoned.changed,
            dry_run=self.dry_run,
            elapsed=time.monotonic() - started,
        )

    async def _pods_on_node(self, client: Client) -> list[Object]:
        listed = await client.list(
            "pods",
            all_namespaces=True,
            field_selector=f"spec.nodeName={self.node}",
            label_selector=self.pod_selector,
        )
        items: list[Object] = listed["items"]
        return items

    async def _evict_all(self, client: Client, pods: list[Object]) -> list[PodResult]:
        # A view of the client: same pool and rate budget, its own answer to a 429.
        base = client.retry_policy
        evictions = client.with_options(retry=_EvictionRetry(base.max_retries, base.backoff))
        self._present = {p["metadata"]["uid"] for p in pods}
        results: list[PodResult] = []

        async def evict(pod: Object) -> None:
            results.append(await self._evict(client, evictions, pod))

        poller = asyncio.get_running_loop().create_task(self._poll(client))
        try:
            # The first error no retry helps stops every eviction still under way.
            async with asyncio.TaskGroup() as group:
                for pod in pods:
                    group.create_task(evict(pod))
        except BaseExceptionGroup as failed:
            cause = failed.exceptions[0]
            raise DrainAborted(self.node, cause, results) from cause
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        return results

    async def _evict(self, client: Client, evictions: Client, pod: Object) -> PodResult:
        meta = pod["metadata"]
        namespace, name, uid = meta.get("namespace", ""), meta["name"], meta["uid"]
        eviction: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
            "deleteOptions": {"preconditions": {"uid": uid}},
        }
        if self.grace_period is not None:
            eviction["deleteOptions"]["gracePeriodSeconds"] = self.grace_period
        if self.dry_run:
            eviction["deleteOptions"]["dryRun"] = ["All"]
        attempts = 0
        self.progress(f"evicting pod {namespace}/{name}")
        while True:
            attempts += 1
            try:
                await evictions.create(
                    eviction,
                    namespace,
                    kind="pods",
                    name=name,
                    subresource="eviction",
                    dry_run=self.dry_run,
                )
                break
            except NotFound:
                return PodResult(namespace, name, "evicted", "already gone", attempts=attempts)
            except Conflict:
                # The uid precondition failed (the pod was replaced), or a write raced ours.
                if await self._gone(client, namespace, name, uid):
                    return PodResult(namespace, name, "evicted", "already gone", attempts=attempts)
                await asyncio.sleep(min(self.retry_interval, 1.0))
                continue
            except TooManyRequests as err:
                budgets = await self._budgets_for(client, pod)
                wait = max(err.retry_after or 0.0, self.retry_interval)
                if self.deadline is not None and time.monotonic() + wait > self.deadline:
                    return PodResult(
                        namespace, name, "blocked", _refusal(err), tuple(budgets), attempts
                    )
                self.progress(
                    f"pod {namespace}/{name}: eviction refused: {_refusal(err)}; "
                    f"retrying in {wait:g}s"
                )
                await asyncio.sleep(wait)
                continue
            except (Forbidden, Unauthorized):
                raise
            except ApiError as err:
                self.progress(f"pod {namespace}/{name}: eviction failed: {err}")
                return PodResult(namespace, name, "failed", str(err), attempts=attempts)
        if self.dry_run:
            return PodResult(namespace, name, "evicted", "server dry run", attempts=attempts)
        if await self._departed(uid):
            self.progress(f"pod {namespace}/{name} evicted")
            return PodResult(namespace, name, "evicted", "", attempts=attempts)
        return PodResult(
            namespace, name, "terminating", "still terminating at the timeout", attempts=attempts
        )

    async def _gone(self, client: Client, namespace: str, name: str, uid: str) -> bool:
        try:
            current = await client.get("pods", name, namespace)
        except NotFound:
            return True
        return bool(current["metadata"].get("uid") != uid)

    async def _departed(self, uid: str) -> bool:
        """Wait until the poller no longer sees ``uid``; False when the deadline came first."""
        gone = self._waiting.setdefault(uid, asyncio.Event())
        if uid not in self._present:
            return True
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        try:
            await asyncio.wait_for(gone.wait(), remaining)
        except TimeoutError:
            return False
        return True

    async def _poll(self, client: Client) -> None:
        """One list of the node's pods per interval serves every pod waiting to be gone."""
        last_report = time.monotonic()
        while True:
            await asyncio.sleep(self.poll_interval)
            if all(gone.is_set() for gone in self._waiting.values()):
                continue
            try:
                listed = await self._pods_on_node(client)
            except KubeopsError as err:
                # The client has retried already; the next round tries again.
                self.progress(f"listing the pods on node/{self.node} failed: {err}")
                continue
            self._present &= {p["metadata"]["uid"] for p in listed}
            for uid, gone in self._waiting.items():
                if uid not in self._present:
                    gone.set()
            waiting = [uid for uid, gone in self._waiting.items() if not gone.is_set()]
            if waiting and time.monotonic() - last_report >= 5:
                self.progress(f"waiting for {len(waiting)} evicted pod(s) to be gone")
                last_report = time.monotonic()

    async def _budgets_for(self, client: Client, pod: Object) -> list[str]:
        namespace = pod["metadata"].get("namespace", "")
        if namespace not in self._budgets:
            try:
                listed = await client.list("poddisruptionbudgets.policy", namespace)
                self._budgets[namespace] = listed["items"]
            except ApiError:
                self._budgets[namespace] = []  # naming the budget is a courtesy, not a need
        labels = pod["metadata"].get("labels") or {}
        return [
            b["metadata"]["name"]
            for b in self._budgets[namespace]
            if _selects(b.get("spec", {}).get("selector"), labels)
        ]


def _selects(selector: Any, labels: dict[str, str]) -> bool:
    try:
        return Selector.from_label_selector(selector).matches(labels)
    except SelectorError:
        return False


def _refusal(err: ApiError) -> str:
    """The server's message and the causes it gives (e.g. how many healthy pods a budget needs)."""
    causes: Iterable[Any] = err.details.get("causes") or []
    extra = [str(c.get("message")) for c in causes if isinstance(c, dict) and c.get("message")]
    return " ".join([err.message, *extra])
