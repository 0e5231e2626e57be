"""Rules written in Python: decorators that turn functions into rules.

::

    from kubeops.respond.registry import listener, rule
    from kubeops.respond import Safety, Trigger

    @listener("server_down")                 # an event named so, from any source
    async def page_the_db_team(event):
        ...

    @rule(
        trigger=Trigger(source="derived", names=("CrashLoop",), namespaces=("prod",)),
        conditions=["object.metadata.labels['tier'] == 'web'"],
        safety=Safety(cooldown=600),
    )
    def on_crash_loop(event):
        ...

The function becomes the rule's ``call`` action (after any ``actions=`` given), so
it passes the same limits, ledger and audit as a YAML rule's actions.  A module
of decorated functions is loaded with ``--rules module.py`` (or
:func:`ruleset_from_module`); a module-level :class:`~kubeops.respond.model.GlobalLimits`
(any name) sets the global limits, and module-level :class:`~kubeops.respond.model.Rule`
values are taken as they are.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from kubeops.errors import KubeopsError
from kubeops.respond.model import ActionSpec, GlobalLimits, PythonAction, Rule, Safety, Trigger

if TYPE_CHECKING:
    from kubeops.respond.rules import RuleSet

RULE_ATTRIBUTE = "__kubeops_rule__"
"""Where a decorated function keeps the :class:`Rule` it declares."""

_F = TypeVar("_F", bound=Callable[..., Any])


class RegistryError(KubeopsError):
    """A rule module that cannot be imported, or a decorator used wrongly."""


@dataclass(frozen=True)
class Declared:
    """A module's rules and global limits, not yet validated."""

    rules: tuple[Rule, ...]
    limits: GlobalLimits


def _origin(function: Callable[..., Any]) -> str:
    """``file:line`` of the function's definition (``module:name`` when unknown)."""
    try:
        file = inspect.getsourcefile(function)
        line = inspect.getsourcelines(function)[1]
    except (OSError, TypeError):
        return f"{function.__module__}:{function.__qualname__}"
    return f"{file}:{line}" if file else f"{function.__module__}:{function.__qualname__}"


def _summary(function: Callable[..., Any]) -> str:
    doc = inspect.getdoc(function) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def rule(
    *,
    trigger: Trigger,
    conditions: Sequence[str] = (),
    safety: Safety | None = None,
    actions: Sequence[ActionSpec] = (),
    name: str | None = None,
    description: str | None = None,
) -> Callable[[_F], _F]:
    """Declare the decorated function a rule: when ``trigger`` fires and every CEL
    condition holds, run ``actions`` then call the function with the event."""
    if not isinstance(trigger, Trigger):
        raise RegistryError(f"@rule: trigger must be a Trigger, not {type(trigger).__name__}")
    if isinstance(conditions, str):
        conditions = (conditions,)

    def decorate(function: _F) -> _F:
        origin = _origin(function)
        key = function.__qualname__
        declared = Rule(
            name=name or function.__name__,
            trigger=trigger,
            actions=(*actions, ActionSpec("call", {"function": key}, origin=origin)),
            conditions=tuple(conditions),
            safety=safety or Safety(),
            description=_summary(function) if description is None else description,
            origin=origin,
            functions={key: _as_action(function)},
        )
        setattr(function, RULE_ATTRIBUTE, declared)
        return function

    return decorate


def listener(
    event_name: str,
    *,
    source: str = "",
    conditions: Sequence[str] = (),
    safety: Safety | None = None,
    name: str | None = None,
) -> Callable[[_F], _F]:
    """Call the decorated function for every event named ``event_name`` -- from any
    source, or only from ``source`` when given (``"http"``, ``"alert"``...)."""
    if not isinstance(event_name, str) or not event_name:
        raise RegistryError("@listener: name the event, e.g. @listener('server_down')")
    return rule(
        trigger=Trigger(source=source, names=(event_name,)),
        conditions=conditions,
        safety=safety,
        name=name,
    )


def _as_action(function: Callable[..., Any]) -> PythonAction:
    return function


def declared_in(module: ModuleType) -> Declared:
    """The rules and limits ``module`` declares, in definition order (not validated)."""
    rules: list[Rule] = []
    limits = GlobalLimits()
    for value in list(vars(module).values()):
        found = getattr(value, RULE_ATTRIBUTE, None) if callable(value) else None
        if isinstance(found, Rule):
            rules.append(found)
        elif isinstance(value, Rule):
            rules.append(value)
        elif isinstance(value, GlobalLimits):
            limits = value
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Rule) for v in value):
            rules += list(value)
    return Declared(tuple(rules), limits)


def ruleset_from_module(module: ModuleType) -> RuleSet:
    """The validated :class:`~kubeops.respond.rules.RuleSet` of ``module``'s rules
    (:class:`~kubeops.respond.rules.RuleError` listing every problem)."""
    from kubeops.respond.rules import build_ruleset, rule_places

    declared = declared_in(module)
    return build_ruleset(
        rule_places(declared.rules, getattr(module, "__file__", "") or module.__name__),
        declared.limits,
    )


def ruleset_from_rules(rules: Iterable[Rule], limits: GlobalLimits | None = None) -> RuleSet:
    """A validated rule set from :class:`Rule` values built in code."""
    from kubeops.respond.rules import build_ruleset, rule_places

    return build_ruleset(rule_places(tuple(rules), "<code>"), limits or GlobalLimits())


def load_module(path: str | Path) -> Declared:
    """Import the Python file ``path`` and return what it declares; an import that
    fails raises :class:`RegistryError` naming the file and the cause."""
    path = Path(path)
    name = f"kubeops_rules_{abs(hash(str(path.resolve())))}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RegistryError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError:
        sys.modules.pop(name, None)
        raise RegistryError(f"{path}: no such file") from None
    except SyntaxError as err:
        sys.modules.pop(name, None)
        raise RegistryError(f"{path}:{err.lineno}: invalid Python: {err.msg}") from None
    except Exception as err:
        sys.modules.pop(name, None)
        raise RegistryError(f"{path}: importing it failed: {type(err).__name__}: {err}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return declared_in(module)
