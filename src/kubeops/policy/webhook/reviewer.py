"""One admission review under a deadline, its policies evaluated off the event loop,
each judged by its failure policy when it cannot decide in time.

The API server waits ``timeoutSeconds`` for the webhook and then applies the
configuration's failurePolicy to the whole request -- so the webhook must answer
first, and answer what the policies (not a timeout) decide.  A review has a
deadline (80% of ``timeoutSeconds`` by default).  Its policies run one after
another in one job of a bounded thread pool (a :class:`~.batch.Batch`: a thread
hop costs more than a CEL policy), so the event loop keeps answering probes and
other reviews.  A policy running longer than a tenth of the deadline is *slow*:
the policies after it move to another thread, and for a while it gets a thread
of its own in every review.  A policy still running at the deadline is abandoned
(a thread cannot be stopped: it finishes in the background) and judged by its own
failurePolicy.  The pool has room for as many abandoned runs as it has workers;
once that room is full, a slow policy with a run still going is judged at once
rather than given another thread -- so slow policies can never take every
thread, and until then a slow policy still decides the requests it does not
match.  A review that cannot even start before its deadline (too many in flight)
is answered by the webhook's failure mode.

A policy whose cost is bounded by the object it reads (``inline``: CEL with no
authorizer or params) is evaluated on the event loop itself when the request is
small: at 200 reviews/s the hop to a thread and back, and the two threads taking
the GIL from each other, cost more than thirty such policies do.  One that takes
longer than :data:`INLINE_SLOW` there is slow, and goes to the threads as above.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kubeops.controller.serving import log_event
from kubeops.policy.model import (
    Action,
    Context,
    FailurePolicy,
    Object,
    Policy,
    PolicyEvaluationError,
    Review,
    Violation,
)
from kubeops.policy.verdict import evaluate
from kubeops.policy.webhook.answer import Found, response, verdict_response
from kubeops.policy.webhook.batch import Batch
from kubeops.policy.webhook.metrics import WebhookMetrics

LOG = logging.getLogger(__name__)
SPLIT_FRACTION = 0.1
"""A policy running longer than this part of the deadline is slow: the policies after
it move to another thread, and it runs on a thread of its own for a while."""
WARM_UP = Review.of_object(
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "warm-up", "namespace": "default"},
    }
)
FOLD_SECONDS = 10.0
SLOW_MEMORY = 60.0
"""Seconds a slow policy keeps a thread of its own after it was last slow."""
INLINE_MAX_BYTES = 256 * 1024
"""A request up to this size has its ``inline`` policies evaluated on the event loop."""
INLINE_SLOW = 0.005
"""CPU seconds an ``inline`` policy may take on the loop before it counts as slow."""


class Reviewer:
    """Decides admission reviews with ``policies`` and ``context``.

    ``deadline`` is the seconds a review may take; ``failure_policy`` what a review
    that cannot be decided in time answers (``Fail``: refuse, ``Ignore``: allow
    with a warning); ``workers`` threads evaluate policies; at most ``max_in_flight``
    reviews are evaluated at once, the others wait for a place within their deadline.
    """

    def __init__(
        self,
        policies: Sequence[Policy],
        context: Context,
        *,
        deadline: float,
        failure_policy: FailurePolicy = FailurePolicy.FAIL,
        workers: int = 4,
        max_in_flight: int = 64,
        metrics: WebhookMetrics | None = None,
    ) -> None:
        self.policies = tuple(policies)
        self._inline = tuple(bool(getattr(p, "inline", False)) for p in self.policies)
        self._rank = {p.name: i for i, p in enumerate(self.policies)}
        self.context = context
        self.deadline = deadline
        self.failure_policy = failure_policy
        self.metrics = metrics or WebhookMetrics()
        self.metrics.policies.set(len(self.policies))
        self._threads = 2 * workers  # room for as many abandoned runs as workers
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._threads, thread_name_prefix="policy"
        )
        self.workers = workers
        self._places = asyncio.Semaphore(max_in_flight)
        self._slow_until: dict[str, float] = {}
        self._folded: dict[tuple[str, str], tuple[float, int]] = {}
        self._running: dict[str, int] = {}
        """Abandoned evaluations still running, per policy."""
        self._lock = threading.Lock()
        self.in_flight = 0

    @property
    def abandoned(self) -> int:
        """Runs past their deadline still holding a thread."""
        with self._lock:
            return sum(self._running.values())

    def close(self) -> None:
        """Stop taking work; abandoned evaluations finish in the background."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def warm_up(self, timeout: float = 5.0) -> None:
        """Evaluate every policy once on every worker thread (a synthetic ConfigMap), and
        the ``inline`` ones on the loop, so the first reviews find each engine's
        per-thread state built."""
        threads = self._threads
        meet = threading.Barrier(threads, timeout=timeout)

        def warm() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                meet.wait()  # one job per thread: the pool starts every one of them
            for policy in self.policies:
                with contextlib.suppress(BaseException):  # what fails counts at a review
                    policy.evaluate(WARM_UP, self.context)

        jobs = [asyncio.wrap_future(self._pool.submit(warm)) for _ in range(threads)]
        await asyncio.wait(jobs, timeout=timeout)
        for policy, inline in zip(self.policies, self._inline, strict=True):
            if inline:  # and on the loop, where small requests meet these
                with contextlib.suppress(Exception):
                    policy.evaluate(WARM_UP, self.context)

    async def review(self, request: Mapping[str, Any], size: int = 0) -> dict[str, Any]:
        """The AdmissionReview answering ``request`` (an AdmissionReview's request,
        ``size`` bytes long as received)."""
        started = time.monotonic()
        uid = str(request.get("uid") or "")
        self.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            answer = await self._review(request, uid, started, size)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()
            self.metrics.latency.observe(time.monotonic() - started)
        return answer

    async def _review(
        self, request: Mapping[str, Any], uid: str, started: float, size: int
    ) -> dict[str, Any]:
        try:
            review = Review.of_admission(request)
        except ValueError as err:  # an operation this model does not know
            return self.undecided(uid, f"cannot read the request: {err}")
        if self._places.locked():  # wait_for costs a task and a timer: only when full
            try:
                await asyncio.wait_for(self._places.acquire(), self._left(started))
            except TimeoutError:
                return self.undecided(uid, f"{self.in_flight} reviews in flight; no place in time")
        else:
            await self._places.acquire()  # a free place: taken at once
        try:
            found, warnings = await self._evaluate(review, started, size <= INLINE_MAX_BYTES)
        finally:
            self._places.release()
        answer = verdict_response(uid, found, warnings)
        self._record(review, found, answer)
        return answer

    def _left(self, started: float) -> float:
        return max(0.0, started + self.deadline - time.monotonic())

    async def _evaluate(
        self, review: Review, started: float, small: bool
    ) -> tuple[list[Found], list[str]]:
        found: list[Found] = []
        warnings: list[str] = []
        jobs: dict[asyncio.Future[None], tuple[Batch, concurrent.futures.Future[None]]] = {}

        context = _OneReview(self.context)

        def start(policies: Sequence[Policy]) -> None:
            batch = Batch(policies)
            job = self._pool.submit(batch.run, lambda policy: self._run(policy, review, context))
            jobs[asyncio.wrap_future(job)] = (batch, job)

        slow = self._slow_now()
        here: list[Policy] = []
        together: list[Policy] = []
        for policy, inline in zip(self.policies, self._inline, strict=True):
            if policy.name not in slow:
                (here if inline and small else together).append(policy)
            elif self._too_busy(policy.name):
                why = "still deciding an earlier request"
                found.extend(self._judge(policy, review, "busy", why))
            else:  # slow lately: on a thread of its own, not holding the others up
                start([policy])
        if together:
            start(together)
        for policy in here:  # while the threads work
            began = time.thread_time()  # its own cost, not a busy machine's preemptions
            found.extend(self._run(policy, review, context))
            if time.thread_time() - began > INLINE_SLOW:
                self._mark_slow(policy.name)
        if not jobs:
            return self._in_order(found), warnings
        split_after = self.deadline * SPLIT_FRACTION
        while (left := self._left(started)) > 0:
            pending = [waited for waited in jobs if not waited.done()]
            if not pending:
                break
            await asyncio.wait(pending, timeout=min(left, split_after / 2))
            now = time.monotonic()
            for waited, (batch, _) in list(jobs.items()):
                current, since = batch.running()
                if not waited.done() and current is not None and now - since > split_after:
                    self._mark_slow(current.name)  # the policies after it move on
                    rest = batch.cut()
                    if rest:
                        start(rest)
        for waited, (batch, job) in jobs.items():
            decided, current, rest = batch.close()
            found.extend(decided)
            if waited.done():
                continue
            waited.cancel()
            late: list[tuple[Policy, str, str]] = []
            if not job.cancel() and current is not None:  # it finishes on its own, once
                self._abandon(current.name, job)
                self._mark_slow(current.name)
                late.append((current, "timeout", f"did not decide within {self.deadline:g}s"))
            late.extend((p, "busy", f"was not started within {self.deadline:g}s") for p in rest)
            for policy, cause, why in late:
                found.extend(self._judge(policy, review, cause, why))
                if policy.failure_policy == FailurePolicy.IGNORE:
                    warnings.append(f"policy {policy.name} {why}; ignored (failurePolicy Ignore)")
        return self._in_order(found), warnings

    def _in_order(self, found: list[Found]) -> list[Found]:
        """``found`` in the policies' order, wherever each was decided: the answer's
        message and code come from its first denial."""
        rank = self._rank
        found.sort(key=lambda item: rank.get(item.violation.policy, len(rank)))
        return found

    def _fold(self, key: tuple[str, str]) -> int | None:
        """None when the same line was logged less than :data:`FOLD_SECONDS` ago (it is
        counted); else how many were folded since (a slow policy under load would
        otherwise log once per request)."""
        now = time.monotonic()
        with self._lock:
            since, folded = self._folded.get(key, (-FOLD_SECONDS, 0))
            if now - since < FOLD_SECONDS:
                self._folded[key] = (since, folded + 1)
                return None
            if len(self._folded) > 1024:
                self._folded.clear()
            self._folded[key] = (now, 0)
            return folded

    def _slow_now(self) -> frozenset[str]:
        """The policies slow lately (none, nearly always: then no lock is taken)."""
        if not self._slow_until:
            return frozenset()
        now = time.monotonic()
        with self._lock:
            for name in [n for n, until in self._slow_until.items() if until <= now]:
                del self._slow_until[name]
            return frozenset(self._slow_until)

    def _mark_slow(self, name: str) -> None:
        with self._lock:
            self._slow_until[name] = time.monotonic() + SLOW_MEMORY

    def _run(self, policy: Policy, review: Review, context: Context) -> list[Found]:
        """One policy on one review, in a worker thread; never raises."""
        try:
            verdict = evaluate((policy,), review, context)
        except BaseException as err:  # an engine's bug (a Rust panic is a BaseException) is
            # that policy's failure, not the webhook's: judged by its failurePolicy
            return self._judge(policy, review, "error", f"{type(err).__name__}: {err}")
        for error in verdict.ignored_errors:
            self.metrics.errors.labels(policy.name, "error").inc()
            log_event(
                LOG,
                logging.WARNING,
                "policy error ignored",
                policy=policy.name,
                error=error.cause,
                subject=review.describe(),
                **_about(review),
            )
        for violation in verdict.violations:
            if violation.reason == "InternalError":
                self.metrics.errors.labels(policy.name, "error").inc()
        return [Found(policy.engine, v) for v in verdict.violations]

    def _judge(self, policy: Policy, review: Review, cause: str, why: str) -> list[Found]:
        """A policy that could not decide, by its failurePolicy: a denial, or nothing."""
        self.metrics.errors.labels(policy.name, cause).inc()
        error = PolicyEvaluationError(policy.name, why)
        repeated = self._fold((policy.name, cause))
        if repeated is not None:
            fields: dict[str, Any] = {"repeated": repeated} if repeated else {}
            log_event(
                LOG,
                logging.WARNING,
                "policy could not decide",
                policy=policy.name,
                cause=cause,
                error=why,
                subject=review.describe(),
                **_about(review),
                failurePolicy=str(policy.failure_policy),
                **fields,
            )
        if policy.failure_policy == FailurePolicy.IGNORE:
            return []
        violation = Violation(
            policy=policy.name,
            message=f"policy {policy.name} could not be evaluated: {error.cause}",
            reason="InternalError",
            subject=review.describe(),
        )
        return [Found("webhook", violation)]

    def _too_busy(self, name: str) -> bool:
        """Whether ``name`` must not get another thread: the pool's room for runs past
        their deadline is full, and one of them is this policy's."""
        with self._lock:
            return self._running.get(name, 0) > 0 and sum(self._running.values()) >= self.workers

    def _abandon(self, name: str, job: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._running[name] = self._running.get(name, 0) + 1

        def finished(_: concurrent.futures.Future[Any]) -> None:
            with self._lock:
                self._running[name] -= 1

        job.add_done_callback(finished)

    def undecided(self, uid: str, why: str) -> dict[str, Any]:
        """A review not decided in time: the webhook's failure mode answers."""
        text = f"kubeops policy webhook could not decide: {why}"
        log_event(
            LOG,
            logging.WARNING,
            "review not decided",
            uid=uid,
            error=why,
            failurePolicy=str(self.failure_policy),
        )
        if self.failure_policy == FailurePolicy.FAIL:
            self.metrics.reviews.labels("failed_closed").inc()
            return response(uid, allowed=False, message=f"{text} (fail-closed)")
        self.metrics.reviews.labels("failed_open").inc()
        return response(uid, allowed=True, warnings=[f"{text}; allowed (fail-open)"])

    def _record(self, review: Review, found: Sequence[Found], answer: Mapping[str, Any]) -> None:
        allowed = bool(answer["response"]["allowed"])
        self.metrics.reviews.labels("allowed" if allowed else "denied").inc()
        user = str(review.user_info.get("username") or "")
        for item in found:
            violation = item.violation
            for action in sorted(violation.actions):
                self.metrics.decisions.labels(violation.policy, action.value.lower()).inc()
            if Action.AUDIT in violation.actions:
                log_event(
                    LOG,
                    logging.INFO,
                    "audit",
                    policy=violation.policy,
                    violation=violation.message,
                    subject=review.describe(),
                    **_about(review),
                    operation=str(review.operation),
                    user=user,
                    uid=review.uid,
                )
        if not allowed:
            log_event(
                LOG,
                logging.INFO,
                "denied",
                subject=review.describe(),
                **_about(review),
                operation=str(review.operation),
                user=user,
                uid=review.uid,
                policies=sorted({f.violation.policy for f in found if f.violation.denies}),
            )


class _OneReview:
    """The context of one review: each Namespace looked up once (every CEL policy asks
    for the request's; 30 cache lookups a review were 4 % of the webhook's time at
    200 reviews/s), the same answer for every policy; the rest asked as it comes."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._namespaces: dict[str, Object | None] = {}

    def namespace(self, name: str) -> Object | None:
        """The Namespace ``name``, as the first policy to ask it was told."""
        try:
            return self._namespaces[name]
        except KeyError:
            found = self._namespaces[name] = self._context.namespace(name)
            return found

    def objects(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> Sequence[Object]:
        """Objects of a kind, from the webhook's context."""
        return self._context.objects(api_version, kind, namespace)

    def authorize(self, attributes: Mapping[str, Any]) -> tuple[str, str] | None:
        """A SubjectAccessReview's answer, from the webhook's context."""
        return self._context.authorize(attributes)


def _about(review: Review) -> dict[str, str]:
    """The log keys of the object a review is about (those it has)."""
    found = {"kind": review.kind.kind, "namespace": review.namespace, "name": review.name}
    return {k: v for k, v in found.items() if v}
