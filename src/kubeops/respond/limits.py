"""The safety limits an action must pass before it runs: pure logic, no I/O.

:class:`Limits` keeps, per rule and over all rules, sliding windows of the
actions taken recently and answers, for one planned action, which limit (if any)
stops it -- in this order, the first that applies being the reason audited:

* ``deduplicated``: the rule acted on the same event name for the same object
  within ``Safety.dedup_window`` (for another occurrence: the actions of one
  event are never deduplicated against each other);
* ``cooldown``: the rule acted on the same target object within ``Safety.cooldown``;
* ``blast-radius``: the plan changes replicas by more than ``max_scale_percent``,
  or would bring the distinct Nodes the rule cordoned or drained in the window
  above ``max_drained_nodes``;
* ``rule-rate`` / ``global-rate``: ``Safety.max_actions`` / ``GlobalLimits.max_actions``
  actions already taken in their window.

Times are wall-clock seconds (``time.time()``), the same clock the ledger's
claim times use, so :meth:`Limits.restore` rebuilds the windows a new leader
inherits from the ledger.  Memory is bounded: whatever is older than the longest
window a limit looks at is dropped as time moves on.  :meth:`check` and
:meth:`record` are synchronous: an engine that calls them back to back (or
:meth:`admit`) never lets two concurrent events through the same last slot.
"""

from __future__ import annotations

import bisect
import contextlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from kubeops.respond.action import Plan
from kubeops.respond.event import Event, ObjectRef
from kubeops.respond.model import GlobalLimits, Rule, Safety
from kubeops.respond.outcome import (
    BLAST_RADIUS,
    COOLDOWN,
    DEDUPLICATED,
    GLOBAL_RATE,
    RULE_RATE,
)

if TYPE_CHECKING:
    from kubeops.respond.ledger import LedgerEntry

_K = TypeVar("_K")

SWEEP_EVERY = 1024
"""Records between two sweeps of per-object state that no window still needs."""


def object_key(ref: ObjectRef | None) -> str:
    """How limits tell objects apart: kind, namespace and name (``""`` for no object)."""
    return str(ref) if ref is not None else ""


@dataclass(slots=True)
class _RuleState:
    """One rule's recent actions."""

    actions: deque[float] = field(default_factory=deque)
    # target -> (time, event identity) of the latest action on it.
    cooldown: dict[str, tuple[float, str]] = field(default_factory=dict)
    # (event name, subject) -> (time, event identity) of the latest action for it.
    dedup: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    # (time, node) of every cordon or drain, oldest first.
    nodes: deque[tuple[float, str]] = field(default_factory=deque)


class Limits:
    """The limits of a rule set; see the module doc."""

    def __init__(
        self, rules: Iterable[Rule] = (), global_limits: GlobalLimits | None = None
    ) -> None:
        self.safety: dict[str, Safety] = {rule.name: rule.safety for rule in rules}
        self.global_limits = global_limits or GlobalLimits()
        self._rules: dict[str, _RuleState] = {}
        self._global: deque[float] = deque()
        self._since_sweep = 0

    @property
    def horizon(self) -> float:
        """The longest time any limit looks back, in seconds: how much of the ledger
        :meth:`restore` needs."""
        spans = [_span(safety) for safety in self.safety.values()]
        if self.global_limits.max_actions is not None:
            spans.append(self.global_limits.max_actions.seconds)
        return max(spans, default=0.0)

    # -- deciding ---------------------------------------------------------------------------

    def check(self, rule: Rule, event: Event, plan: Plan, now: float) -> str | None:
        """The reason (a name from :mod:`kubeops.respond.outcome`) that stops this action
        now, or None when every limit lets it through.  Takes no slot (only drops
        what has left the windows)."""
        return self._check(rule, event, plan, now, *_keys(event, plan))

    def record(self, rule: Rule, event: Event, plan: Plan, now: float) -> None:
        """Count an action taken (claimed) at ``now`` in every window."""
        subject, target = _keys(event, plan)
        self._record(rule.name, event.identity, event.name, subject, target, plan.nodes, now)

    def admit(self, rule: Rule, event: Event, plan: Plan, now: float) -> str | None:
        """:meth:`check`, and :meth:`record` when nothing stops the action."""
        subject, target = _keys(event, plan)
        reason = self._check(rule, event, plan, now, subject, target)
        if reason is None:
            self._record(rule.name, event.identity, event.name, subject, target, plan.nodes, now)
        return reason

    def _check(
        self, rule: Rule, event: Event, plan: Plan, now: float, subject: str, target: str
    ) -> str | None:
        safety = rule.safety
        state = self._rules.get(rule.name)
        if state is not None:
            if safety.dedup_window > 0:
                seen = state.dedup.get((event.name, subject))
                if _blocks(seen, now, safety.dedup_window, event.identity):
                    return DEDUPLICATED
            if safety.cooldown > 0:
                seen = state.cooldown.get(target)
                if _blocks(seen, now, safety.cooldown, event.identity):
                    return COOLDOWN
        if _too_wide(safety, state, plan, now):
            return BLAST_RADIUS
        window = safety.max_actions
        if window is not None and _count(state.actions if state else (), now, window.seconds) >= (
            window.count
        ):
            return RULE_RATE
        window = self.global_limits.max_actions
        if window is not None and _count(self._global, now, window.seconds) >= window.count:
            return GLOBAL_RATE
        return None

    def release(self, rule: Rule, event: Event, plan: Plan, now: float) -> None:
        """Give back the counted slots of a :meth:`record` made at ``now`` whose action did
        not run here: the ledger showed it done already (a new leader re-seeing events
        the old one acted on, which :meth:`restore` counted once) or could not be
        written.  Cooldown and deduplication stay: they hold from the action's time."""
        state = self._rules.get(rule.name)
        if state is not None:
            _remove(state.actions, now)
            for node in plan.nodes:
                with contextlib.suppress(ValueError):
                    state.nodes.remove((now, node))
        _remove(self._global, now)

    def restore(self, entries: Iterable[LedgerEntry]) -> int:
        """Count the actions the ledger holds (claimed by any replica) as if recorded here,
        oldest first; returns how many were counted.  Call it on an empty instance
        when becoming leader."""
        ordered = sorted(entries, key=lambda entry: entry.claimed_at)
        for entry in ordered:
            self._record(
                entry.rule,
                entry.event_identity,
                entry.event_name,
                object_key(entry.subject),
                object_key(entry.target or entry.subject),
                entry.nodes,
                entry.claimed_at.timestamp(),
            )
        return len(ordered)

    # -- state --------------------------------------------------------------------------------

    def _record(
        self,
        rule: str,
        identity: str,
        name: str,
        subject: str,
        target: str,
        nodes: Sequence[str],
        now: float,
    ) -> None:
        state = self._rules.setdefault(rule, _RuleState())
        _append(state.actions, now)
        _append(self._global, now)
        _latest(state.cooldown, target, now, identity)
        _latest(state.dedup, (name, subject), now, identity)
        for node in nodes:
            state.nodes.append((now, node))
        self._since_sweep += 1
        if self._since_sweep >= SWEEP_EVERY:
            self.sweep(now)

    def sweep(self, now: float) -> None:
        """Drop everything no window looks at any more (done every ``SWEEP_EVERY`` records)."""
        self._since_sweep = 0
        window = self.global_limits.max_actions
        _trim(self._global, now - (window.seconds if window else 0.0))
        for name in list(self._rules):
            state = self._rules[name]
            safety = self.safety.get(name, Safety())
            if safety.max_actions is not None:
                _trim(state.actions, now - safety.max_actions.seconds)
            else:
                state.actions.clear()
            _forget(state.cooldown, now - safety.cooldown)
            _forget(state.dedup, now - safety.dedup_window)
            span = safety.max_drained_nodes.seconds if safety.max_drained_nodes else 0.0
            while state.nodes and state.nodes[0][0] <= now - span:
                state.nodes.popleft()
            if not (state.actions or state.cooldown or state.dedup or state.nodes):
                del self._rules[name]

    def size(self) -> int:
        """How many times and keys are held (what the memory bound is about)."""
        return len(self._global) + sum(
            len(s.actions) + len(s.cooldown) + len(s.dedup) + len(s.nodes)
            for s in self._rules.values()
        )


