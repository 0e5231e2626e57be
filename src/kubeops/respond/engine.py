"""The engine: an event in, every matching rule's actions planned, limited, claimed,
run and audited.

For each event, every rule whose trigger matches (:func:`trigger_matches`, pure)
and whose CEL conditions hold *fires*; then for each of its actions, in order:

1. ``action_id = identity_of(rule, index, event.identity)`` -- the same on every
   replica and after a restart;
2. the kill switch (the control ConfigMap, or the ``respond.kubeops.io/paused``
   annotation on the event's object) -> suppressed/paused;
3. the limits that need no plan (deduplication, rule and global rates) ->
   suppressed/<limit>, so a storm's suppressed events cost no API request;
4. plan (reads only; a planning error fails the action); the pause annotation on
   the plan's target when it is another object -> suppressed/paused; then every limit
   (cooldown per target and blast radius too), admitted and recorded in one
   synchronous step so concurrent events cannot share a last slot (or, for limits
   shared by several active replicas, :class:`AsyncLimits`, one compare-and-swap in
   the cluster);
5. dry run (global, the rule set's, or the rule's) -> dry-run: nothing written;
6. the ledger claim in the cluster -> suppressed/already-done when any replica
   claimed it before; a ledger that cannot be written fails the action unrun;
7. execute, then finish the claim as succeeded or failed.

Every step's outcome is a :class:`Decision`, written to the audit log and
counted in the metrics; events no rule matches are only counted.  A condition
whose evaluation fails (a missing field) does not match and is audited as failed
with the CEL error, so a wrong rule is visible rather than silent.

:meth:`Engine.submit` is the sources' ``emit``: events about different objects
run concurrently (bounded), events about one object in the order they came.

When tracing, an event is one trace: a ``respond.event`` span while it is handled
(in the trace of whoever submitted it, if any: the engine's task carries the
submitter's context), a ``respond.rule`` span for each rule whose trigger matches
(conditions and actions), a ``respond.action`` span for each action, holding its
API requests.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kubeops import telemetry
from kubeops.config.redact import error_line
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.event import (
    DERIVED,
    RESOURCE,
    USAGE,
    Event,
    ObjectRef,
    identity_of,
    is_own_record,
)
from kubeops.respond.killswitch import object_paused, ref_paused
from kubeops.respond.limits import Limits
from kubeops.respond.model import Rule, Trigger
from kubeops.respond.outcome import (
    ALREADY_DONE,
    DEDUPLICATED,
    DRY_RUN,
    FAILED,
    FIRED,
    GLOBAL_RATE,
    PAUSED,
    RULE_RATE,
    SUCCEEDED,
    SUPPRESSED,
)

if TYPE_CHECKING:
    from kubeops.api import Client
    from kubeops.cel import Program
    from kubeops.models.selector import Selector
    from kubeops.respond.action import Action
    from kubeops.respond.ledger import Ledger, LedgerEntry
    from kubeops.respond.metrics import RespondMetrics
    from kubeops.respond.rules import RuleSet

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16
"""Events handled at once (about different objects)."""
DEFAULT_BACKLOG = 10_000
"""Events submitted and not yet handled before :meth:`Engine.submit` waits."""
# Limits that do not look at the plan (its target, scale or Nodes).
_PLANLESS_LIMITS = frozenset({DEDUPLICATED, RULE_RATE, GLOBAL_RATE})
# Sources whose events carry the object the trigger's kind, namespaces and selector describe.
_OBJECT_SOURCES = frozenset({"", RESOURCE, DERIVED, USAGE})


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision of the engine for one rule and one event (and one action)."""

    time: datetime.datetime
    rule: str
    event_name: str
    event_source: str
    event_identity: str
    subject: str
    outcome: str
    action: str = ""
    """The action's kind; empty for the rule's own decision (fired, or a failed condition)."""
    action_index: int = -1
    action_id: str = ""
    reason: str = ""
    detail: str = ""
    dry_run: bool = False
    target: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The decision as JSON data (``time`` as RFC 3339)."""
        data = asdict(self)
        data["time"] = self.time.isoformat()
        return data


class AsyncLimits(Protocol):
    """Limits whose admission is a request (several replicas' shared limits,
    :class:`~kubeops.respond.shared_limits.SharedLimits`): the engine awaits it.  The
    in-memory :class:`~kubeops.respond.limits.Limits` stay synchronous and pay nothing."""

    @property
    def horizon(self) -> float:
        """The longest time any limit looks back, in seconds."""
        ...

    def check(self, rule: Rule, event: Event, plan: Plan, now: float) -> str | None:
        """What stops the action on the state last seen (no request, no slot taken)."""
        ...

    async def admit_async(self, rule: Rule, event: Event, plan: Plan, now: float) -> str | None:
        """Every limit decided and the slot taken, for every replica at once."""
        ...

    async def release_async(self, rule: Rule, event: Event, plan: Plan, now: float) -> None:
        """Give back the slot taken at ``now`` by an action that did not run."""
        ...


# --- matching ----------------------------------------------------------------------------------


def trigger_matches(trigger: Trigger, event: Event, selector: Selector | None = None) -> bool:
    """Whether ``event`` is one ``trigger`` names: source (``""``: any), names, and for
    events about the object itself the kind/apiVersion, namespaces and label
    ``selector`` (parsed from ``trigger.selector`` when not given); then the source's
    own checks of its params.  The CEL condition is not evaluated here."""
    if trigger.source and trigger.source != event.source:
        return False
    if trigger.names and event.name not in trigger.names:
        return False
    obj = event.object
    if is_own_record(obj):
        return False
    if trigger.source in _OBJECT_SOURCES:
        if trigger.kind and trigger.source != USAGE:
            if obj is None or str(obj.get("kind") or "").lower() != trigger.kind.lower():
                return False
            if trigger.api_version and obj.get("apiVersion") != trigger.api_version:
                return False
        if not _in_scope(trigger, obj, selector):
            return False
    return _source_matches(trigger, event)


def _in_scope(trigger: Trigger, obj: Mapping[str, Any] | None, selector: Selector | None) -> bool:
    if not trigger.namespaces and not trigger.selector:
        return True
    if obj is None:
        return False
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    if trigger.namespaces and namespace and namespace not in trigger.namespaces:
        return False
    if trigger.selector:
        if selector is None:
            from kubeops.models.selector import parse_selector

            selector = parse_selector(trigger.selector)
        return selector.matches(meta.get("labels") or {})
    return True


def _source_matches(trigger: Trigger, event: Event) -> bool:
    """The source's own matcher for its params (all events match when it has none)."""
    if not trigger.source:
        return True
    matcher = _SOURCE_MATCHERS.get(trigger.source, _unset)
    if matcher is _unset:
        matcher = _load_matcher(trigger.source)
        _SOURCE_MATCHERS[trigger.source] = matcher
    return True if matcher is None else bool(matcher(trigger, event))


