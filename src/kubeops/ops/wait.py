"""Waiting like ``kubectl wait``: for a condition, for deletion, for creation or for a
JSONPath value, on named objects or on those a label selector picks.

A wait watches (through :class:`~kubeops.cache.SharedInformer`, so a dropped watch
resumes and a compaction relists) instead of polling, and when it gives up it
says, object by object, what was still missing::

    results = await wait_for(client, "deploy", "condition=Available", ["web"], timeout=60)
    await wait_for(client, "pods", "delete", label_selector="app=old")
    await wait_for(client, "deploy", "jsonpath={.status.readyReplicas}=3", "web")

The rules are kubectl's: a condition matches its type and status case-insensitively
and only once it is observed for the object's current generation; ``timeout=0``
checks once; a named object that does not exist is an error unless waiting for
its deletion (then it is already done) or creation.  :class:`ObjectWatch` is
the watching part, shared with :mod:`kubeops.ops.rollout`.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kubeops.api import Client, Kind, Object, ResourceType, either_client
from kubeops.cache.informer import SharedInformer, is_fatal_watch_error
from kubeops.errors import KubeopsError, NotFound
from kubeops.models.duration import format_duration
from kubeops.models.jsonpath import JSONPath, JSONPathError, jsonpath_text
from kubeops.ops.errors import OperationError

__all__ = [
    "ConditionNotMet",
    "ConditionStatus",
    "Created",
    "Deleted",
    "JSONPathValue",
    "ObjectWatch",
    "WaitCondition",
    "WaitError",
    "WaitResult",
    "WaitTimeout",
    "display_name",
    "parse_condition",
    "wait_for",
]


# -- errors -----------------------------------------------------------------------------------


class WaitError(OperationError):
    """A wait that cannot succeed: names what was waited for, on which objects, and why."""


class WaitTimeout(WaitError):
    """The timeout passed; ``pending`` holds the results not met, each with what is missing."""

    pending: tuple[WaitResult, ...] = ()


class ConditionNotMet(WaitError):
    """``timeout=0`` asked for one check, and the condition did not hold."""

    pending: tuple[WaitResult, ...] = ()


# -- naming -----------------------------------------------------------------------------------


def display_name(resource: ResourceType, name: str | None = None) -> str:
    """``deployment.apps/web`` (or ``pod/p1``): how kubectl names an object in its messages."""
    kind = resource.kind.lower() + (f".{resource.group}" if resource.group else "")
    return f"{kind}/{name}" if name is not None else kind


# -- conditions -------------------------------------------------------------------------------


class WaitCondition(ABC):
    """What a wait waits for.  ``missing(obj)`` is ``None`` when it holds for ``obj`` (the
    object, or ``None`` when it does not exist), else a phrase saying what is missing."""

    #: Waiting starts even though a named object does not exist (yet).
    absent_ok: ClassVar[bool] = False

    @property
    @abstractmethod
    def text(self) -> str:
        """The condition as kubectl's ``--for`` writes it."""

    @abstractmethod
    def missing(self, obj: Object | None) -> str | None:
        """None when the condition holds for ``obj``, else what is missing."""

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ConditionStatus(WaitCondition):
    """``condition=Available`` (status ``True``) or ``condition=Ready=False``."""

    type: str
    status: str = "True"

    @property
    def text(self) -> str:
        """``condition=TYPE``, with ``=STATUS`` unless it is ``True``."""
        suffix = "" if self.status.lower() == "true" else f"={self.status}"
        return f"condition={self.type}{suffix}"

    def missing(self, obj: Object | None) -> str | None:
        """None when the condition has the status, observed at the current generation."""
        if obj is None:
            return "the object does not exist"
        conditions = (obj.get("status") or {}).get("conditions")
        if not isinstance(conditions, list) or not conditions:
            return f"it has no status conditions yet (want {self.type}={self.status})"
        for condition in conditions:
            if not isinstance(condition, Mapping):
                continue
            if str(condition.get("type", "")).lower() != self.type.lower():
                continue
            generation = (obj.get("metadata") or {}).get("generation")
            observed = condition.get("observedGeneration")
            if observed is None:
                observed = (obj.get("status") or {}).get("observedGeneration")
            if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
                return (
                    f"condition {condition.get('type')} was last observed at generation "
                    f"{observed}, the object is at generation {generation}"
                )
            status = str(condition.get("status", ""))
            if status.lower() == self.status.lower():
                return None
            why = ": ".join(str(condition[k]) for k in ("reason", "message") if condition.get(k))
            return (
                f"{condition.get('type')} is {status}"
                + (f" ({why})" if why else "")
                + (f", want {self.status}")
            )
        present = ", ".join(
            f"{c.get('type')}={c.get('status')}" for c in conditions if isinstance(c, Mapping)
        )
        return f"it has no {self.type} condition (it has {present})"


