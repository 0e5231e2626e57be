"""``kubeops sync plan``'s output: every change per target, as a human reads it before a prune.

Pure: operations in, text (or a JSON/YAML-able dict) out.  An update shows a
unified diff of the YAML of the target's object against the desired one, cut to
the fields the sync sets (:func:`kubeops.sync.diff.project`), so defaults and
status the server added never appear; the sync's marks are hidden and Secret
values are never printed, only whether they change.
"""

from __future__ import annotations

import copy
import difflib
import io
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import yaml

from kubeops.config.redact import printable
from kubeops.sync.desired import strip_server_fields
from kubeops.sync.diff import MARKS, project
from kubeops.sync.operation import Action, Operation, State
from kubeops.sync.ownership import FIELD_MANAGER

PULL_NOTE: Final = "pull member: applied by its agent"
"""Ends the reason of every operation planned for a Pull member (its agent carries it out)."""

PAUSED_NOTE: Final = "policy paused: run does nothing until it resumes"
"""Ends the reason of every change planned for a paused policy."""

_MARKERS: Final[Mapping[str, tuple[str, str, str]]] = {
    # kind of line: (marker, verb, rich style)
    "create": ("+", "create", "green"),
    "update": ("~", "update", "yellow"),
    "replace": ("~", "replace", "yellow"),
    "delete": ("-", "delete", "red"),
    "conflict": ("!", "conflict", "bold red"),
    "orphan": ("=", "orphan", "cyan"),
    "drifted": ("*", "drifted", "magenta"),
    "pending": (".", "pending", "dim"),
    "failed": ("!", "failed", "bold red"),
    "in sync": (" ", "in sync", "dim"),
}
_COUNTED: Final = ("create", "update", "delete", "orphan", "conflict", "drifted", "in sync")


def kind_of(op: Operation) -> str:
    """The plan's word for ``op``: create, update, replace, delete, orphan, conflict, drifted, in sync..."""
    if op.action is Action.CREATE:
        return "create"
    if op.action is Action.APPLY:
        return "update"
    if op.action is Action.REPLACE:
        return "replace"
    if op.action is Action.DELETE:
        return "delete"
    if op.action is Action.ORPHAN:
        return "orphan"
    return {
        State.CONFLICT: "conflict",
        State.DRIFTED: "drifted",
        State.PENDING: "pending",
        State.FAILED: "failed",
    }.get(op.state, "in sync")


def _counted(kind: str) -> str:
    return "update" if kind == "replace" else kind


def counts(operations: Iterable[Operation]) -> dict[str, int]:
    """How many operations of each kind (replace counts as update), every kind present."""
    found = Counter(_counted(kind_of(op)) for op in operations)
    return {kind: found.get(kind, 0) for kind in (*_COUNTED, "pending", "failed")}


def _summary_text(found: Mapping[str, int]) -> str:
    parts = [
        f"{found['create']} to create",
        f"{found['update']} to update",
        f"{found['delete']} to delete",
    ]
    parts += [f"{found[k]} to orphan" for k in ("orphan",) if found[k]]
    parts += [f"{found[k]} {k}" for k in ("conflict", "drifted", "pending", "failed") if found[k]]
    parts.append(f"{found['in sync']} in sync")
    return ", ".join(parts)


def summary(operations: Sequence[Operation]) -> str:
    """One line over every target: ``plan: 2 to create, 1 to update, 0 to delete, ... (2 targets)``."""
    targets = {(op.policy, op.target) for op in operations}
    noun = "target" if len(targets) == 1 else "targets"
    return f"plan: {_summary_text(counts(operations))} ({len(targets)} {noun})"


def _groups(operations: Sequence[Operation]) -> dict[tuple[str, str], list[Operation]]:
    groups: dict[tuple[str, str], list[Operation]] = {}
    for op in operations:
        groups.setdefault((op.policy, op.target), []).append(op)
    for ops in groups.values():
        ops.sort(key=lambda o: o.key)
    return dict(sorted(groups.items()))


def _reason(op: Operation) -> str:
    reason = op.reason.removesuffix(f"; {PULL_NOTE}")
    return printable(reason, one_line=True)


def diff_lines(op: Operation) -> list[str]:
    """The unified diff of ``op``'s target object against its desired one (empty if none).

    An update shows the fields the sync sets, and those it applied last time and no
    longer sets (read from the object's managed fields); a replace (Overwrite) the
    whole object, since the fields it does not set are removed.
    """
    if op.desired is None or op.actual is None:
        return []
    desired = _shown(op.desired)
    if op.action is Action.REPLACE:
        before = _shown(strip_server_fields(op.actual))
    else:
        actual = _shown(op.actual)
        before = project(actual, desired)
        _add_applied(before, actual, desired, _applied_fields(op.actual))
    _hide_secrets(before, desired)
    old = _yaml(before).splitlines()
    new = _yaml(desired).splitlines()
    lines = list(difflib.unified_diff(old, new, op.target, "desired", n=2, lineterm=""))
    return [printable(line, one_line=True) for line in lines]