def _unset(trigger: Trigger, event: Event) -> bool:  # pragma: no cover - a marker
    return True


_SOURCE_MATCHERS: dict[str, Callable[[Trigger, Event], bool] | None] = {}


def _load_matcher(source: str) -> Callable[[Trigger, Event], bool] | None:
    try:
        from kubeops.respond.sources import SOURCES
    except ImportError:  # pragma: no cover - the package is always there
        return None
    entry = SOURCES.get(source)
    return getattr(entry, "matches", None) if entry is not None else None


# --- the engine --------------------------------------------------------------------------------


class Engine:
    """Handles events for a :class:`~kubeops.respond.rules.RuleSet`; see the module doc.

    ``client`` None plans nothing against a cluster (replay without one): every
    action is then dry run with a plan naming only what it would act on.
    ``now`` gives the time limits count with for an event (wall clock by default;
    replay uses the event's own time).
    """

    def __init__(
        self,
        client: Client | None,
        ruleset: RuleSet,
        *,
        audit: Any = None,
        ledger: Ledger | None = None,
        limits: Limits | AsyncLimits | None = None,
        kill_switch: Any = None,
        dry_run: bool = False,
        metrics: RespondMetrics | None = None,
        settings: Any = None,
        replica: str = "",
        concurrency: int = DEFAULT_CONCURRENCY,
        backlog: int = DEFAULT_BACKLOG,
        now: Callable[[Event], float] | None = None,
    ) -> None:
        self.client = client
        self.ruleset = ruleset
        self.audit = audit
        self.ledger = ledger
        self.limits: Limits | AsyncLimits = (
            limits if limits is not None else Limits(ruleset.rules, ruleset.limits)
        )
        self.kill_switch = kill_switch
        self.dry_run = dry_run or ruleset.limits.dry_run or client is None
        self.metrics = metrics
        self.settings = settings
        self.replica = replica
        self._now = now or (lambda _event: time.time())
        self._event_clock = now is not None
        self._selectors = _selectors(ruleset.rules)
        self._programs: dict[str, Program] = {}
        self._running = asyncio.Semaphore(max(1, concurrency))
        self._backlog = asyncio.Semaphore(max(1, backlog))
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[asyncio.Task[None], datetime.datetime] = {}
        self.decisions_seen = 0

    # -- dispatch -------------------------------------------------------------------------------

    async def submit(self, event: Event) -> asyncio.Task[None]:
        """Queue ``event``: after earlier events about the same object, concurrently with
        others; waits while the backlog is full.  Errors are logged, never raised.

        Returns the task that handles it: a source that must know when an event's
        actions are recorded (the Kafka consumer, before committing its offset) awaits it."""
        await self._backlog.acquire()
        key = _order_key(event)
        previous = self._tails.get(key)
        # The task copies the submitter's context: a trace it is in continues there.
        task = asyncio.create_task(self._run_after(previous, event))
        self._tails[key] = task
        self._pending[task] = event.time

        def done(finished: asyncio.Task[None]) -> None:
            self._pending.pop(finished, None)
            self._backlog.release()
            if self._tails.get(key) is finished:
                del self._tails[key]

        task.add_done_callback(done)
        return task

    async def _run_after(self, previous: asyncio.Task[None] | None, event: Event) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        async with self._running:
            try:
                await self.handle(event)
            except Exception:
                log.exception("respond: handling event %s from %s failed", event.name, event.source)

    def pending_since(self) -> datetime.datetime | None:
        """The earliest time of the events submitted and not yet handled (None when
        idle): how far back a watermark may claim everything was processed."""
        return min(self._pending.values(), default=None)

    async def drain(self) -> None:
        """Wait until every submitted event has been handled."""
        while self._pending:
            await asyncio.wait(list(self._pending))

    # -- handling -------------------------------------------------------------------------------

    async def handle(self, event: Event) -> list[Decision]:
        """Every decision for ``event``, in order (empty when no rule matches)."""
        with telemetry.span("respond.event", _event_attributes(event)):
            return await self._handle(event)

    async def _handle(self, event: Event) -> list[Decision]:
        if self.metrics is not None:
            self.metrics.event(event.source, event.name)
        decisions: list[Decision] = []
        activation: dict[str, Any] | None = None
        for rule in self.ruleset.rules:
            if not trigger_matches(rule.trigger, event, self._selectors.get(rule.trigger.selector)):
                continue
            with telemetry.span("respond.rule", _rule_attributes(rule)) as span:
                conditions = (rule.trigger.condition, *rule.conditions)
                if any(conditions):
                    if activation is None:
                        activation = event.as_activation()
                    failed, holds = self._conditions(conditions, activation)
                    if failed:
                        telemetry.fail(span, failed, "condition")
                        decisions.append(await self._decide(rule, event, FAILED, detail=failed))
                        continue
                    if not holds:
                        span.set_attribute("kubeops.rule.outcome", "not-matched")
                        continue
                span.set_attribute("kubeops.rule.outcome", FIRED)
                decisions.append(await self._decide(rule, event, FIRED))
                for index, action in enumerate(self.ruleset.actions.get(rule.name, ())):
                    with telemetry.span(
                        "respond.action", _action_attributes(rule, action.spec.kind, index)
                    ) as acting:
                        decision = await self._act(rule, index, action, event)
                        _record(acting, decision)
                    decisions.append(decision)
        return decisions

    def _conditions(
        self, conditions: Iterable[str], activation: dict[str, Any]
    ) -> tuple[str, bool]:
        """("", True) when every condition holds, ("", False) when one does not, or
        (the CEL error, False) when one cannot be evaluated."""
        from kubeops.cel import CelError, compile

        for text in conditions:
            if not text:
                continue
            program = self._programs.get(text)
            try:
                if program is None:
                    program = self._programs[text] = compile(text)
                if not program.matches(activation):
                    return "", False
            except CelError as err:
                return f"condition: {err}", False
        return "", True

    def _dry(self, rule: Rule) -> bool:
        return self.dry_run or rule.safety.dry_run

    async def _act(self, rule: Rule, index: int, action: Action, event: Event) -> Decision:
        spec = action.spec
        action_id = identity_of(rule.name, index, event.identity)
        dry = self._dry(rule)
        say = _Sayer(self, rule, event, index, spec.kind, action_id, dry)
        ctx = ActionContext(
            client=self.client,  # type: ignore[arg-type]  # None only for planless replays
            event=event,
            rule=rule,
            action_id=action_id,
            dry_run=dry,
            settings=self.settings,
        )
        if self._paused(event):
            return await say(SUPPRESSED, reason=PAUSED, detail="not planned: paused")
        now = self._now(event)
        # A storm stops here: the limits that do not depend on the plan are checked
        # before planning, so suppressed events cost the API server nothing.
        early = self.limits.check(rule, event, Plan(spec.kind, None, ""), now)
        if early in _PLANLESS_LIMITS:
            return await say(SUPPRESSED, reason=early or "", detail=f"not planned: {early}")
        try:
            plan = await self._plan(action, ctx)
        except Exception as err:
            return await say(FAILED, detail=f"plan: {error_line(err, None)}")
        say.target = plan.target
        if await self._target_paused(plan, event):
            return await say(SUPPRESSED, reason=PAUSED, detail=f"{plan.summary} (target paused)")
        limits = self.limits
        if isinstance(limits, Limits):  # one process: decided and recorded in one step
            reason = limits.admit(rule, event, plan, now)
        else:
            try:
                reason = await limits.admit_async(rule, event, plan, now)
            except Exception as err:
                return await say(FAILED, detail=f"not run: {error_line(err, None)}")
        if reason is not None:
            return await say(SUPPRESSED, reason=reason, detail=plan.summary)
        if dry:
            return await say(DRY_RUN, detail=plan.summary)
        if self.ledger is not None:
            from kubeops.respond.ledger import LedgerEntry

            entry = LedgerEntry.for_action(
                rule.name,
                index,
                spec.kind,
                event,
                target=plan.target,
                scale_percent=plan.scale_percent,
                nodes=tuple(plan.nodes),
                action_id=action_id,
            )
            try:
                claimed = await self.ledger.claim(entry)
            except Exception as err:
                self._count_ledger_error()
                await self._release(rule, event, plan, now)
                return await say(FAILED, detail=f"not run: {error_line(err, None)}")
            if not claimed:
                # Done before (by an old leader, counted once when the limits were
                # restored): the slot taken above goes back.
                await self._release(rule, event, plan, now)
                return await say(SUPPRESSED, reason=ALREADY_DONE, detail=plan.summary)
        return await self._execute(action, ctx, plan, say)

    async def _release(self, rule: Rule, event: Event, plan: Plan, now: float) -> None:
        limits = self.limits
        if isinstance(limits, Limits):
            limits.release(rule, event, plan, now)
            return
        try:
            await limits.release_async(rule, event, plan, now)
        except Exception as err:  # the slot stays taken until it leaves the window
            log.warning(
                "respond: limits: cannot release a slot of %s: %s", rule.name, error_line(err, None)
            )

    async def _execute(
        self, action: Action, ctx: ActionContext, plan: Plan, say: _Sayer
    ) -> Decision:
        metrics = self.metrics
        started = time.perf_counter()
        if metrics is not None:
            latency = (datetime.datetime.now(datetime.UTC) - ctx.event.time).total_seconds()
            metrics.event_to_action.observe(max(0.0, latency))
            metrics.in_flight.inc()
        try:
            done = await action.execute(ctx, plan)
        except Exception as err:
            outcome, detail = FAILED, error_line(err, None)
        else:
            outcome, detail = SUCCEEDED, str(done or plan.summary)
        finally:
            if metrics is not None:
                metrics.in_flight.dec()
                metrics.action_seconds.labels(action.spec.kind).observe(
                    time.perf_counter() - started
                )
        if self.ledger is not None:
            try:
                await self.ledger.finish(ctx.action_id, outcome, detail)
            except Exception as err:
                self._count_ledger_error()
                log.warning(
                    "respond: ledger: cannot finish %s: %s", ctx.action_id, error_line(err, None)
                )
        return await say(outcome, detail=detail)

    async def _plan(self, action: Action, ctx: ActionContext) -> Plan:
        if self.client is None:
            subject = ctx.event.subject
            where = f" {subject}" if subject else ""
            return Plan(
                action=action.spec.kind,
                target=subject,
                summary=f"{action.spec.kind}{where} (not planned: no cluster)",
            )
        return await action.plan(ctx)

    def _paused(self, event: Event) -> bool:
        switch = self.kill_switch
        if switch is not None:
            paused = getattr(switch, "paused", False)
            if callable(paused):
                paused = paused()
            if paused:
                return True
        return object_paused(event.object)

    async def _target_paused(self, plan: Plan, event: Event) -> bool:
        """The action's target (when it is not the event's own object, checked already)
        carries the pause annotation."""
        target = plan.target
        if self.client is None or target is None:
            return False
        subject = event.subject
        if subject is not None and (target.kind, target.namespace, target.name) == (
            subject.kind,
            subject.namespace,
            subject.name,
        ):
            return False
        try:
            return await ref_paused(self.client, target)
        except Exception as err:  # the action itself will meet and report the problem
            log.debug("respond: cannot read %s for its pause annotation: %s", target, err)
            return False

    def _count_ledger_error(self) -> None:
        if self.metrics is not None:
            self.metrics.ledger_errors.inc()

    async def _decide(
        self,
        rule: Rule,
        event: Event,
        outcome: str,
        *,
        action: str = "",
        index: int = -1,
        action_id: str = "",
        reason: str = "",
        detail: str = "",
        dry_run: bool | None = None,
        target: ObjectRef | None = None,
    ) -> Decision:
        subject = _subject_text(event)
        decision = Decision(
            time=(
                datetime.datetime.fromtimestamp(self._now(event), datetime.UTC)
                if self._event_clock
                else datetime.datetime.now(datetime.UTC)
            ),
            rule=rule.name,
            event_name=event.name,
            event_source=event.source,
            event_identity=event.identity,
            subject=subject,
            outcome=outcome,
            action=action,
            action_index=index,
            action_id=action_id,
            reason=reason,
            detail=detail,
            dry_run=self._dry(rule) if dry_run is None else dry_run,
            target=str(target) if target else "",
        )
        self.decisions_seen += 1
        if self.metrics is not None:
            self.metrics.decision(rule.name, outcome, reason)
        if self.audit is not None:
            await self._audit(decision)
        return decision

    async def _audit(self, decision: Decision) -> None:
        try:
            record = audit_record(decision, self.replica)
            written = self.audit.record(record)
            if inspect.isawaitable(written):
                await written
        except Exception as err:
            if self.metrics is not None:
                self.metrics.audit_errors.inc()
            log.warning(
                "respond: audit: cannot record a decision of %s: %s",
                decision.rule,
                error_line(err, None),
            )

    # -- leadership ---------------------------------------------------------------------------------

    async def resume(self) -> list[Decision]:
        """On becoming leader: rebuild the limits from the ledger's recent entries, then
        re-run every claim another replica (or this one's previous run) left
        unfinished, adopting each first so only one replica does.  Shared limits
        (:class:`AsyncLimits`) are kept: they live in the cluster already."""
        if self.ledger is None:
            return []
        if isinstance(self.limits, Limits):
            limits = Limits(self.ruleset.rules, self.ruleset.limits)
            horizon = limits.horizon
            since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=horizon)
            limits.restore(await self.ledger.entries(since) if horizon > 0 else [])
            self.limits = limits
        decisions = []
        for entry in await self.ledger.unfinished():
            if not await self.ledger.adopt(entry):
                continue
            decisions.append(await self._resume_traced(entry))
        return decisions

    async def resume_entry(self, entry: LedgerEntry) -> Decision | None:
        """Adopt one unfinished claim and run its action (the orphan sweep's step); None
        when another replica adopted it first or it finished meanwhile."""
        if self.ledger is None or not await self.ledger.adopt(entry):
            return None
        return await self._resume_traced(entry)

    async def _resume_traced(self, entry: LedgerEntry) -> Decision:
        attributes = _action_attributes(entry.rule, entry.action, entry.action_index)
        if attributes is not None:
            attributes["kubeops.action.resumed"] = True
        with telemetry.span("respond.action", attributes) as span:
            decision = await self._resume(entry)
            _record(span, decision)
            return decision

    async def _resume(self, entry: LedgerEntry) -> Decision:
        event = await self._event_of(entry)
        try:
            rule = self.ruleset.rule(entry.rule)
            action = self.ruleset.actions[rule.name][entry.action_index]
        except (KeyError, IndexError):
            detail = f"rule {entry.rule} action {entry.action_index} is no longer loaded"
            assert self.ledger is not None
            try:
                await self.ledger.finish(entry.action_id, FAILED, detail)
            except Exception:
                self._count_ledger_error()
            ghost = Rule(name=entry.rule, trigger=Trigger(source=""), actions=())
            return await self._decide(
                ghost,
                event,
                FAILED,
                action=entry.action,
                index=entry.action_index,
                action_id=entry.action_id,
                detail=detail,
                dry_run=False,
            )
        dry = self._dry(rule)
        say = _Sayer(self, rule, event, entry.action_index, entry.action, entry.action_id, dry)
        say.resumed = True
        if self._paused(event):  # the claim stays: a later leader resumes it once unpaused
            return await say(SUPPRESSED, reason=PAUSED, detail="not run: paused")
        ctx = ActionContext(
            client=self.client,  # type: ignore[arg-type]
            event=event,
            rule=rule,
            action_id=entry.action_id,
            dry_run=dry,
            settings=self.settings,
        )
        try:
            plan = await self._plan(action, ctx)
        except Exception as err:
            detail = f"plan: {error_line(err, None)}"
            assert self.ledger is not None
            try:
                await self.ledger.finish(entry.action_id, FAILED, detail)
            except Exception:
                self._count_ledger_error()
            return await say(FAILED, detail=detail)
        say.target = plan.target
        if dry:  # this replica changes nothing; the claim stays for one that may
            return await say(DRY_RUN, detail=plan.summary)
        return await self._execute(action, ctx, plan, say)

    async def _event_of(self, entry: LedgerEntry) -> Event:
        """The event a ledger entry was claimed for: its facts from the entry, its object
        read again from the cluster (or its reference when gone)."""
        obj: Mapping[str, Any] | None = None
        ref = entry.subject
        if ref is not None:
            obj = await self._read(ref)
            if obj is None:
                obj = {
                    "apiVersion": ref.api_version,
                    "kind": ref.kind,
                    "metadata": {"name": ref.name, "namespace": ref.namespace, "uid": ref.uid},
                }
        return Event(
            name=entry.event_name,
            source=entry.event_source,
            time=entry.event_time or entry.claimed_at,
            payload=dict(entry.payload or {}),
            object=obj,
            identity=entry.event_identity,
        )

    async def _read(self, ref: ObjectRef) -> Mapping[str, Any] | None:
        if self.client is None:
            return None
        try:
            kind = f"{ref.api_version}/{ref.kind}" if ref.api_version else ref.kind
            return await self.client.get(kind, ref.name, ref.namespace or None)
        except Exception:
            return None