@dataclass(frozen=True)
class Deleted(WaitCondition):
    """``delete``: the object is gone (or was replaced by a new one with the same name)."""

    absent_ok: ClassVar[bool] = True

    @property
    def text(self) -> str:
        """``delete``."""
        return "delete"

    def missing(self, obj: Object | None) -> str | None:
        """None when the object is gone; else whether it is being deleted and what holds it."""
        if obj is None:
            return None
        meta = obj.get("metadata") or {}
        detail = "it still exists"
        if meta.get("deletionTimestamp"):
            detail += f", being deleted since {meta['deletionTimestamp']}"
        if meta.get("finalizers"):
            detail += f", held by finalizers {', '.join(meta['finalizers'])}"
        return detail


@dataclass(frozen=True)
class Created(WaitCondition):
    """``create``: the object exists."""

    absent_ok: ClassVar[bool] = True

    @property
    def text(self) -> str:
        """``create``."""
        return "create"

    def missing(self, obj: Object | None) -> str | None:
        """None when the object exists."""
        return None if obj is not None else "it does not exist yet"


@dataclass(frozen=True)
class JSONPathValue(WaitCondition):
    """``jsonpath={.status.readyReplicas}=3``, or without a value: the field is set."""

    expression: str
    value: str | None = None
    path: JSONPath = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parsed now, so a bad expression fails before the wait starts.
        object.__setattr__(self, "path", JSONPath.parse(self.expression))

    @property
    def text(self) -> str:
        """``jsonpath=EXPRESSION[=VALUE]``."""
        return f"jsonpath={self.expression}" + (f"={self.value}" if self.value is not None else "")

    def missing(self, obj: Object | None) -> str | None:
        """None when the expression selects one value (equal to ``value`` when given)."""
        if obj is None:
            return "the object does not exist"
        found = self.path.find(obj)
        if not found:
            return f"{self.expression} is not set"
        if len(found) > 1:
            raise JSONPathError(f"{self.expression} matches more than one value")
        if self.value is None:
            return None
        if isinstance(found[0], Mapping | list):
            raise JSONPathError(
                f"{self.expression} leads to a nested object or list, which cannot be compared"
            )
        actual = jsonpath_text(found[0])
        if actual.strip() == self.value.strip():
            return None
        return f"{self.expression} is {actual}, want {self.value}"


def _split_jsonpath(text: str) -> list[str]:
    """kubectl's split of ``EXPR=VALUE`` on ``=``, keeping ``==`` inside filters."""
    parts, current, i = [], [], 0
    while i < len(text):
        if text[i] == "=":
            if text[i + 1 : i + 2] == "=":
                current.append("==")
                i += 2
                continue
            parts.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    parts.append("".join(current))
    return parts


