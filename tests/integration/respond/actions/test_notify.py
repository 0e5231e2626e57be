"""notify to a real local webhook receiver (aiohttp on 127.0.0.1) and a real SMTP
server (aiosmtpd), enriched with the object's Events and its Pod's log lines from
the session cluster; nothing sent in a dry run; a failure is one line."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from kubeops.api import Client
from kubeops.respond.actions import ActionError, NotifySettings
from kubeops.testenv import Cluster, async_eventually
from kubeops.testenv.ports import free_port

from .helpers import context, event_about, pod, run


@dataclass
class Receiver:
    url: str
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver("")

    async def hook(request: web.Request) -> web.Response:
        found.received.append((dict(request.headers), await request.json()))
        return web.Response(status=found.status, text="nope" if found.status >= 300 else "ok")

    app = web.Application()
    app.router.add_post("/hook/{secret}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}/hook/s3cret"
    yield found
    await runner.cleanup()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Any:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


async def a_running_pod_with_history(
    client: Client, cluster: Cluster
) -> tuple[dict[str, Any], str]:
    await client.create(pod("web-1"))

    async def running() -> dict[str, Any]:
        obj = await client.get("pods", "web-1")
        assert obj.get("status", {}).get("phase") == "Running", obj.get("status")
        return obj

    obj = await async_eventually(running, message="pod web-1 running")
    line = f"boom-{uuid.uuid4().hex[:8]}"
    cluster.append_container_log(line)
    obj.setdefault("kind", "Pod")
    obj.setdefault("apiVersion", "v1")
    return obj, line


@pytest.mark.full
async def test_webhook_with_events_and_logs(
    client: Client, kube_cluster: Cluster, receiver: Receiver
) -> None:
    obj, line = await a_running_pod_with_history(client, kube_cluster)
    event = event_about(obj, "CrashLoop", "derived", restarts=4)
    params = {"webhook": {"url": receiver.url, "headers": {"X-Team": "${object.metadata.namespace}"}},
              "message": "${object.metadata.name} crashed ${payload.restarts} times",
              "enrich": {"events": 3, "logs": 5}}  # fmt: skip

    plan, done = await run("notify", params, context(client, event, dry_run=True))
    assert (
        plan.summary
        == "notify webhook http://127.0.0.1:{}/*** with last 3 events and last 5 log lines".format(
            receiver.url.split(":")[2].split("/")[0]
        )
    )
    assert done.startswith("would notify webhook")
    assert "s3cret" not in plan.summary + done
    assert receiver.received == []

    ctx = context(client, event)
    _, done = await run("notify", params, ctx)
    assert done.startswith("notified webhook http://127.0.0.1:")
    ((headers, body),) = receiver.received
    assert headers["Idempotency-Key"] == ctx.action_id
    assert headers["X-Team"] == client.namespace
    assert body["id"] == ctx.action_id
    assert body["message"] == "web-1 crashed 4 times"
    assert body["object"]["name"] == "web-1"
    assert any("Scheduled" in e for e in body["events"]), body["events"]
    assert f"[pod/web-1/app] {line}" in body["logs"]

    await run("notify", params, ctx)  # a re-run sends the same identity, for the receiver to drop
    assert [h["Idempotency-Key"] for h, _ in receiver.received] == [ctx.action_id] * 2


async def test_slack_body_and_a_failing_receiver(client: Client, receiver: Receiver) -> None:
    event = event_about(None, "server_down", "http", service="db")
    params = {
        "slack": {"url": receiver.url, "channel": "#ops"},
        "message": "${payload.service} is down",
    }
    await run("notify", params, context(client, event))
    ((_, body),) = receiver.received
    assert body == {"text": "db is down", "channel": "#ops"}

    receiver.status = 500
    with pytest.raises(ActionError) as caught:
        await run("notify", params, context(client, event))
    assert str(caught.value) == f"notify slack {receiver.url.rsplit('/', 2)[0]}/***: HTTP 500 nope"

    dead = {"webhook": {"url": f"http://127.0.0.1:{free_port()}/x"}}
    with pytest.raises(ActionError, match=r"^notify webhook http://127\.0\.0\.1:\d+/\*\*\*: "):
        await run("notify", dead, context(client, event))


async def test_email_over_smtp(client: Client, smtp: Any) -> None:
    controller, mailbox = smtp
    settings = NotifySettings(
        smtp_host="127.0.0.1", smtp_port=controller.port, smtp_from="bot@example.com"
    )
    event = event_about(None, "server_down", "http", service="db")
    params = {"email": {"to": ["oncall@example.com", "db@example.com"], "subject": "${payload.service} down"},
              "message": "failing over ${payload.service}"}  # fmt: skip

    _, done = await run("notify", params, context(client, event, dry_run=True, settings=settings))
    assert done == "would notify email to oncall@example.com, db@example.com (dry run: not sent)"
    assert mailbox.messages == []

    ctx = context(client, event, settings=settings)
    _, done = await run("notify", params, ctx)
    assert done == "notified email to oncall@example.com, db@example.com"
    ((sender, recipients, message),) = mailbox.messages
    assert sender == "bot@example.com"
    assert recipients == ["oncall@example.com", "db@example.com"]
    assert message["Subject"] == "db down"
    assert message["Message-ID"] == f"<{ctx.action_id}@kubeops-respond>"
    assert message.get_content().strip() == "failing over db"

    down = NotifySettings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout=5)
    with pytest.raises(
        ActionError,
        match=r"^notify email to oncall@example.com, db@example.com: SMTP server 127\.0\.0\.1:\d+: ",
    ):
        await run("notify", params, context(client, event, settings=down))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_email_with_credentials_from_a_file(client: Client, tmp_path: Any) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=True)

    mailbox = Mailbox()
    controller = Controller(  # plain text, as only a test on 127.0.0.1 may
        mailbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
        auth_require_tls=False, auth_required=True,
    )  # fmt: skip
    controller.start()
    try:
        credentials = tmp_path / "smtp"
        credentials.write_text("robot\npa ss\n")
        settings = NotifySettings(
            smtp_host="127.0.0.1", smtp_port=controller.port, smtp_credentials_file=str(credentials)
        )
        params = {"email": {"to": "oncall@example.com"}}
        event = event_about(None, "server_down", "http")
        await run("notify", params, context(client, event, settings=settings))
        assert logins == [(b"robot", b"pa ss")]
        assert len(mailbox.messages) == 1

        credentials.write_text("only-one-line")
        with pytest.raises(
            ActionError,
            match=r"^notify email to oncall@example.com: SMTP credentials file .*: write the user name on the first line",
        ):
            await run("notify", params, context(client, event, settings=settings))
    finally:
        controller.stop()
