"""A real Alertmanager delivers what is posted to it to a local webhook receiver,
in its own webhook payload: firing, then resolved, with the bearer token it was given."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kubeops.testenv import async_eventually
from kubeops.testenv.alertmanager import Alertmanager
from kubeops.testenv.ports import HOST, free_port
from kubeops.testenv.process import start_time


class Receiver:
    """An aiohttp webhook receiver that keeps every payload and its Authorization header."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.payloads.append(await request.json())
        self.authorizations.append(request.headers.get("Authorization"))
        return web.Response(text="ok")

    def statuses(self, alertname: str) -> list[str]:
        return [
            alert["status"]
            for payload in self.payloads
            for alert in payload["alerts"]
            if alert["labels"].get("alertname") == alertname
        ]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/alertmanager", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, HOST, port).start()
    receiver.url = f"http://{HOST}:{port}/alertmanager"
    yield receiver
    await runner.cleanup()


async def test_a_posted_alert_reaches_the_webhook_firing_then_resolved(
    receiver: Receiver, start_alertmanager: Callable[..., Alertmanager]
) -> None:
    manager = start_alertmanager(receiver.url, bearer_token="s3cret")
    posted = manager.fire(
        "ServerDown", severity="critical", service="db", annotations={"summary": "db is down"}
    )
    await async_eventually(
        lambda: "firing" in receiver.statuses("ServerDown"),
        timeout=30,
        message="Alertmanager's firing notification",
    )
    payload = next(p for p in receiver.payloads if p["status"] == "firing")
    assert payload["version"] == "4"
    assert payload["receiver"] == "webhook"
    assert payload["groupLabels"] == {"alertname": "ServerDown"}
    (alert,) = payload["alerts"]
    assert alert["labels"] == posted["labels"]
    assert alert["annotations"] == {"summary": "db is down"}
    assert alert["fingerprint"]
    assert receiver.authorizations[0] == "Bearer s3cret"
    assert [a["labels"]["alertname"] for a in manager.alerts()] == ["ServerDown"]

    manager.fire("ServerDown", severity="critical", service="db", resolved=True)
    await async_eventually(
        lambda: "resolved" in receiver.statuses("ServerDown"),
        timeout=30,
        message="Alertmanager's resolved notification",
    )


async def test_the_token_can_come_from_a_file(
    receiver: Receiver, start_alertmanager: Callable[..., Alertmanager], tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("from-a-file\n")
    manager = start_alertmanager(receiver.url, bearer_token_file=token)
    manager.fire("DiskFull", instance="db-1")
    await async_eventually(
        lambda: receiver.statuses("DiskFull"), timeout=30, message="the notification"
    )
    assert receiver.authorizations == ["Bearer from-a-file"]


async def test_stop_ends_the_process(
    receiver: Receiver, start_alertmanager: Callable[..., Alertmanager]
) -> None:
    manager = start_alertmanager(receiver.url)
    pid = manager.pid()
    assert pid is not None
    run_dir = manager.run_dir
    assert run_dir is not None
    assert run_dir.is_dir()
    manager.stop()
    assert manager.pid() is None
    assert not run_dir.exists()
    assert start_time(pid) is None
