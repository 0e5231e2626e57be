"""Notification bodies: the generic webhook's JSON, Slack's text and blocks, the
email with a Message-ID from the action id; and where the settings come from."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from kubeops.respond.action import ActionContext
from kubeops.respond.actions.notify import (
    Channel,
    NotifySettings,
    email_message,
    notify_settings,
    slack_payload,
    webhook_payload,
)
from kubeops.respond.event import Event
from kubeops.respond.model import Rule, Trigger

EVENT = Event(
    "CrashLoop",
    "derived",
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    payload={"restarts": 5},
    object={
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "prod", "uid": "u1"},
    },
    identity="ident",
)
RULE = Rule("crash", Trigger("derived"), ())
CTX = ActionContext(client=None, event=EVENT, rule=RULE, action_id="a1b2c3")  # type: ignore[arg-type]


def test_webhook_payload_carries_the_action_id_event_and_object() -> None:
    body = webhook_payload(CTX, "msg", ["e1"], ["l1"])
    assert body["id"] == "a1b2c3"
    assert body["rule"] == "crash"
    assert body["event"]["name"] == "CrashLoop"
    assert body["event"]["payload"] == {"restarts": 5}
    assert body["object"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "web-1",
        "namespace": "prod",
        "uid": "u1",
    }
    assert body["events"] == ["e1"]
    assert body["logs"] == ["l1"]


def test_slack_payload_is_text_and_blocks_only_when_enriched() -> None:
    assert slack_payload("hi", "", [], []) == {"text": "hi"}
    body = slack_payload("hi", "#ops", ["e1", "e2"], ["l" * 5000])
    assert body["text"] == "hi"
    assert body["channel"] == "#ops"
    titles = [b["text"]["text"].split("\n")[0] for b in body["blocks"]]
    assert titles == ["hi", "*Recent events*", "*Last log lines*"]
    assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"])


def test_email_message() -> None:
    channel = Channel("email", to=("a@example.com", "b@example.com"))
    mail = email_message(CTX, channel, "bot@example.com", "msg", ["e1"], ["l1"])
    assert mail["Subject"] == "[kubeops] crash: CrashLoop on pod/prod/web-1"
    assert mail["To"] == "a@example.com, b@example.com"
    assert mail["Message-ID"] == "<a1b2c3@kubeops-respond>"
    text = mail.get_content()
    assert "msg" in text
    assert "Recent events:\ne1" in text
    assert "Last log lines:\nl1" in text


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 25
    sender: str = "x@y"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False


@dataclass(frozen=True)
class Daemon:
    smtp: Smtp | None = None


def test_settings_come_from_the_context_in_any_of_its_shapes() -> None:
    own = NotifySettings(smtp_host="mail")
    assert notify_settings(own) is own
    assert notify_settings({"notify": own}) is own
    assert notify_settings(None) == NotifySettings()
    made = notify_settings(Daemon(Smtp("mx", 465, "bot@x", "u", "p", ssl=True)))
    assert (made.smtp_host, made.smtp_port, made.smtp_from) == ("mx", 465, "bot@x")
    assert (made.smtp_username, made.smtp_password, made.smtp_security) == ("u", "p", "tls")
    assert notify_settings(Daemon(Smtp("mx", starttls=True))).smtp_security == "starttls"
    assert notify_settings(Daemon()) == NotifySettings()
