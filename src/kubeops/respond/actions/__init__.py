"""Every action ``kubeops respond`` can take, by the name rules give it.

``ACTIONS[kind](spec)`` builds one from its :class:`~kubeops.respond.model.ActionSpec`,
checking every setting (:class:`~kubeops.respond.action.ActionSpecError`, whose
message names the field; the rules loader adds the file and line).  Each acts
through kubeops' own operations, plans before it acts, honours dry run (a
server-side dry run where the API has one, nothing sent or written otherwise) and
is repeatable for the same action id -- see each module for how.

Settings shared by all: ``target`` (:mod:`.target`) and ``${<CEL>}`` values
(:mod:`.values`).
"""

from __future__ import annotations

from collections.abc import Callable

from kubeops.respond.action import Action, ActionSpecError
from kubeops.respond.actions.base import ActionError
from kubeops.respond.actions.call import CallAction
from kubeops.respond.actions.edit import AnnotateAction, LabelAction, PatchAction
from kubeops.respond.actions.isolate import IsolateAction
from kubeops.respond.actions.job import CreateJobAction
from kubeops.respond.actions.nodes import CordonAction, DrainAction
from kubeops.respond.actions.notify import NotifyAction, NotifySettings
from kubeops.respond.actions.pods import DeletePodAction
from kubeops.respond.actions.record import RecordEventAction
from kubeops.respond.actions.rollout import RestartAction, RollbackAction
from kubeops.respond.actions.scale import ScaleAction
from kubeops.respond.actions.service import SwitchServiceAction
from kubeops.respond.model import ActionSpec

__all__ = ["ACTIONS", "ActionError", "NotifySettings", "build_action"]

ACTIONS: dict[str, Callable[[ActionSpec], Action]] = {
    cls.kind: cls
    for cls in (
        ScaleAction,
        RestartAction,
        RollbackAction,
        DeletePodAction,
        CordonAction,
        DrainAction,
        PatchAction,
        LabelAction,
        AnnotateAction,
        SwitchServiceAction,
        IsolateAction,
        CreateJobAction,
        CallAction,
        NotifyAction,
        RecordEventAction,
    )
}


def build_action(spec: ActionSpec) -> Action:
    """The action ``spec`` describes; :class:`ActionSpecError` names what is wrong."""
    factory = ACTIONS.get(spec.kind)
    if factory is None:
        known = ", ".join(sorted(ACTIONS))
        raise ActionSpecError(f"{spec.kind}: unknown action (known: {known})")
    return factory(spec)