class _Sayer:
    """Builds the decisions of one action (the same rule, event, action and id)."""

    def __init__(
        self,
        engine: Engine,
        rule: Rule,
        event: Event,
        index: int,
        kind: str,
        action_id: str,
        dry: bool,
    ) -> None:
        self.engine = engine
        self.rule = rule
        self.event = event
        self.index = index
        self.kind = kind
        self.action_id = action_id
        self.dry = dry
        self.target: ObjectRef | None = None
        self.resumed = False

    async def __call__(self, outcome: str, *, reason: str = "", detail: str = "") -> Decision:
        if self.resumed:
            detail = f"resumed: {detail}"
        return await self.engine._decide(
            self.rule,
            self.event,
            outcome,
            action=self.kind,
            index=self.index,
            action_id=self.action_id,
            reason=reason,
            detail=detail,
            dry_run=self.dry,
            target=self.target,
        )


def audit_record(decision: Decision, replica: str = "") -> Any:
    """The audit log's record of ``decision`` (the decision itself when the audit
    module is not there to say otherwise: it has the same fields)."""
    import importlib

    try:
        record_type = importlib.import_module("kubeops.respond.audit").AuditRecord
    except (ImportError, AttributeError):
        return decision
    return record_type(
        time=decision.time,
        replica=replica,
        rule=decision.rule,
        event_name=decision.event_name,
        event_source=decision.event_source,
        event_identity=decision.event_identity,
        subject=decision.subject,
        action=decision.action,
        action_id=decision.action_id,
        outcome=decision.outcome,
        reason=decision.reason,
        detail=decision.detail,
        dry_run=decision.dry_run,
    )


