"""``notify``: tell people -- a generic JSON webhook, a Slack-compatible webhook, or
email over SMTP -- optionally with the object's recent Events and its Pods' last
log lines, so the message says what happened without a trip to the cluster.

Exactly-once delivery cannot be promised by a sender; a re-run of the same
action sends the same identity so receivers can drop the copy: the webhook's
``Idempotency-Key`` header and ``id`` field, the email's ``Message-ID``.  In a
dry run nothing is sent.  Email goes through aiosmtplib (asyncio-native, so a
slow server never stalls the daemon and shutdown can cancel a send); the server,
sender and credentials come from :class:`NotifySettings`.  Webhook URLs are
shown redacted (their path is often the credential).
"""

from __future__ import annotations

import email.message
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from kubeops.config import InputError, read_bounded
from kubeops.config.redact import redact_url
from kubeops.errors import KubeopsError
from kubeops.ops import events_for, logs
from kubeops.ops.events import event_time
from kubeops.respond.action import ActionContext, Plan
from kubeops.respond.actions.base import ActionError, BaseAction
from kubeops.respond.actions.target import event_reference
from kubeops.respond.actions.values import Params
from kubeops.respond.event import Event, ObjectRef

__all__ = [
    "Enrichment",
    "NotifyAction",
    "NotifySettings",
    "email_message",
    "notify_settings",
    "slack_payload",
    "webhook_payload",
]

MAX_ENRICH = 200
SLACK_TEXT_LIMIT = 2900


@dataclass(frozen=True)
class NotifySettings:
    """Daemon-wide notification settings, found in ``ActionContext.settings``.

    ``smtp_security``: ``auto`` (STARTTLS when the server offers it), ``starttls``
    (required), ``tls`` (implicit TLS, port 465) or ``none``.  Credentials are given
    as they are, or as a file holding the user name on its first line and the
    password on its second.
    """

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "kubeops-respond@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_credentials_file: str | None = None
    smtp_security: str = "auto"
    smtp_timeout: float = 30.0
    webhook_timeout: float = 10.0


def notify_settings(settings: Any) -> NotifySettings:
    """The :class:`NotifySettings` in ``settings``: itself, its ``notify``, or one made
    from its ``smtp`` (``host, port, sender, username, password, starttls, ssl``, as the
    daemon's flags give them); defaults otherwise."""
    if isinstance(settings, NotifySettings):
        return settings
    found = getattr(settings, "notify", None)
    if found is None and isinstance(settings, Mapping):
        found = settings.get("notify")
    if isinstance(found, NotifySettings):
        return found
    smtp = getattr(settings, "smtp", None)
    if smtp is not None and getattr(smtp, "host", None):
        security = (
            "tls"
            if getattr(smtp, "ssl", False)
            else "starttls"
            if getattr(smtp, "starttls", False)
            else "auto"
        )
        return NotifySettings(
            smtp_host=str(smtp.host),
            smtp_port=int(getattr(smtp, "port", 25) or 25),
            smtp_from=str(getattr(smtp, "sender", "") or NotifySettings.smtp_from),
            smtp_username=getattr(smtp, "username", None),
            smtp_password=getattr(smtp, "password", None),
            smtp_security=security,
        )
    return NotifySettings()


@dataclass(frozen=True)
class Enrichment:
    """What to add: the last ``events`` Events and ``logs`` log lines per container."""

    events: int = 0
    logs: int = 0


@dataclass(frozen=True)
class Channel:
    """Where to send: ``webhook``, ``slack`` or ``email``, and its settings."""

    kind: str
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    channel: str = ""
    to: tuple[str, ...] = ()
    subject: str = ""


@dataclass(frozen=True)
class NotifyConfig:
    """``notify``'s settings, checked."""

    channel: Channel
    message: str
    enrich: Enrichment


def _url(params: Params, key: str) -> str:
    url = params.string(key, required=True)
    if params.known(key):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise params.fail(
                key, f"must be an http(s) URL, not {redact_url(url, secret_path=True)!r}"
            )
    return url


def _read_channel(params: Params) -> Channel:
    given = [k for k in ("webhook", "slack", "email") if params.has(k)]
    if len(given) != 1:
        raise params.fail(
            "webhook",
            "give exactly one of webhook, slack and email"
            + (f" (got {', '.join(given)})" if given else ""),
        )
    kind = given[0]
    inner = params.nested(kind, required=True)
    assert inner is not None
    if kind == "webhook":
        headers = inner.string_map("headers")
        found = Channel(
            kind, url=_url(inner, "url"), headers={k: v or "" for k, v in headers.items()}
        )
    elif kind == "slack":
        found = Channel(kind, url=_url(inner, "url"), channel=inner.string("channel"))
    else:
        raw = inner.raw("to", required=True)
        to = (raw,) if isinstance(raw, str) else tuple(raw) if isinstance(raw, list) else ()
        if not to or not all(isinstance(a, str) and a for a in to):
            raise inner.fail("to", "must be an address or a list of addresses")
        if inner.known("to"):
            for address in to:
                if "@" not in email.utils.parseaddr(address)[1]:
                    raise inner.fail("to", f"not an email address: {address!r}")
        found = Channel(kind, to=tuple(str(a) for a in to), subject=inner.string("subject"))
    inner.done()
    return found


