"""POST each run's summary to a webhook: JSON a program can read, plus a ``text``
line so a Slack (or Mattermost, Teams workflow) incoming webhook shows it as is.

Delivery retries connection errors, timeouts, 429 and 5xx with exponential
backoff (honouring a short Retry-After); any other answer is final.  A failure is
logged and never stops the schedule.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from kubeops.config.redact import redact_url
from kubeops.inspect.document import Document
from kubeops.inspect.history import SEVERITIES
from kubeops.inspect.serve.metrics import result_of

LOG = logging.getLogger(__name__)

PAYLOAD_SCHEMA = "kubeops.io/inspect-webhook/v1"
TOP_FINDINGS = 10
_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def summary(
    document: Document,
    *,
    run_id: int | None = None,
    external_url: str | None = None,
    previous: dict[str, Any] | None = None,
    top: int = TOP_FINDINGS,
) -> dict[str, Any]:
    """The payload: overall and per-cluster scores, counts, the worst ``top`` findings,
    a link to the report when ``external_url`` is known, and a one-line ``text``."""
    stats = document.get("summary") or {}
    by_severity = {s: int((stats.get("by_severity") or {}).get(s, 0)) for s in SEVERITIES}
    clusters = [
        {
            "name": c.get("name"),
            "score": c.get("score"),
            "grade": c.get("grade"),
            "reachable": c.get("reachable", True),
            "error": c.get("error") or "",
        }
        for c in document.get("clusters") or []
    ]
    worst = sorted(document.get("findings") or [], key=lambda f: _ORDER.get(f.get("severity"), 9))
    findings = [
        {k: f.get(k) for k in ("check", "severity", "category", "cluster", "object", "message")}
        for f in worst[: max(0, top)]
    ]
    link = None
    if external_url:
        base = external_url.rstrip("/")
        link = f"{base}/runs/{run_id}" if run_id is not None else f"{base}/"
    payload: dict[str, Any] = {
        "schema": PAYLOAD_SCHEMA,
        "run": run_id,
        "generated": document.get("generated"),
        "result": result_of(document),
        "score": document.get("score"),
        "grade": document.get("grade"),
        "findings": int(stats.get("findings", len(document.get("findings") or []))),
        "by_severity": by_severity,
        "clusters": clusters,
        "top_findings": findings,
        "report_url": link,
        "text": text(document, by_severity, clusters, previous, link),
    }
    if previous is not None:
        payload["previous"] = {"score": previous.get("score"), "grade": previous.get("grade")}
    return payload


def text(
    document: Document,
    by_severity: dict[str, int],
    clusters: list[dict[str, Any]],
    previous: dict[str, Any] | None,
    link: str | None,
) -> str:
    """The one-line summary chat tools show: grade, change, counts, what was unreachable, the
    link."""
    counts = ", ".join(f"{n} {s}" for s, n in by_severity.items() if n) or "no findings"
    change = ""
    if previous is not None and previous.get("score") != document.get("score"):
        change = f" (was {previous.get('grade')} {previous.get('score')})"
    down = [c["name"] for c in clusters if not c["reachable"]]
    if clusters and len(down) == len(clusters):
        parts = ["kubeops inspect: no cluster could be inspected"]
    else:
        parts = [
            f"kubeops inspect: grade {document.get('grade')} ({document.get('score')}){change}",
            f"{len(clusters)} cluster(s)",
            counts,
        ]
    if down:
        parts.append(f"unreachable: {', '.join(str(d) for d in down)}")
    line = " — ".join(parts)
    return f"{line} — {link}" if link else line


@dataclass(frozen=True)
class Webhook:
    """Where run summaries are posted, and how hard to try (attempts with capped backoff)."""

    url: str
    timeout: float = 10.0
    attempts: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0

    @property
    def shown(self) -> str:
        """The URL as logged: the host only, since a Slack-style path is the secret."""
        return redact_url(self.url, secret_path=True)

    async def post(self, payload: dict[str, Any]) -> bool:
        """Deliver ``payload``; True when the receiver answered 2xx.  Never raises."""
        body = orjson.dumps(payload)
        headers = {"Content-Type": "application/json", "User-Agent": "kubeops-inspect"}
        delay = self.backoff
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(1, self.attempts + 1):
                wait = delay
                try:
                    async with session.post(self.url, data=body, headers=headers) as response:
                        if 200 <= response.status < 300:
                            return True
                        why = f"HTTP {response.status} {response.reason or ''}".strip()
                        if response.status != 429 and response.status < 500:
                            LOG.warning("webhook %s refused the report: %s", self.shown, why)
                            return False
                        wait = max(delay, _retry_after(response.headers.get("Retry-After")))
                except (aiohttp.ClientError, TimeoutError) as err:
                    why = f"{type(err).__name__}: {err}".rstrip(": ").replace(self.url, self.shown)
                if attempt == self.attempts:
                    LOG.warning(
                        "webhook %s: not delivered after %d attempts: %s", self.shown, attempt, why
                    )
                    return False
                LOG.debug(
                    "webhook %s: %s; retrying in %.1fs",
                    self.shown,
                    why,
                    min(wait, self.max_backoff),
                )
                await asyncio.sleep(min(wait, self.max_backoff))
                delay = min(delay * 2, self.max_backoff)
        return False


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0
