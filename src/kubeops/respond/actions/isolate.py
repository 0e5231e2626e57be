"""``isolate``: take Pods out of service and off the network, and keep them for forensics.

The target is a Pod, or a ConfigMap or Secret -- then every Pod of its namespace
that uses it (volumes, projected volumes, ``envFrom``, ``env.valueFrom``).  Each
isolated Pod is annotated with the action id and the time; a re-run takes only
Pods created before that time, so the replacements the isolation caused are not
isolated too (:func:`suspects`).

Each Pod loses the labels its Services select on (so no traffic reaches it, and
its ReplicaSet, which selects on the same labels, starts a replacement), gains
``respond.kubeops.io/quarantine: "true"`` and an annotation recording the labels
removed (to restore them by hand); a deny-all NetworkPolicy selecting the
quarantine label (ingress and egress) is made in the namespace.  The policy is
created first, so a Pod is cut off from the moment it is relabelled; the relabel
tests the uid read (one JSON patch), and both steps are repeatable (the policy exists; the
labels are already gone).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any

from kubeops.api import Object
from kubeops.errors import AlreadyExists, Invalid, NotFound
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import MARK_PREFIX, ActionError, BaseAction, pointer
from kubeops.respond.actions.target import Resolved, TargetSpec
from kubeops.respond.actions.values import Params
from kubeops.respond.event import ObjectRef

__all__ = [
    "ISOLATED_BY",
    "ISOLATED_LABELS",
    "POLICY_NAME",
    "QUARANTINE_LABEL",
    "IsolateAction",
    "deny_all_policy",
    "selected_keys",
    "suspects",
    "uses",
]

QUARANTINE_LABEL = MARK_PREFIX + "quarantine"
ISOLATED_LABELS = MARK_PREFIX + "isolated-labels"
ISOLATED_BY = MARK_PREFIX + "isolated-by"
POLICY_NAME = "kubeops-respond-quarantine"


def selected_keys(labels: Mapping[str, str], services: Iterable[Mapping[str, Any]]) -> set[str]:
    """The label keys by which any of ``services`` selects a Pod labelled ``labels``."""
    keys: set[str] = set()
    for service in services:
        selector = (service.get("spec") or {}).get("selector") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            keys |= set(selector)
    return keys


def _names_in(spec: Mapping[str, Any], kind: str) -> set[str]:
    """The ConfigMaps (``kind`` ConfigMap) or Secrets a Pod spec uses."""
    found: set[str] = set()
    is_cm = kind == "ConfigMap"
    for volume in spec.get("volumes") or []:
        if is_cm and volume.get("configMap"):
            found.add(str(volume["configMap"].get("name") or ""))
        if not is_cm and volume.get("secret"):
            found.add(str(volume["secret"].get("secretName") or ""))
        for source in (volume.get("projected") or {}).get("sources") or []:
            ref = source.get("configMap" if is_cm else "secret")
            if ref:
                found.add(str(ref.get("name") or ""))
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for env_from in container.get("envFrom") or []:
            ref = env_from.get("configMapRef" if is_cm else "secretRef")
            if ref:
                found.add(str(ref.get("name") or ""))
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("configMapKeyRef" if is_cm else "secretKeyRef")
            if ref:
                found.add(str(ref.get("name") or ""))
    return found


def uses(pod: Mapping[str, Any], kind: str, name: str) -> bool:
    """Whether ``pod`` uses the ConfigMap or Secret ``name``."""
    return name in _names_in(pod.get("spec") or {}, kind)


def deny_all_policy(namespace: str) -> dict[str, Any]:
    """The NetworkPolicy that denies all traffic to and from quarantined Pods."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": POLICY_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kubeops-respond"},
        },
        "spec": {
            "podSelector": {"matchLabels": {QUARANTINE_LABEL: "true"}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


def _time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def suspects(pods: Iterable[Mapping[str, Any]], action_id: str) -> list[Mapping[str, Any]]:
    """Of the Pods using the object, those this action isolates.

    On a first run, all.  On a re-run, those it isolated already (marked with its
    id) and those created before its first isolation: a Pod created since -- in the
    same second too, creation times having whole seconds -- is a replacement the
    isolation itself caused, not a suspect.
    """
    pods = list(pods)
    stamps = []
    for pod in pods:
        by, _, when = str(_annotation(pod, ISOLATED_BY)).partition(" ")
        moment = _time(when) if by == action_id else None
        if moment is not None:
            stamps.append(moment)
    if not stamps:
        return pods
    cutoff = min(stamps).replace(microsecond=0)
    chosen = []
    for pod in pods:
        created = _time((pod.get("metadata") or {}).get("creationTimestamp"))
        mine = str(_annotation(pod, ISOLATED_BY)).startswith(action_id + " ")
        if mine or created is None or created < cutoff:
            chosen.append(pod)
    return chosen


def _annotation(obj: Mapping[str, Any], key: str) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(key)
    return str(value) if value is not None else None


class IsolateAction(BaseAction[TargetSpec]):
    """See the module doc."""

    kind = "isolate"

    def configure(self, params: Params) -> TargetSpec:
        """``target``: a Pod, or a ConfigMap or Secret (the Pods using it); default the event's."""
        return TargetSpec.read(params)

    async def _pods(self, ctx: ActionContext, target: Resolved) -> list[Object]:
        kind = target.resource.kind
        if not target.resource.group and kind == "Pod":
            # Only the Pod the rule saw: a successor of the same name has another uid.
            meta = {**(target.object.get("metadata") or {}), "uid": target.uid}
            return [{**target.object, "metadata": meta}]
        if target.resource.group or kind not in ("ConfigMap", "Secret"):
            raise ActionError(
                self.kind, target.ref, f"is a {kind}; isolate takes a Pod, ConfigMap or Secret"
            )
        listed = await self.guard(target.ref, ctx.client.list("pods", target.namespace))
        found = []
        for pod in listed.get("items") or []:
            if uses(pod, kind, target.name):
                pod.setdefault("kind", "Pod")
                pod.setdefault("apiVersion", "v1")
                found.append(pod)
        chosen = suspects(found, ctx.action_id)
        return sorted(chosen, key=lambda p: str(p["metadata"]["name"]))  # type: ignore[arg-type]

    async def _look(self, ctx: ActionContext) -> tuple[Resolved, list[tuple[Object, set[str]]]]:
        target = await self.target(ctx, self.settings_for(ctx))
        pods = await self._pods(ctx, target)
        services: list[Mapping[str, Any]] = []
        if pods:
            listed = await self.guard(target.ref, ctx.client.list("services", target.namespace))
            services = listed.get("items") or []
        return target, [
            (pod, selected_keys((pod.get("metadata") or {}).get("labels") or {}, services))
            for pod in pods
        ]

    async def plan(self, ctx: ActionContext) -> Plan:
        """The Pods, the labels to remove, and whether they are already quarantined."""
        target, found = await self._look(ctx)
        names = [str(p["metadata"]["name"]) for p, _ in found]
        keys = sorted(set().union(*(k for _, k in found))) if found else []
        done = all(
            ((p.get("metadata") or {}).get("labels") or {}).get(QUARANTINE_LABEL) == "true"
            and not k
            for p, k in found
        )
        is_pod = target.resource.kind == "Pod"
        what = (
            f"{target.ref}"
            if is_pod
            else f"{len(found)} Pods using {target.ref} ({', '.join(names)})"
        )
        if not found:
            summary = f"isolate: no Pod uses {target.ref}; nothing to do"
        elif done:
            summary = f"isolate {what}: already isolated"
        else:
            summary = f"isolate {what}: remove labels {', '.join(keys) or 'none'}, deny all traffic"
        return self.plan_of(target.ref, summary, pods=names, labels=keys, policy=POLICY_NAME)

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Create the deny-all policy, then relabel each Pod (only the one read: its uid)."""
        target, found = await self._look(ctx)
        if not found:
            return f"no Pod uses {target.ref}; nothing isolated"
        namespace = target.namespace or ""
        try:
            await self.guard(
                target.ref, ctx.client.create(deny_all_policy(namespace), dry_run=ctx.dry_run)
            )
        except ActionError as err:
            if not isinstance(err.__cause__, AlreadyExists):
                raise
        done = []
        for pod, keys in found:
            ref = ObjectRef.of(pod)
            mine = str(_annotation(pod, ISOLATED_BY)).startswith(ctx.action_id + " ")
            if mine and not keys:
                done.append(ref.name)  # isolated by this action already: its time stays
            elif await self._relabel(ctx, pod, keys, ref):
                done.append(ref.name)
        dry = " (dry run)" if ctx.dry_run else ""
        return f"isolated {', '.join(f'pod/{namespace}/{n}' for n in done) or 'no Pod'} (NetworkPolicy {POLICY_NAME}){dry}"

    async def _relabel(
        self, ctx: ActionContext, pod: Object, keys: set[str], ref: ObjectRef
    ) -> bool:
        """One JSON patch: test the uid (only the Pod the rule saw), remove the selected
        labels, add the quarantine label and the record of what was removed."""
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        ops: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/uid", "value": meta.get("uid")}
        ]
        ops += [{"op": "remove", "path": pointer("metadata", "labels", k)} for k in sorted(keys)]
        if labels:
            ops.append(
                {
                    "op": "add",
                    "path": pointer("metadata", "labels", QUARANTINE_LABEL),
                    "value": "true",
                }
            )
        else:
            ops.append(
                {"op": "add", "path": "/metadata/labels", "value": {QUARANTINE_LABEL: "true"}}
            )
        stamp = datetime.datetime.now(datetime.UTC).isoformat()
        notes = {ISOLATED_BY: f"{ctx.action_id} {stamp}"}
        if keys:
            notes[ISOLATED_LABELS] = json.dumps(
                {k: labels[k] for k in sorted(keys)}, sort_keys=True
            )
        if meta.get("annotations"):
            ops += [
                {"op": "add", "path": pointer("metadata", "annotations", k), "value": v}
                for k, v in notes.items()
            ]
        else:
            ops.append({"op": "add", "path": "/metadata/annotations", "value": notes})
        try:
            await self.guard(
                ref,
                ctx.client.patch(
                    "pods", ref.name, ops, ref.namespace, patch_type="json", dry_run=ctx.dry_run
                ),
            )
        except ActionError as err:
            if isinstance(err.__cause__, NotFound):
                return False
            if isinstance(err.__cause__, Invalid) and not await self._same_pod(
                ctx, ref, meta.get("uid")
            ):
                return False  # another Pod took its name: not the one the rule saw
            raise
        return True

    async def _same_pod(self, ctx: ActionContext, ref: ObjectRef, uid: Any) -> bool:
        try:
            now = await ctx.client.get("pods", ref.name, ref.namespace)
        except NotFound:
            return False
        return bool((now.get("metadata") or {}).get("uid") == uid)
