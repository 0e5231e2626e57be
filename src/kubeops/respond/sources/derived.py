"""Derived states users otherwise compute by hand: a crash-looping Pod, an OOMKilled
container, an image that will not pull, a Node NotReady, a Deployment unavailable
or a PVC Pending for longer than T, a failed Job.

Informers watch only the kinds the named states need; each change is run through
:mod:`~kubeops.respond.sources.states`.  An object entering a state fires once
per occurrence (its identity), not on every update while in it.  A timed state
not due yet gets a timer at its due time (the cluster's transition time plus
``for``), so it fires on time with no further watch event, and after a restart of
kubeops a Node NotReady for longer than ``for`` already fires at once.  On start,
a moment-like state (OOMKilled, JobFailed) from before ``since`` is old news.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from typing import Any

from kubeops.api import Client
from kubeops.cache import deletion_handling_key
from kubeops.respond.event import DERIVED, Event, Object, now
from kubeops.respond.model import Trigger
from kubeops.respond.sources._params import (
    Scope,
    check_names,
    check_scope,
    collect,
    duration_param,
    number_param,
    watched_namespaces,
)
from kubeops.respond.sources._watch import Watch, WatchingSource
from kubeops.respond.sources.states import (
    CRASH_LOOP,
    DEFAULT_RESTARTS,
    KIND_OF,
    ONCE,
    STATES,
    TIMED,
    Detector,
    Found,
    detect,
)

__all__ = ["PARAMS", "DerivedSource", "detectors", "matches", "validate"]

PARAMS = ("restarts", "for")


def validate(trigger: Trigger) -> list[str]:
    """Problems with a derived trigger, each a phrase naming the field."""
    problems = check_names(trigger, STATES) + check_scope(trigger)
    params = trigger.params
    problems += [
        f"params.{key}: unknown for a derived trigger (one of {', '.join(PARAMS)})"
        for key in sorted(set(params) - set(PARAMS))
    ]
    problems += collect(
        lambda: number_param(params, "restarts", DEFAULT_RESTARTS, minimum=1),
        lambda: duration_param(params, "for"),
    )
    problems = list(dict.fromkeys(problems))
    restarts = params.get("restarts")
    if restarts is not None and (isinstance(restarts, bool) or not isinstance(restarts, int)):
        problems.append(f"params.restarts: must be a whole number, not {restarts!r}")
    names = trigger.names or STATES
    if trigger.kind and any(
        KIND_OF[n].lower() != trigger.kind.lower() for n in names if n in KIND_OF
    ):
        kinds = ", ".join(sorted({KIND_OF[n] for n in names if n in KIND_OF}))
        problems.append(f"kind: {trigger.kind!r} does not fit the states named (about {kinds})")
    return problems


def detectors(trigger: Trigger) -> list[Detector]:
    """The states (with their thresholds) a validated trigger asks for."""
    restarts = int(number_param(trigger.params, "restarts", DEFAULT_RESTARTS, minimum=1))
    seconds = duration_param(trigger.params, "for")
    found = []
    for state in trigger.names or STATES:
        found.append(
            Detector(
                state,
                restarts if state == CRASH_LOOP else 0,
                seconds if state in TIMED else 0.0,
            )
        )
    return found


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether a derived-state event answers ``trigger``: state, threshold and scope."""
    if event.source != DERIVED or (trigger.names and event.name not in trigger.names):
        return False
    wanted = [d for d in detectors(trigger) if d.state == event.name]
    if not wanted:
        return False
    params = wanted[0].params()
    if any(event.payload.get(key) != value for key, value in params.items()):
        return False
    return Scope.of(trigger).matches(event.object)


class DerivedSource(WatchingSource):
    """Fires the derived states the derived triggers name."""

    name = DERIVED

    def __init__(self, client: Client, triggers: Sequence[Trigger], **settings: Any) -> None:
        super().__init__(client, triggers, **settings)
        # Each detector and the scopes of the triggers that asked for it.
        self.detectors: dict[Detector, list[Scope]] = {}
        for trigger in self.triggers:
            for detector in detectors(trigger):
                self.detectors.setdefault(detector, []).append(Scope.of(trigger))
        self._timers: dict[str, asyncio.TimerHandle] = {}  # identity -> pending re-check

    async def watch(self) -> None:
        """Watch the kinds the detectors need; states fire as objects enter them."""
        for kind in sorted({d.kind for d in self.detectors}):
            group = [t for t in self.triggers if kind in {d.kind for d in detectors(t)}]
            selectors = {t.selector or "" for t in group}
            await self.feed.watch(
                kind,
                watched_namespaces(group),
                # The server can select only when every trigger wants the same labels.
                label_selector=selectors.pop() if len(selectors) == 1 else None,
                on_add=lambda w, o, _i: self._check(w, o),
                on_update=lambda w, _old, new: self._check(w, new),
            )

    def stop(self) -> None:
        """Cancel the pending re-checks."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _check(self, watch: Watch, obj: Any) -> None:
        kind = str(obj.get("kind") or "")
        moment = now()
        for detector, scopes in self.detectors.items():
            if detector.kind != kind or not any(s.matches(obj) for s in scopes):
                continue
            for found in detect(detector, obj):
                if found.due is not None and found.due > moment:
                    self._recheck_at(found, watch, obj)
                    continue
                if (
                    not watch.listed
                    and found.state in ONCE
                    and found.since is not None
                    and found.since < self.feed.since.replace(microsecond=0)
                ):
                    continue
                self.feed.put(_event(detector, found, obj, moment))

    def _recheck_at(self, found: Found, watch: Watch, obj: Any) -> None:
        if found.identity in self._timers or found.due is None:
            return
        key = deletion_handling_key(obj)
        delay = max(0.0, (found.due - now()).total_seconds())

        def recheck() -> None:
            # A deleted object is no longer in the store: nothing fires.
            self._timers.pop(found.identity, None)
            current = watch.informer.store.get_by_key(key)
            if current is not None:
                self._check(watch, current)

        self._timers[found.identity] = asyncio.get_running_loop().call_later(delay, recheck)


def _event(detector: Detector, found: Found, obj: Object, moment: datetime.datetime) -> Event:
    payload: dict[str, Any] = {
        "state": found.state,
        "since": found.since.isoformat() if found.since else None,
        **detector.params(),
        **found.detail,
    }
    # The time kubeops saw it due; the cluster's own time of the transition is payload.since.
    return Event(
        found.state,
        DERIVED,
        moment,
        payload=payload,
        object=obj,
        identity=found.identity,
    )