def _span(safety: Safety) -> float:
    windows = (safety.max_actions, safety.max_drained_nodes)
    return max(
        safety.cooldown,
        safety.dedup_window,
        *(w.seconds for w in windows if w is not None),
    )


def _keys(event: Event, plan: Plan) -> tuple[str, str]:
    """The event's subject and the action's target (the plan's, else the subject)."""
    subject = object_key(event.subject)
    return subject, object_key(plan.target) if plan.target is not None else subject


def _blocks(seen: tuple[float, str] | None, now: float, span: float, identity: str) -> bool:
    """An earlier action within ``span`` for another occurrence stops this one."""
    if seen is None:
        return False
    at, seen_identity = seen
    return now - at < span and not (identity and identity == seen_identity)


def _latest(latest: dict[_K, tuple[float, str]], key: _K, now: float, identity: str) -> None:
    """Keep the newest action per key, the dict in time order (newest last) so that
    :func:`_forget` stops at the first key still in its window."""
    seen = latest.pop(key, None)
    if seen is not None and seen[0] > now:  # restore may feed times out of order
        latest[key] = seen
    else:
        latest[key] = (now, identity)


def _append(times: deque[float], now: float) -> None:
    """Keep the window sorted (a restore after records may bring older times)."""
    if times and times[-1] > now:
        bisect.insort(times, now)
    else:
        times.append(now)


def _remove(times: deque[float], at: float) -> None:
    """Drop the newest occurrence of ``at`` (a released slot)."""
    for i in range(len(times) - 1, -1, -1):
        if times[i] == at:
            del times[i]
            return
        if times[i] < at:
            return


def _count(times: Iterable[float], now: float, span: float) -> int:
    """Actions in the window ``(now - span, now]``; the deque is trimmed as it goes."""
    if isinstance(times, deque):
        _trim(times, now - span)
        return len(times)
    return sum(1 for t in times if now - t < span)


def _trim(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()


def _forget(latest: dict[_K, tuple[float, str]], before: float) -> None:
    """Drop the oldest keys up to the first one still in its window."""
    while latest:
        key = next(iter(latest))
        if latest[key][0] > before:
            return
        del latest[key]


def _too_wide(safety: Safety, state: _RuleState | None, plan: Plan, now: float) -> bool:
    """The plan's blast radius is over the rule's bounds."""
    if (
        safety.max_scale_percent is not None
        and plan.scale_percent is not None
        and abs(plan.scale_percent) > safety.max_scale_percent
    ):
        return True
    window = safety.max_drained_nodes
    if window is None or not plan.nodes:
        return False
    recent: set[str] = set()
    if state is not None:
        while state.nodes and state.nodes[0][0] <= now - window.seconds:
            state.nodes.popleft()
        recent = {node for _, node in state.nodes}
    return len(recent | set(plan.nodes)) > window.count