def _applied_fields(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The fields the sync last applied (its server-side apply entry's ``fieldsV1``)."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply":
            fields = entry.get("fieldsV1")
            return fields if isinstance(fields, Mapping) else {}
    return {}


def _add_applied(
    before: dict[str, Any],
    actual: Mapping[str, Any],
    desired: Mapping[str, Any],
    applied: Mapping[str, Any],
) -> None:
    """Put back into ``before`` the fields the sync applied last time and no longer sets:
    the apply removes them, so the diff shows them going."""
    for raw, inner in applied.items():
        name = raw[2:]
        if not raw.startswith("f:") or name not in actual:
            continue
        if name not in desired:
            before[name] = copy.deepcopy(actual[name])
        elif (
            isinstance(inner, Mapping)
            and isinstance(actual[name], Mapping)
            and isinstance(desired[name], Mapping)
            and isinstance(before.get(name), dict)
        ):
            _add_applied(before[name], actual[name], desired[name], inner)


def _shown(obj: Mapping[str, Any]) -> dict[str, Any]:
    shown = strip_server_fields(obj)
    meta = shown.get("metadata") or {}
    for _, section, name in MARKS:
        values = meta.get(section)
        if isinstance(values, dict):
            values.pop(name, None)
            if not values:
                del meta[section]
    return shown


def _hide_secrets(before: dict[str, Any], after: dict[str, Any]) -> None:
    if after.get("kind") != "Secret" or after.get("apiVersion") != "v1":
        return
    for field in ("data", "stringData"):
        old, new = before.get(field), after.get(field)
        old = old if isinstance(old, dict) else {}
        new = new if isinstance(new, dict) else {}
        for key in set(old) | set(new):
            changed = old.get(key) != new.get(key)
            if key in old:
                old[key] = "(hidden, was)" if changed else "(hidden)"
            if key in new:
                new[key] = "(hidden, new)" if changed else "(hidden)"


_DUMPER: Final = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's emitter when PyYAML has it: about 10x faster for a plan of 1,000 diffs."""


def _yaml(obj: Any) -> str:
    return yaml.dump(
        obj, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def _lines(operations: Sequence[Operation], wide: bool) -> list[tuple[str, str]]:
    """(text, rich style) per output line."""
    out: list[tuple[str, str]] = []
    for (policy, target), ops in _groups(operations).items():
        pull = any(op.reason.endswith(PULL_NOTE) for op in ops)
        header = f"policy {policy} -> {target}" + (f" ({PULL_NOTE})" if pull else "")
        out.append((printable(header, one_line=True), "bold"))
        for op in ops:
            kind = kind_of(op)
            if kind == "in sync" and not wide:
                continue
            marker, verb, style = _MARKERS[kind]
            name = printable(str(op.key), one_line=True)
            out.append((f"  {marker} {verb:<8} {name}  ({_reason(op)})", style))
            if kind in ("update", "replace", "drifted") or (wide and kind == "conflict"):
                out.extend((f"      {line}", _diff_style(line)) for line in diff_lines(op))
            elif kind == "create" and wide and op.desired is not None:
                shown = _shown(op.desired)
                _hide_secrets({}, shown)
                body = _yaml(shown).splitlines()
                out.extend((f"      +{printable(line, one_line=True)}", "green") for line in body)
        out.append((f"  {target}: {_summary_text(counts(ops))}", "bold"))
    return out


def _diff_style(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return ""


def color_wanted() -> bool:
    """Whether stdout is a terminal that wants colour (``NO_COLOR`` unset)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def render_plan(
    operations: Sequence[Operation], *, wide: bool = False, color: bool | None = None
) -> str:
    """The plan as text: per target its creates, updates (with diffs), deletes, conflicts and
    orphans, then a summary line.  ``wide`` also lists objects in sync and shows what a
    create sends; ``color`` None colours when stdout is a terminal (:func:`color_wanted`)."""
    lines = _lines(operations, wide)
    if not lines:
        return ""
    if not (color_wanted() if color is None else color):
        return "\n".join(text for text, _ in lines) + "\n"
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, color_system="standard", width=10_000, highlight=False
    )
    body = Text()
    for text, style in lines:
        body.append(text, style=style)
        body.append("\n")
    console.print(body, soft_wrap=True, end="")
    return buffer.getvalue()


def operation_dict(op: Operation) -> dict[str, Any]:
    """``op`` as plain data for ``-o json|yaml`` (the diff as lines; Secret values hidden)."""
    return {
        "policy": op.policy,
        "target": op.target,
        "group": op.key.group,
        "kind": op.key.kind,
        "namespace": op.key.namespace,
        "name": op.key.name,
        "change": kind_of(op),
        "action": op.action.value,
        "state": op.state.value,
        "reason": op.reason,
        "differences": list(op.differences),
        "diff": diff_lines(op),
    }


def plan_as_dict(operations: Sequence[Operation]) -> dict[str, Any]:
    """The whole plan as plain data: per policy and target, its counts and operations."""
    return {
        "summary": counts(operations),
        "targets": [
            {
                "policy": policy,
                "target": target,
                "pull": any(op.reason.endswith(PULL_NOTE) for op in ops),
                "summary": counts(ops),
                "operations": [operation_dict(op) for op in ops],
            }
            for (policy, target), ops in _groups(operations).items()
        ],
    }