def parse_condition(text: str) -> WaitCondition:
    """A ``--for`` value: ``delete``, ``create``, ``condition=T[=S]`` or ``jsonpath=E[=V]``."""
    lowered = text.strip().lower()
    if lowered == "delete":
        return Deleted()
    if lowered == "create":
        return Created()
    if text.startswith("condition="):
        name, _, status = text.removeprefix("condition=").partition("=")
        if not name:
            raise KubeopsError(f"invalid wait condition {text!r}: it names no condition type")
        return ConditionStatus(name, status or "True")
    if text.startswith("jsonpath="):
        parts = _split_jsonpath(text.removeprefix("jsonpath="))
        if len(parts) > 2 or not parts[0]:
            raise KubeopsError(
                f"invalid wait condition {text!r}: use jsonpath='{{.status.readyReplicas}}'=3 "
                "or jsonpath='{.status.readyReplicas}'"
            )
        if len(parts) == 2:
            value = parts[1].strip("'\"")
            if not value:
                raise KubeopsError(
                    f"invalid wait condition {text!r}: a value must follow '=', "
                    "like jsonpath='{.status.readyReplicas}'=3"
                )
            return JSONPathValue(parts[0], value)
        return JSONPathValue(parts[0])
    raise KubeopsError(
        f"unrecognized wait condition {text!r}: use delete, create, condition=TYPE[=STATUS] "
        "or jsonpath=EXPRESSION[=VALUE]"
    )


# -- watching objects -------------------------------------------------------------------------


