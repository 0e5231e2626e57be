"""What the action tests share: an event about an object, a context, plan + execute."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from kubeops.api import Client
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions import build_action
from kubeops.respond.event import Event, identity_of
from kubeops.respond.model import ActionSpec, Rule, Trigger

TIME = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)


def event_about(
    obj: dict[str, Any] | None,
    name: str = "modified",
    source: str = "resource",
    *,
    time: datetime.datetime = TIME,
    **payload: Any,
) -> Event:
    """An event as a source would emit it for ``obj``."""
    return Event(name, source, time, payload=payload, object=obj, identity=uuid.uuid4().hex)


def context(client: Client, event: Event, *, action_id: str | None = None, dry_run: bool = False,
            rule: Rule | None = None, settings: Any = None) -> ActionContext:  # fmt: skip
    """A context for one action of a rule named ``test``."""
    return ActionContext(
        client=client,
        event=event,
        rule=rule or Rule("test", Trigger("resource"), ()),
        action_id=action_id or identity_of("test", 0, event.identity),
        dry_run=dry_run,
        settings=settings,
    )


async def run(kind: str, params: dict[str, Any], ctx: ActionContext) -> tuple[Plan, str]:
    """Build, plan and execute, as the engine does."""
    action = build_action(ActionSpec(kind, params))
    plan = await action.plan(ctx)
    return plan, await action.execute(ctx, plan)


def deployment(name: str, replicas: int = 2, image: str = "app:1", **labels: str) -> dict[str, Any]:
    """A Deployment whose Pods are labelled ``app=name`` (and ``labels``)."""
    pod_labels = {"app": name, **labels}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": pod_labels},
                              "spec": {"containers": [{"name": "app", "image": image}]}}},
    }  # fmt: skip


def pod(name: str, node: str | None = None, *, held: bool = False, **labels: str) -> dict[str, Any]:
    """A bare Pod (on ``node`` when given; ``held``: never scheduled, so no kubelet
    -- kwok's -- acts on it by name after it is deleted)."""
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "app:1"}]}
    if held:
        spec["schedulingGates"] = [{"name": "kubeops.test/held"}]
    if node:
        spec["nodeName"] = node
        spec["tolerations"] = [{"operator": "Exists"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }
