"""``call``: run a Python function with the event -- one of the rule's own
(``Rule.functions``, from decorated rules) or any importable ``module:attr``.

The function may be sync (run in a thread, so it cannot stall the daemon) or async; what it returns, if a string, is what the
audit log says was done.  In a dry run it is not called: kubeops cannot know
what it would change.  The engine's ledger keeps it from running twice for the
same action id; a function that must survive a crash mid-way should itself be
idempotent (it can read ``event.identity``).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from kubeops.respond.action import ActionContext, ActionSpecError, Plan
from kubeops.respond.actions.base import ActionError, BaseAction
from kubeops.respond.actions.values import Params

__all__ = ["CallAction", "import_function"]


def import_function(text: str) -> Callable[..., Any]:
    """The callable ``module:attr`` (``attr`` may be dotted) names."""
    module_name, _, attr = text.partition(":")
    if not module_name or not attr:
        raise ActionSpecError(f"function: write module:attr, not {text!r}")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ActionSpecError(f"function: cannot import {module_name!r}: {err}") from None
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ActionSpecError(f"function: {module_name!r} has no {attr!r}") from None
    if not callable(found):
        raise ActionSpecError(f"function: {text!r} is not callable")
    return found  # type: ignore[no-any-return]


class CallAction(BaseAction[str]):
    """See the module doc."""

    kind = "call"

    def configure(self, params: Params) -> str:
        """``function``: a name in the rule's functions, or ``module:attr`` (checked now)."""
        name = params.string("function", required=True)
        if ":" in name and params.known("function"):
            import_function(name)
        return name

    def _function(self, ctx: ActionContext) -> tuple[str, Callable[..., Any]]:
        name = self.settings_for(ctx)
        if name in ctx.rule.functions:
            return name, ctx.rule.functions[name]
        if ":" in name:
            try:
                return name, import_function(name)
            except ActionSpecError as err:
                raise ActionError(self.kind, name, str(err)) from err
        known = ", ".join(sorted(ctx.rule.functions)) or "none"
        raise ActionError(
            self.kind,
            name,
            f"rule {ctx.rule.name!r} has no such function (it has: {known}); or write module:attr",
        )

    async def plan(self, ctx: ActionContext) -> Plan:
        """Name the function."""
        name, _ = self._function(ctx)
        return self.plan_of(ctx.event.subject, f"call {name}")

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Call it with the event (not in a dry run)."""
        name, function = self._function(ctx)
        if ctx.dry_run:
            return f"would call {name} (dry run: not called)"
        try:
            if inspect.iscoroutinefunction(function):
                result = await function(ctx.event)
            else:  # a blocking function must not stall the daemon's loop
                result = await asyncio.to_thread(function, ctx.event)
            if inspect.isawaitable(result):
                result = await result
        except asyncio.CancelledError:
            raise
        except Exception as err:
            raise ActionError(self.kind, name, f"{type(err).__name__}: {err}") from err
        return result if isinstance(result, str) and result else f"called {name}"