def _message_of(event: Event, rule_name: str, subject: ObjectRef | None) -> str:
    about = f" on {subject}" if subject else ""
    return f"kubeops respond: rule {rule_name} fired for {event.name} ({event.source}){about}"


def _subject(event: Event) -> ObjectRef | None:
    ref = event_reference(event)
    if ref is None:
        return None
    return ObjectRef(
        str(ref.get("kind") or ""),
        str(ref.get("name") or ""),
        str(ref.get("namespace") or ""),
        str(ref.get("uid") or ""),
        str(ref.get("apiVersion") or ""),
    )


def _event_line(obj: dict[str, Any]) -> str:
    moment = event_time(obj)
    when = moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-"
    return f"{when} {obj.get('type', '')} {obj.get('reason', '')}: {str(obj.get('message', '')).strip()}"


async def gather_enrichment(ctx: ActionContext, enrich: Enrichment) -> tuple[list[str], list[str]]:
    """The subject's last Events and its Pods' last log lines; a failure becomes a note."""
    subject = _subject(ctx.event)
    events: list[str] = []
    lines: list[str] = []
    if subject is None:
        return events, lines
    kind = f"{subject.api_version}/{subject.kind}" if subject.api_version else subject.kind
    namespace = subject.namespace or None
    if enrich.events:
        try:
            found = await events_for(ctx.client, kind, subject.name, namespace)
            events = [_event_line(e) for e in found[-enrich.events :]]
        except KubeopsError as err:
            events = [f"(events unavailable: {err})"]
    if enrich.logs:
        try:
            async for line in logs(ctx.client, kind, subject.name, namespace, tail=enrich.logs):
                lines.append(f"{line.prefix} {line.text}")
                if len(lines) >= enrich.logs * 10:
                    break
        except KubeopsError as err:
            lines.append(f"(logs unavailable: {err})")
    return events, lines


def webhook_payload(
    ctx: ActionContext, message: str, events: Sequence[str], lines: Sequence[str]
) -> dict[str, Any]:
    """The generic webhook's JSON body."""
    subject = _subject(ctx.event)
    return {
        "id": ctx.action_id,
        "rule": ctx.rule.name,
        "message": message,
        "event": {
            "name": ctx.event.name,
            "source": ctx.event.source,
            "time": ctx.event.time.isoformat(),
            "identity": ctx.event.identity,
            "payload": dict(ctx.event.payload),
        },
        "object": None
        if subject is None
        else {"apiVersion": subject.api_version, "kind": subject.kind, "name": subject.name,
              "namespace": subject.namespace, "uid": subject.uid},
        "events": list(events),
        "logs": list(lines),
    }  # fmt: skip


def _block(title: str, lines: Sequence[str]) -> dict[str, Any]:
    text = "\n".join(lines)
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[-SLACK_TEXT_LIMIT:]
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n```{text}```"}}


def slack_payload(
    message: str, channel: str, events: Sequence[str], lines: Sequence[str]
) -> dict[str, Any]:
    """Slack's incoming-webhook JSON: ``text``, and ``blocks`` when there is more to show."""
    body: dict[str, Any] = {"text": message}
    if channel:
        body["channel"] = channel
    if events or lines:
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": message[:SLACK_TEXT_LIMIT]}}
        ]
        if events:
            blocks.append(_block("Recent events", events))
        if lines:
            blocks.append(_block("Last log lines", lines))
        body["blocks"] = blocks
    return body


def email_message(
    ctx: ActionContext,
    channel: Channel,
    sender: str,
    message: str,
    events: Sequence[str],
    lines: Sequence[str],
) -> email.message.EmailMessage:
    """The email: plain text, its Message-ID derived from the action id."""
    mail = email.message.EmailMessage()
    subject = _subject(ctx.event)
    default = f"[kubeops] {ctx.rule.name}: {ctx.event.name}" + (f" on {subject}" if subject else "")
    mail["Subject"] = (channel.subject or default).replace("\n", " ")[:200]
    mail["From"] = sender
    mail["To"] = ", ".join(channel.to)
    mail["Date"] = email.utils.format_datetime(ctx.event.time)
    mail["Message-ID"] = f"<{ctx.action_id}@kubeops-respond>"
    parts = [message]
    if events:
        parts += ["", "Recent events:", *events]
    if lines:
        parts += ["", "Last log lines:", *lines]
    mail.set_content("\n".join(parts) + "\n")
    return mail