_SUBJECTS: dict[int, tuple[Event, str]] = {}


def _subject_text(event: Event) -> str:
    """``str(event.subject)``, worked out once per event (an event has several decisions)."""
    key = id(event)
    found = _SUBJECTS.get(key)
    if found is not None and found[0] is event:
        return found[1]
    subject = event.subject
    text = str(subject) if subject else ""
    if len(_SUBJECTS) > 64:
        _SUBJECTS.clear()
    _SUBJECTS[key] = (event, text)
    return text


def _event_attributes(event: Event) -> telemetry.Attributes | None:
    if not telemetry.tracing_enabled():
        return None
    attributes: telemetry.Attributes = {
        "kubeops.event.name": event.name,
        "kubeops.event.source": event.source,
    }
    subject = event.subject
    if subject is not None:
        attributes["kubeops.kind"] = subject.kind
        attributes["kubeops.name"] = subject.name
        if subject.namespace:
            attributes["k8s.namespace.name"] = subject.namespace
    return attributes


def _rule_attributes(rule: Rule) -> telemetry.Attributes | None:
    return {"kubeops.rule": rule.name} if telemetry.tracing_enabled() else None


def _action_attributes(rule: Rule | str, kind: str, index: int) -> telemetry.Attributes | None:
    if not telemetry.tracing_enabled():
        return None
    name = rule if isinstance(rule, str) else rule.name
    return {"kubeops.rule": name, "kubeops.action.kind": kind, "kubeops.action.index": index}