class ObjectWatch:
    """A live view of a few objects of one kind, by name or by label selector.

    ``async with ObjectWatch(client, resource, namespace, names=["web"]) as watch`` starts
    one informer per name (a field selector on ``metadata.name``) or one for the
    selector, waits for their first list, and then ``await watch.changed(timeout)``
    returns after the next change.  An error that retrying cannot fix (forbidden,
    unauthorized, unknown kind) is raised from ``changed``.
    """

    def __init__(
        self,
        client: Client,
        resource: ResourceType,
        namespace: str | None,
        *,
        names: Sequence[str] = (),
        label_selector: str | None = None,
    ) -> None:
        self.resource = resource
        self.namespace = namespace if resource.namespaced else None
        self.synced = False
        self._event = asyncio.Event()
        self._error: BaseException | None = None
        selectors: list[tuple[str | None, str | None]] = (
            [(None, f"metadata.name={name}") for name in dict.fromkeys(names)]
            if names
            else [(label_selector, None)]
        )
        self._informers: list[SharedInformer] = []
        for labels, fields in selectors:
            informer = SharedInformer(
                client,
                resource,
                namespace=self.namespace,
                label_selector=labels,
                field_selector=fields,
            )
            informer.add_handler(
                on_add=lambda _obj, _initial: self._event.set(),
                on_update=lambda _old, _new: self._event.set(),
                on_delete=lambda _obj: self._event.set(),
            )
            informer.set_watch_error_handler(self._on_error)
            self._informers.append(informer)

    def _on_error(self, err: BaseException) -> None:
        # After the first list too: a watch that is refused later (RBAC revoked) ends the wait.
        if is_fatal_watch_error(err):
            self._error = err
            self._event.set()

    async def start(self, timeout: float | None = None) -> bool:
        """Start watching; True once every informer holds its first list (False on timeout).

        An error retrying cannot fix (see :func:`~kubeops.cache.is_fatal_watch_error`)
        is raised at once.
        """
        for informer in self._informers:
            informer.start()
        syncing = [
            asyncio.ensure_future(i.wait_for_sync(timeout, fail_fast=True)) for i in self._informers
        ]
        try:
            done, _ = await asyncio.wait(syncing, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in syncing:
                task.cancel()
            await asyncio.gather(*syncing, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
        if len(done) < len(syncing) or not all(task.result() for task in done):
            return False
        self.synced = True
        self._event.set()
        return True

    async def stop(self) -> None:
        """Stop every informer."""
        await asyncio.gather(*(i.stop() for i in self._informers))

    async def __aenter__(self) -> ObjectWatch:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def get(self, name: str, namespace: str | None = None) -> Object | None:
        """The object as last seen, or None when it does not exist."""
        ns = (namespace or self.namespace) if self.resource.namespaced else None
        key = f"{ns}/{name}" if ns else name
        for informer in self._informers:
            obj = informer.store.get_by_key(key)
            if obj is not None:
                return obj
        return None

    def objects(self) -> list[Object]:
        """Every object the watch holds."""
        return [obj for informer in self._informers for obj in informer.store.list()]

    async def changed(self, timeout: float | None = None) -> bool:
        """Wait for a change (True) or for ``timeout`` seconds (False); the first call after
        starting returns at once, so the caller looks at the initial state first."""
        self._raise_error()
        try:
            if timeout is None:
                await self._event.wait()
            else:
                await asyncio.wait_for(self._event.wait(), max(timeout, 0.0))
        except TimeoutError:
            return False
        self._event.clear()
        self._raise_error()
        return True

    async def changes(self, timeout: float | None = None) -> AsyncIterator[None]:
        """Start watching, then yield once the first list is in and after every change, so
        the caller looks again each time; end when ``timeout`` seconds have passed
        (:attr:`synced` then says whether the first list ever came).  Errors are
        :meth:`start`'s and :meth:`changed`'s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            if not self.synced:
                await self.start(remaining)
            elif await self.changed(remaining):
                yield


# -- waiting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitResult:
    """One object's state in a wait: ``met``, or ``missing`` says what is not yet true."""

    target: str
    namespace: str | None
    condition: str
    met: bool
    missing: str = ""
    object: Object | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        if self.met:
            return f"{self.target} condition met"
        return f"{self.target}: {self.missing}"

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (``kubeops wait -o json``)."""
        return {
            "target": self.target,
            "namespace": self.namespace,
            "condition": self.condition,
            "met": self.met,
            "missing": self.missing or None,
            "object": self.object,
        }


@dataclass
class _Target:
    name: str
    namespace: str | None
    uid: str | None = None


def _describe_pending(pending: Sequence[WaitResult], limit: int = 5) -> str:
    if len(pending) == 1:
        return pending[0].missing
    shown = [f"{r.target}: {r.missing}" for r in pending[:limit]]
    if len(pending) > limit:
        shown.append(f"and {len(pending) - limit} more")
    return "; ".join(shown)


def _targets_text(resource: ResourceType, pending: Sequence[WaitResult]) -> str:
    if len(pending) == 1:
        return pending[0].target
    return f"{len(pending)} {display_name(resource)} objects"


@either_client
async def wait_for(
    client: Client,
    kind: Kind,
    condition: str | WaitCondition,
    names: str | Sequence[str] = (),
    namespace: str | None = None,
    *,
    label_selector: str | None = None,
    all_objects: bool = False,
    all_namespaces: bool = False,
    timeout: float | None = 30.0,
    on_progress: Callable[[list[WaitResult]], None] | None = None,
) -> list[WaitResult]:
    """Wait until ``condition`` holds for the named objects, or for those ``label_selector``
    (or ``all_objects``) picks when the wait starts.

    ``timeout`` is in seconds: ``0`` checks once (:class:`ConditionNotMet` if it does
    not hold), ``None`` waits for ever; otherwise :class:`WaitTimeout` says what each
    object still lacks.  ``on_progress`` receives every object's state whenever one
    changes (on the client's event loop: with a :class:`~kubeops.api.SyncClient`,
    its loop thread).  Returns the results, all met.

    With a :class:`~kubeops.api.SyncClient` it blocks and returns the results.
    """
    cond = parse_condition(condition) if isinstance(condition, str) else condition
    resource = await client.resource(kind)
    listed_names = [names] if isinstance(names, str) else list(names)
    ns = None if all_namespaces or not resource.namespaced else (namespace or client.namespace)
    verb = f"wait for {cond} on"
    what = display_name(resource)
    if listed_names and (label_selector or all_objects):
        raise WaitError(verb, what, ns, "give object names or a selector, not both")
    if not listed_names and not (label_selector or all_objects):
        raise WaitError(verb, what, ns, "no objects named: give names, a label selector or all")
    if listed_names and all_namespaces and resource.namespaced:
        raise WaitError(verb, what, None, "named objects need one namespace, not all of them")

    # Who is waited for is decided now, as kubectl does: by name, or by what the
    # selector picks at this moment (for ``create`` with a selector: any object).
    initial: dict[tuple[str | None, str], Object | None] = {}
    if listed_names:
        fetched = await asyncio.gather(
            *(_get_or_none(client, resource, name, ns) for name in listed_names)
        )
        for name, obj in zip(listed_names, fetched, strict=True):
            if obj is None and not cond.absent_ok:
                await client.get(resource, name, ns)  # raises the server's NotFound
            initial[(ns, name)] = obj
    else:
        listed = await client.list(
            resource, ns, all_namespaces=all_namespaces, label_selector=label_selector
        )
        for obj in listed.get("items") or []:
            meta = obj.get("metadata") or {}
            initial[(meta.get("namespace"), meta["name"])] = obj
        if not initial and not cond.absent_ok:
            raise WaitError(verb, what, ns, "no matching resources found")
    any_of = isinstance(cond, Created) and not listed_names
    targets = [
        _Target(name, target_ns, (obj or {}).get("metadata", {}).get("uid"))
        for (target_ns, name), obj in initial.items()
    ]

    def evaluate(lookup: Callable[[_Target], Object | None]) -> list[WaitResult]:
        results = []
        for target in targets:
            obj = lookup(target)
            if (
                isinstance(cond, Deleted)
                and obj is not None
                and target.uid
                and obj.get("metadata", {}).get("uid") != target.uid
            ):
                obj = None  # a new object under the same name: the one waited for is gone
            try:
                missing = cond.missing(obj)
            except JSONPathError as err:
                raise WaitError(
                    verb, display_name(resource, target.name), target.namespace, str(err)
                ) from err
            results.append(
                WaitResult(
                    display_name(resource, target.name),
                    target.namespace,
                    cond.text,
                    missing is None,
                    missing or "",
                    obj,
                )
            )
        if any_of and not results:
            results.append(WaitResult(what, ns, cond.text, False, "no matching object exists yet"))
        return results

    results = evaluate(lambda t: initial[(t.namespace, t.name)])
    if all(r.met for r in results):
        return results
    if timeout == 0:
        pending = [r for r in results if not r.met]
        err = ConditionNotMet(
            verb,
            _targets_text(resource, pending),
            ns,
            f"condition not met: {_describe_pending(pending)}",
        )
        err.pending = tuple(pending)
        raise err

    watch = ObjectWatch(
        client,
        resource,
        None if all_namespaces else ns,
        names=listed_names,
        label_selector=None if listed_names else label_selector,
    )
    reported: list[tuple[bool, str]] = []
    outside: dict[tuple[str | None, str], Object | None] = {}
    try:
        async for _ in watch.changes(None if timeout is None or timeout < 0 else timeout):
            if any_of:
                targets[:] = [
                    _Target(o["metadata"]["name"], o["metadata"].get("namespace"))
                    for o in watch.objects()
                ]
            elif not listed_names:
                # An object can leave a selector without being deleted (its labels
                # changed): ask the server about the ones the selector no longer shows.
                await _look_up_outside(client, resource, targets, watch, outside)
            results = evaluate(
                lambda t: watch.get(t.name, t.namespace) or outside.get((t.namespace, t.name))
            )
            if all(r.met for r in results):
                return results
            report = [(r.met, r.missing) for r in results]
            if on_progress is not None and report != reported:
                on_progress(results)
            reported = report
    finally:
        await watch.stop()
    pending = [r for r in results if not r.met]
    assert timeout is not None
    cause = f"timed out after {format_duration(timeout)}: " + (
        _describe_pending(pending) if watch.synced else "the objects could not be listed in time"
    )
    timed_out = WaitTimeout(verb, _targets_text(resource, pending), ns, cause)
    timed_out.pending = tuple(pending)
    raise timed_out


async def _look_up_outside(
    client: Client,
    resource: ResourceType,
    targets: Sequence[_Target],
    watch: ObjectWatch,
    outside: dict[tuple[str | None, str], Object | None],
) -> None:
    """Fill ``outside`` with the server's view of targets the watch does not show."""
    missing = [
        t
        for t in targets
        if watch.get(t.name, t.namespace) is None
        and not ((t.namespace, t.name) in outside and outside[(t.namespace, t.name)] is None)
    ]
    found = await asyncio.gather(
        *(_get_or_none(client, resource, t.name, t.namespace) for t in missing)
    )
    for target, obj in zip(missing, found, strict=True):
        outside[(target.namespace, target.name)] = obj


async def _get_or_none(
    client: Client, resource: ResourceType, name: str, namespace: str | None
) -> Object | None:
    try:
        return await client.get(resource, name, namespace)
    except NotFound:
        return None