def _credentials(settings: NotifySettings) -> tuple[str | None, str | None]:
    if not settings.smtp_credentials_file:
        return settings.smtp_username, settings.smtp_password
    data = read_bounded(settings.smtp_credentials_file, limit=4096, what="SMTP credentials file")
    rows = data.decode("utf-8", "replace").splitlines()
    if len(rows) < 2 or not rows[0]:
        raise InputError(
            f"SMTP credentials file {settings.smtp_credentials_file}: write the user name on the first line and the password on the second"
        )
    return rows[0].strip(), rows[1].rstrip("\r\n")


class NotifyAction(BaseAction[NotifyConfig]):
    """See the module doc."""

    kind = "notify"

    def configure(self, params: Params) -> NotifyConfig:
        """One of ``webhook: {url, headers?}``, ``slack: {url, channel?}``,
        ``email: {to, subject?}``; ``message``; ``enrich: {events: N, logs: N}``."""
        channel = _read_channel(params)
        message = params.string("message")
        enrich = Enrichment()
        inner = params.nested("enrich")
        if inner is not None:
            events = inner.integer("events", default=0) or 0
            lines = inner.integer("logs", default=0) or 0
            for key, value in (("events", events), ("logs", lines)):
                if value > MAX_ENRICH:
                    raise inner.fail(key, f"must be at most {MAX_ENRICH}, not {value}")
            inner.done()
            enrich = Enrichment(events, lines)
        return NotifyConfig(channel, message, enrich)

    def _where(self, channel: Channel) -> str:
        if channel.kind == "email":
            return f"email to {', '.join(channel.to)}"
        return f"{channel.kind} {redact_url(channel.url, secret_path=True)}"

    async def plan(self, ctx: ActionContext) -> Plan:
        """Say where the message goes."""
        config = self.settings_for(ctx)
        extra = []
        if config.enrich.events:
            extra.append(f"last {config.enrich.events} events")
        if config.enrich.logs:
            extra.append(f"last {config.enrich.logs} log lines")
        with_ = f" with {' and '.join(extra)}" if extra else ""
        return self.plan_of(_subject(ctx.event), f"notify {self._where(config.channel)}{with_}")

    async def execute(self, ctx: ActionContext, plan: Plan) -> str:
        """Gather the enrichment and send (nothing is sent in a dry run)."""
        config = self.settings_for(ctx)
        where = self._where(config.channel)
        if ctx.dry_run:
            return f"would notify {where} (dry run: not sent)"
        settings = notify_settings(ctx.settings)
        message = config.message or _message_of(ctx.event, ctx.rule.name, _subject(ctx.event))
        events, lines = await gather_enrichment(ctx, config.enrich)
        channel = config.channel
        try:
            if channel.kind == "email":
                await self._email(ctx, settings, channel, message, events, lines)
            else:
                body = (
                    webhook_payload(ctx, message, events, lines)
                    if channel.kind == "webhook"
                    else slack_payload(message, channel.channel, events, lines)
                )
                await self._post(ctx, settings, channel, body)
        except ActionError:
            raise
        except KubeopsError as err:
            raise ActionError(self.kind, where, str(err)) from err
        return f"notified {where}"

    async def _post(
        self,
        ctx: ActionContext,
        settings: NotifySettings,
        channel: Channel,
        body: Mapping[str, Any],
    ) -> None:
        where = self._where(channel)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": ctx.action_id,
            **channel.headers,
        }
        timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(channel.url, data=orjson.dumps(body), headers=headers) as response,
            ):
                if response.status >= 300:
                    text = (await response.text(errors="replace"))[:200].replace("\n", " ")
                    raise ActionError(self.kind, where, f"HTTP {response.status} {text}".strip())
        except (aiohttp.ClientError, TimeoutError) as err:
            cause = (
                f"timed out after {settings.webhook_timeout:g}s"
                if isinstance(err, TimeoutError)
                else str(err) or type(err).__name__
            )
            raise ActionError(
                self.kind, where, redact_url(cause, secret_path=True) if "://" in cause else cause
            ) from err

    async def _email(
        self,
        ctx: ActionContext,
        settings: NotifySettings,
        channel: Channel,
        message: str,
        events: Sequence[str],
        lines: Sequence[str],
    ) -> None:
        import aiosmtplib  # only a daemon that sends mail needs it loaded

        mail = email_message(ctx, channel, settings.smtp_from, message, events, lines)
        username, password = _credentials(settings)
        where = self._where(channel)
        try:
            await aiosmtplib.send(
                mail,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=username,
                password=password,
                use_tls=settings.smtp_security == "tls",
                start_tls=None
                if settings.smtp_security == "auto"
                else settings.smtp_security == "starttls",
                timeout=settings.smtp_timeout,
            )
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as err:
            server = f"{settings.smtp_host}:{settings.smtp_port}"
            raise ActionError(
                self.kind, where, f"SMTP server {server}: {err or type(err).__name__}"
            ) from err
