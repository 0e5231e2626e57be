"""createJob, call and recordEvent against the API server: one Job and one Event per
action id however often it runs; a function called with the event, never in a dry run."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from kubeops.api import Client
from kubeops.ops import events_for
from kubeops.respond.actions import ActionError
from kubeops.respond.actions.job import ACTION_LABEL
from kubeops.respond.actions.record import COMPONENT
from kubeops.respond.event import Event
from kubeops.respond.model import Rule, Trigger

from .helpers import context, event_about, pod, run

JOB_TEMPLATE = {
    "metadata": {"name": "fix-${payload.service}", "labels": {"team": "ops"}},
    "spec": {"template": {"spec": {"restartPolicy": "Never",
                                   "containers": [{"name": "fix", "image": "fix:1", "args": ["${payload.service}"]}]}}},
}  # fmt: skip


async def jobs(client: Client) -> list[dict[str, Any]]:
    return list((await client.list("jobs.batch"))["items"])


async def test_create_job_from_an_inline_template_once(client: Client) -> None:
    event = event_about(None, "server_down", "http", service="db")
    params = {"namespace": client.namespace, "template": JOB_TEMPLATE}

    plan, done = await run("createJob", params, context(client, event, dry_run=True))
    assert plan.target is not None
    assert plan.target.name.startswith("fix-db-")
    assert "dry run" in done
    assert await jobs(client) == []

    ctx = context(client, event)
    _, done = await run("createJob", params, ctx)
    _, again = await run("createJob", params, ctx)
    assert again.endswith("already created by this action")
    (job,) = await jobs(client)
    assert job["metadata"]["name"] == f"fix-db-{ctx.action_id[:10]}"
    assert job["metadata"]["labels"] == {"team": "ops", ACTION_LABEL: ctx.action_id}
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db"]


async def test_create_job_from_a_cronjob(client: Client) -> None:
    await client.create(
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup"},
         "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": JOB_TEMPLATE | {"metadata": {"labels": {"from": "cron"}}}}}
    )  # fmt: skip
    ctx = context(client, event_about(None, "disk_full", "http", service="db"))
    await run("createJob", {"template": "cronjob/backup", "namespace": client.namespace}, ctx)
    await run("createJob", {"template": "cronjob/backup", "namespace": client.namespace}, ctx)
    (job,) = await jobs(client)
    assert job["metadata"]["name"] == f"backup-{ctx.action_id[:10]}"
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["metadata"]["labels"]["from"] == "cron"

    with pytest.raises(
        ActionError, match=r"^createJob cronjob/.*/nope: get cronjobs.batch \"nope\""
    ):
        await run("createJob", {"template": "cronjob/nope", "namespace": client.namespace}, ctx)


CALLS: list[tuple[str, str]] = []


def sync_handler(event: Event) -> str:
    CALLS.append(("sync", event.name))
    assert threading.current_thread() is not threading.main_thread()
    return f"handled {event.name}"


async def test_call_sync_async_and_module_functions(client: Client) -> None:
    async def async_handler(event: Event) -> None:
        await asyncio.sleep(0)
        CALLS.append(("async", event.name))

    rule = Rule(
        "r", Trigger("http"), (), functions={"on_down": async_handler, "sync": sync_handler}
    )
    event = event_about(None, "server_down", "http")
    CALLS.clear()

    plan, done = await run(
        "call", {"function": "on_down"}, context(client, event, rule=rule, dry_run=True)
    )
    assert plan.summary == "call on_down"
    assert done == "would call on_down (dry run: not called)"
    assert CALLS == []

    _, done = await run("call", {"function": "on_down"}, context(client, event, rule=rule))
    assert done == "called on_down"
    _, done = await run("call", {"function": "sync"}, context(client, event, rule=rule))
    assert done == "handled server_down"
    _, done = await run(
        "call", {"function": f"{__name__}:sync_handler"}, context(client, event, rule=rule)
    )
    assert CALLS == [("async", "server_down"), ("sync", "server_down"), ("sync", "server_down")]

    with pytest.raises(
        ActionError, match=r"^call missing: rule 'r' has no such function \(it has: on_down, sync\)"
    ):
        await run("call", {"function": "missing"}, context(client, event, rule=rule))

    def broken(event: Event) -> None:
        raise RuntimeError("database unreachable")

    rule = Rule("r", Trigger("http"), (), functions={"broken": broken})
    with pytest.raises(ActionError, match=r"^call broken: RuntimeError: database unreachable$"):
        await run("call", {"function": "broken"}, context(client, event, rule=rule))


async def ours(client: Client) -> list[dict[str, Any]]:
    found = await events_for(client, "pods", "web-1")
    return [e for e in found if e.get("source", {}).get("component") == COMPONENT]


async def test_record_event_once_on_the_object(client: Client) -> None:
    obj = await client.create(pod("web-1"))
    event = event_about(obj, "CrashLoop", "derived", restarts=5)
    params = {
        "reason": "RespondRestarted",
        "message": "restarted after ${payload.restarts} crashes",
        "type": "Warning",
    }

    plan, _ = await run("recordEvent", params, context(client, event, dry_run=True))
    assert plan.summary == f"record Warning event RespondRestarted on pod/{client.namespace}/web-1"
    assert await ours(client) == []

    ctx = context(client, event)
    await run("recordEvent", params, ctx)
    _, again = await run("recordEvent", params, ctx)
    assert again.endswith("already recorded")
    (recorded,) = await ours(client)
    assert recorded["reason"] == "RespondRestarted"
    assert recorded["message"] == "restarted after 5 crashes"
    assert recorded["type"] == "Warning"
    assert recorded["source"]["component"] == COMPONENT
    assert recorded["involvedObject"]["uid"] == obj["metadata"]["uid"]
