"""A rollout's revisions, as ``kubectl rollout history`` lists them, and rolling back to one
(``kubectl rollout undo``).

A Deployment's history is the revision annotations of the ReplicaSets it owns; a
StatefulSet's or DaemonSet's is its ControllerRevisions.  Undo copies the chosen
revision's pod template (without its ``pod-template-hash`` label) and its
annotations back into the Deployment, so the controller renumbers it as the
newest revision; a StatefulSet or DaemonSet gets the ControllerRevision's patch.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeops.api import Object, retry_on_conflict
from kubeops.models.selector import Selector
from kubeops.ops.rollout.errors import RevisionNotFound, RolloutPaused
from kubeops.ops.rollout.fields import field_at, int_field
from kubeops.ops.rollout.target import RolloutResult, RolloutTarget
from kubeops.ops.rollout.template import (
    LAST_APPLIED,
    describe_pod_template,
    same_template,
    without_hash,
)

__all__ = [
    "CHANGE_CAUSE",
    "REVISION",
    "Revision",
    "format_history",
    "history",
    "revision_of",
    "revisions",
    "undo",
]

CHANGE_CAUSE = "kubernetes.io/change-cause"
REVISION = "deployment.kubernetes.io/revision"
# Annotations a Deployment keeps through an undo; the others come from the revision.
_DEPLOYMENT_OWN_ANNOTATIONS = frozenset(
    {
        LAST_APPLIED,
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


@dataclass(frozen=True)
class Revision:
    """One entry of a rollout's history: its number, change-cause and pod template.

    ``source`` names the ReplicaSet or ControllerRevision it was read from.
    """

    revision: int
    change_cause: str | None
    template: Object
    source: str
    object: Object = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The revision as JSON-ready data (``-o json``)."""
        return {
            "revision": self.revision,
            "changeCause": self.change_cause,
            "source": self.source,
            "template": self.template,
        }


def revision_of(obj: Mapping[str, Any]) -> int:
    """The Deployment revision an object's annotation records, 0 when it has none."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def format_history(target: str, revisions: Sequence[Revision], revision: int | None = None) -> str:
    """``kubectl rollout history`` as text: the revision table, or (``revision``) that
    revision's pod template."""
    if revision:
        for entry in revisions:
            if entry.revision == revision:
                return (
                    f"{target} with revision #{revision}\n{describe_pod_template(entry.template)}"
                )
        return f"{target}\nNo revision {revision} found.\n"
    if not revisions:
        return f"{target}\nNo rollout history found.\n"
    width = max(len("REVISION"), *(len(str(r.revision)) for r in revisions)) + 2
    rows = [f"{'REVISION':<{width}}CHANGE-CAUSE"]
    rows += [f"{r.revision!s:<{width}}{r.change_cause or '<none>'}" for r in revisions]
    return f"{target}\n" + "\n".join(rows) + "\n"


async def history(target: RolloutTarget, revision: int | None = None) -> list[Revision]:
    """Every revision of ``target`` still recorded, oldest first; or only ``revision``
    (:class:`RevisionNotFound` when it is not there)."""
    found = await revisions(target, await target.read())
    if not revision:
        return found
    chosen = [r for r in found if r.revision == revision]
    if not chosen:
        known = ", ".join(str(r.revision) for r in found) or "none"
        raise target.error(
            RevisionNotFound,
            "rollout history",
            f"unable to find revision {revision} (revisions: {known})",
        )
    return chosen


async def revisions(target: RolloutTarget, obj: Object) -> list[Revision]:
    """The revisions recorded for ``obj`` (the object ``target`` names), oldest first."""
    client, namespace = target.client, target.namespace
    selector = str(Selector.from_label_selector((obj.get("spec") or {}).get("selector")))
    uid = str(obj["metadata"]["uid"])
    found: dict[int, Revision] = {}
    if target.kind == "Deployment":
        listed = await client.list("replicasets.apps", namespace, label_selector=selector)
        for rs in listed.get("items") or []:
            if not _owned_by(rs, uid):
                continue
            annotations = rs["metadata"].get("annotations") or {}
            try:
                number = int(annotations.get(REVISION, "0"))
            except ValueError:
                continue  # kubectl skips (and warns about) an unreadable revision
            found[number] = Revision(
                number,
                annotations.get(CHANGE_CAUSE) or None,
                (rs.get("spec") or {}).get("template") or {},
                f"replicaset.apps/{rs['metadata']['name']}",
                rs,
            )
    else:
        listed = await client.list("controllerrevisions.apps", namespace, label_selector=selector)
        for entry in listed.get("items") or []:
            if not _owned_by(entry, uid):
                continue
            number = int_field(entry.get("revision"))
            template = without_hash(field_at(entry, ("data", "spec", "template")) or {})
            annotations = entry["metadata"].get("annotations") or {}
            found[number] = Revision(
                number,
                annotations.get(CHANGE_CAUSE) or None,
                template,
                f"controllerrevision.apps/{entry['metadata']['name']}",
                entry,
            )
    return [found[n] for n in sorted(found)]


async def undo(
    target: RolloutTarget, to_revision: int = 0, *, dry_run: bool = False
) -> RolloutResult:
    """Roll ``target`` back to its previous revision, or to ``to_revision``; see
    :meth:`kubeops.ops.rollout.Rollout.undo`."""
    verb = "rollout undo"
    if to_revision < 0:
        raise target.error(
            RevisionNotFound, verb, f"unable to find specified revision {to_revision} in history"
        )

    async def attempt() -> RolloutResult:
        obj = await target.read()
        # Refused before the history is read, as kubectl does: paused is the answer.
        if target.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
            raise target.error(
                RolloutPaused,
                verb,
                "you cannot roll back a paused deployment; resume it first and try again",
            )
        chosen = _pick(target, await revisions(target, obj), to_revision)
        current = (obj.get("spec") or {}).get("template") or {}
        if same_template(chosen.template, current):
            return target.result(
                f"skipped rollback (current template already matches revision {chosen.revision})",
                obj,
                changed=False,
                revision=chosen.revision,
            )
        rv = obj["metadata"]["resourceVersion"]
        if target.kind == "Deployment":
            annotations = {
                k: v
                for k, v in (obj["metadata"].get("annotations") or {}).items()
                if k in _DEPLOYMENT_OWN_ANNOTATIONS
            }
            annotations |= {
                k: v
                for k, v in (chosen.object["metadata"].get("annotations") or {}).items()
                if k not in _DEPLOYMENT_OWN_ANNOTATIONS
            }
            operations: list[Object] = [
                {"op": "replace", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "replace", "path": "/spec/template", "value": without_hash(chosen.template)},
                {"op": "add", "path": "/metadata/annotations", "value": annotations},
            ]
            patched = await target.patch(operations, patch_type="json", dry_run=dry_run)
        else:
            patch = copy.deepcopy(chosen.object.get("data") or {})
            patch["metadata"] = {"resourceVersion": rv}
            patched = await target.patch(patch, patch_type="strategic", dry_run=dry_run)
        return target.result("rolled back", patched, revision=chosen.revision, dry_run=dry_run)

    return await retry_on_conflict(attempt)


def _pick(target: RolloutTarget, found: list[Revision], to_revision: int) -> Revision:
    verb = "rollout undo"
    known = ", ".join(str(r.revision) for r in found) or "none"
    if to_revision:
        for entry in found:
            if entry.revision == to_revision:
                return entry
        raise target.error(
            RevisionNotFound,
            verb,
            f"unable to find specified revision {to_revision} in history (revisions: {known})",
        )
    if target.kind == "Deployment":
        # The previous revision is the newest but one, wherever the template is now.
        if len(found) < 2:
            raise target.error(
                RevisionNotFound, verb, f'no rollout history found for deployment "{target.name}"'
            )
    elif len(found) <= 1:
        raise target.error(RevisionNotFound, verb, "no last revision to roll back to")
    return found[-2]


def _owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    return any(
        ref.get("controller") and ref.get("uid") == owner_uid
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
    )
