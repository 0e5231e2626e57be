"""The daemon's HTTP event receiver: ``POST /events`` (plain JSON from anything that
wants to raise an event) and ``POST /alertmanager`` (Alertmanager's webhook payload as
it is, one event per alert).

A post is answered only once the engine has handled its events (the actions are
claimed in the ledger and run), so a ``200`` means done; a sender whose request fails
midway -- the leader died -- sends again, and the events' identities, derived from
what was posted, make the second delivery a no-op for what the first one finished.
A replica that does not lead answers ``503`` with ``Retry-After``: Alertmanager and
any sane client retry and reach the leader through the Service.

Bodies are bounded (:data:`MAX_BODY`); a bad one is a ``400`` with one line naming
the field and the cause.  The bearer token, when the daemon has an
``--event-token-file``, is checked with the serving module's :class:`TokenFile`.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web

from kubeops.controller.serving import TokenFile, log_event, plain
from kubeops.controller.serving.authn import Unauthenticated, bearer_token
from kubeops.errors import KubeopsError
from kubeops.respond.event import ALERT, HTTP, Event, identity_of, now

LOG = logging.getLogger(__name__)

MAX_BODY = 1 << 20
"""Bytes a post may carry (Alertmanager's largest groups stay well under it)."""
MAX_NAME = 253
MAX_ALERTS = 1000
RETRY_AFTER = "5"
"""Seconds a follower asks the sender to wait before trying again."""
EVENTS_PATH = "/events"
ALERTMANAGER_PATH = "/alertmanager"
PATHS = (EVENTS_PATH, ALERTMANAGER_PATH)

Deliver = Callable[[Sequence[Event]], Awaitable[bool]]
"""Hand events to the engine; False when this replica does not lead (nothing handled)."""


class BadEvent(KubeopsError, ValueError):
    """A posted body that is not an event; the message names the field."""


def http_event(body: object, *, received: datetime.datetime | None = None) -> Event:
    """The event a ``POST /events`` body describes: ``{"name", "payload"?, "id"?}``.

    Without an ``id`` the identity is the name and payload within the minute, so the
    same post retried within it is one occurrence."""
    if not isinstance(body, Mapping):
        raise BadEvent("body: expected a JSON object with name, payload and id")
    unknown = sorted(set(body) - {"name", "payload", "id"})
    if unknown:
        raise BadEvent(f"body: unknown field {unknown[0]!r} (expected name, payload, id)")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadEvent("name: expected a non-empty string")
    if len(name) > MAX_NAME or not name.isprintable():
        raise BadEvent(f"name: expected at most {MAX_NAME} printable characters")
    payload = body.get("payload", {})
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise BadEvent("payload: expected a JSON object")
    given = body.get("id")
    if given is not None and (not isinstance(given, str | int) or isinstance(given, bool)):
        raise BadEvent("id: expected a string or a number")
    if isinstance(given, str) and (not given.strip() or len(given) > MAX_NAME):
        raise BadEvent(f"id: expected 1 to {MAX_NAME} characters")
    moment = received or now()
    if given is not None:
        identity = identity_of(HTTP, name, given)
    else:
        minute = moment.replace(second=0, microsecond=0).isoformat()
        canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
        identity = identity_of(HTTP, name, canonical, minute)
    return Event(name=name, source=HTTP, time=moment, payload=dict(payload), identity=identity)


def alert_events(body: object, *, received: datetime.datetime | None = None) -> list[Event]:
    """One event per alert of an Alertmanager webhook payload (version 4), named after
    its ``alertname``; identity: fingerprint, startsAt and status, as RESPOND.md says."""
    if not isinstance(body, Mapping):
        raise BadEvent("body: expected Alertmanager's webhook JSON object")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise BadEvent("alerts: expected a list (is this an Alertmanager webhook?)")
    if len(alerts) > MAX_ALERTS:
        raise BadEvent(f"alerts: at most {MAX_ALERTS} alerts in one post")
    group = {
        key: body.get(key)
        for key in ("receiver", "groupKey", "externalURL", "groupLabels", "commonLabels")
        if key in body
    }
    moment = received or now()
    events = []
    for index, alert in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(alert, Mapping):
            raise BadEvent(f"{where}: expected an object")
        labels = alert.get("labels")
        if not isinstance(labels, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise BadEvent(f"{where}.labels: expected an object of strings")
        name = labels.get("alertname")
        if not name:
            raise BadEvent(f"{where}.labels.alertname: missing")
        status = alert.get("status") or body.get("status") or "firing"
        if status not in ("firing", "resolved"):
            raise BadEvent(f"{where}.status: expected firing or resolved, not {str(status)!r}")
        starts = str(alert.get("startsAt") or "")
        fingerprint = str(alert.get("fingerprint") or "") or identity_of(
            orjson.dumps(dict(labels), option=orjson.OPT_SORT_KEYS).decode()
        )
        annotations = alert.get("annotations")
        payload: dict[str, Any] = {
            "status": status,
            "labels": dict(labels),
            "annotations": dict(annotations) if isinstance(annotations, Mapping) else {},
            "startsAt": starts,
            "endsAt": str(alert.get("endsAt") or ""),
            "fingerprint": fingerprint,
            "generatorURL": str(alert.get("generatorURL") or ""),
            **group,
        }
        events.append(
            Event(
                name=name,
                source=ALERT,
                time=moment,
                payload=payload,
                identity=identity_of(fingerprint, starts, status),
            )
        )
    return events


class Receiver:
    """The receiver routes of one daemon; ``deliver`` reaches its engine."""

    def __init__(self, deliver: Deliver, *, token_file: str | None = None) -> None:
        self.deliver = deliver
        self.tokens = TokenFile(token_file) if token_file else None

    def add_routes(self, app: web.Application) -> None:
        """``POST /events`` and ``POST /alertmanager`` on ``app``."""
        app.router.add_post(EVENTS_PATH, self.events)
        app.router.add_post(ALERTMANAGER_PATH, self.alertmanager)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``POST /events``: one plain JSON event."""
        return await self._receive(request, lambda body: [http_event(body)])

    async def alertmanager(self, request: web.Request) -> web.StreamResponse:
        """``POST /alertmanager``: Alertmanager's webhook payload, one event per alert."""
        return await self._receive(request, alert_events)

    async def _receive(
        self, request: web.Request, parse: Callable[[object], list[Event]]
    ) -> web.StreamResponse:
        if self.tokens is not None:
            try:
                await self.tokens.authenticate(bearer_token(request.headers.get("Authorization")))
            except Unauthenticated as err:
                log_event(
                    LOG,
                    logging.WARNING,
                    "event denied",
                    path=request.path,
                    status=401,
                    remote=request.remote or "",
                    reason=str(err),
                )
                return plain(401, "unauthorized", **{"WWW-Authenticate": 'Bearer realm="kubeops"'})
        if request.content_length is not None and request.content_length > MAX_BODY:
            return plain(413, f"body: larger than {MAX_BODY} bytes")
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return plain(413, f"body: larger than {MAX_BODY} bytes")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            return plain(400, f"body: not JSON ({str(err).splitlines()[0][:120]})")
        try:
            events = parse(body)
        except BadEvent as err:
            return plain(400, str(err))
        if not await self.deliver(events):
            return plain(503, "not the leader; retry", **{"Retry-After": RETRY_AFTER})
        return web.json_response(
            {"accepted": len(events), "identities": [e.identity for e in events]}
        )