def _record(span: telemetry.Span, decision: Decision) -> None:
    """An action's decision on its span: outcome, reason, id, target; failed ones failed."""
    if not span.is_recording():
        return
    span.set_attribute("kubeops.action.id", decision.action_id)
    span.set_attribute("kubeops.action.outcome", decision.outcome)
    span.set_attribute("kubeops.action.dry_run", decision.dry_run)
    if decision.reason:
        span.set_attribute("kubeops.action.reason", decision.reason)
    if decision.target:
        span.set_attribute("kubeops.action.target", decision.target)
    if decision.outcome == FAILED:
        telemetry.fail(span, decision.detail, FAILED)


def _order_key(event: Event) -> str:
    """Events with the same key are handled in order: one object's (a Kubernetes
    Event's involved object's), or one name's."""
    obj = event.object
    if obj is None:
        return f"name:{event.source}/{event.name}"
    kind, meta = obj.get("kind"), obj.get("metadata") or {}
    involved = obj.get("involvedObject") if kind == "Event" else None
    if isinstance(involved, Mapping):
        kind, meta = involved.get("kind"), involved
    uid = meta.get("uid")
    if uid:
        return f"uid:{uid}"
    return f"obj:{kind}/{meta.get('namespace')}/{meta.get('name')}"


def _selectors(rules: Sequence[Rule]) -> dict[str, Selector]:
    from kubeops.models.selector import parse_selector

    return {
        rule.trigger.selector: parse_selector(rule.trigger.selector)
        for rule in rules
        if rule.trigger.selector
    }


def decisions_summary(decisions: Iterable[Decision]) -> dict[str, int]:
    """How many decisions of each outcome (``suppressed/cooldown`` for suppressed ones)."""
    counts: dict[str, int] = {}
    for decision in decisions:
        key = f"{decision.outcome}/{decision.reason}" if decision.reason else decision.outcome
        counts[key] = counts.get(key, 0) + 1
    return counts


__all__ = [
    "AsyncLimits",
    "Decision",
    "Engine",
    "audit_record",
    "decisions_summary",
    "trigger_matches",
]
