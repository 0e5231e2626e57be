"""A real Alertmanager on loopback, for tests of what it sends to a webhook.

``with Alertmanager(webhook_url) as am: am.fire("ServerDown", severity="critical")``
starts the binary built from ``controlplane/alertmanager`` (pinned release) with one
route and one webhook receiver posting to ``webhook_url`` -- Alertmanager's own
webhook payload, as it is -- and short grouping waits (``group_wait`` and
``group_interval`` 1 s) so a test sees a notification within seconds.  Alerts go in
through Alertmanager's v2 API (``POST /api/v2/alerts``), as Prometheus sends them.

Leftovers are prevented like :class:`~kubeops.testenv.Environment` prevents them:
:meth:`Alertmanager.stop` also runs at interpreter exit and on SIGTERM, the process
dies with its parent, and its directory is a testenv run directory, so one left by
a crashed run is ended and removed the next time a testenv starts.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from kubeops.testenv import rundir
from kubeops.testenv.assets import ensure_assets
from kubeops.testenv.errors import ControlPlaneError
from kubeops.testenv.exit_hooks import LiveSet
from kubeops.testenv.ports import HOST, free_port
from kubeops.testenv.process import Process

Progress = Callable[[str], None]

_live: LiveSet[Alertmanager] = LiveSet(lambda am: am.stop())


class Alertmanager:
    """One Alertmanager whose single receiver posts every notification to ``webhook_url``.

    ``bearer_token`` makes it send ``Authorization: Bearer <token>`` (its
    ``http_config``), ``bearer_token_file`` the same with the token read from that
    file (``credentials_file``); ``send_resolved`` sends resolved notifications too.
    """

    def __init__(
        self,
        webhook_url: str,
        *,
        bearer_token: str | None = None,
        bearer_token_file: Path | None = None,
        send_resolved: bool = True,
        group_by: Sequence[str] = ("alertname",),
        group_wait: str = "1s",
        group_interval: str = "1s",
        repeat_interval: str = "1h",
        start_timeout: float = 60.0,
        progress: Progress | None = None,
    ) -> None:
        if not webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be an http(s) URL, not {webhook_url!r}")
        self.webhook_url = webhook_url
        if bearer_token is not None and bearer_token_file is not None:
            raise ValueError("give bearer_token or bearer_token_file, not both")
        self.bearer_token = bearer_token
        self.bearer_token_file = bearer_token_file
        self.send_resolved = send_resolved
        self.group_by = list(group_by)
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.start_timeout = start_timeout
        self.progress: Progress = progress or (lambda _: None)
        self.port: int | None = None
        self.run_dir: Path | None = None
        self._process: Process | None = None

    def __enter__(self) -> Alertmanager:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Alertmanager's base URL on loopback (its API is under ``/api/v2``)."""
        if self.port is None:
            raise ControlPlaneError("the Alertmanager has not been started")
        return f"http://{HOST}:{self.port}"

    def config(self) -> dict[str, Any]:
        """The configuration it runs with (written as YAML; JSON is YAML)."""
        webhook: dict[str, Any] = {"url": self.webhook_url, "send_resolved": self.send_resolved}
        if self.bearer_token is not None:
            webhook["http_config"] = {
                "authorization": {"type": "Bearer", "credentials": self.bearer_token}
            }
        elif self.bearer_token_file is not None:
            path = str(Path(self.bearer_token_file).resolve())
            webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": path}}
        return {
            "route": {
                "receiver": "webhook",
                "group_by": self.group_by,
                "group_wait": self.group_wait,
                "group_interval": self.group_interval,
                "repeat_interval": self.repeat_interval,
            },
            "receivers": [{"name": "webhook", "webhook_configs": [webhook]}],
        }

    def start(self) -> None:
        """Start it and wait until it answers ``/-/ready``."""
        if self._process is not None:
            return
        binary = ensure_assets(["alertmanager"], self.progress).path("alertmanager")
        for stale, killed in rundir.sweep(rundir.default_base()):
            self.progress(f"cleaned {stale} left by a crashed run ({killed} process(es) ended)")
        self.run_dir = Path(tempfile.mkdtemp(prefix="alertmanager-", dir=rundir.default_base()))
        rundir.claim(self.run_dir)
        _live.add(self)
        config = self.run_dir / "alertmanager.yml"
        config.write_text(json.dumps(self.config(), indent=1))
        self.port = free_port()
        process = Process(
            "alertmanager",
            [
                str(binary),
                f"--config.file={config}",
                f"--storage.path={self.run_dir / 'data'}",
                f"--web.listen-address={HOST}:{self.port}",
                # A single instance: no gossip port, no peers.
                "--cluster.listen-address=",
                "--log.level=info",
            ],
            self.run_dir / "alertmanager.log",
            self.run_dir,
        )
        self._process = process
        try:
            process.start()
            process.wait_ready(self._ready, self.start_timeout)
        except BaseException:
            self.stop()
            raise
        self.progress(f"Alertmanager ready at {self.url}, notifying {self.webhook_url}")

    def stop(self) -> None:
        """Stop the process and remove its directory."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self.run_dir is not None and self in _live:
            rundir.release(self.run_dir, remove=True)
        _live.discard(self)

    def pid(self) -> int | None:
        """The running process's id, None when stopped."""
        return self._process.pid if self._process is not None else None

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Send ``alerts`` (each ``{"labels": {...}, "annotations": {...}, "startsAt"?,
        "endsAt"?}``) through ``POST /api/v2/alerts``, as Prometheus does."""
        response = httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=10.0)
        if response.status_code != 200:
            raise ControlPlaneError(
                f"Alertmanager at {self.url} refused the alerts: "
                f"{response.status_code} {response.text.strip()}"
            )

    def fire(
        self,
        alertname: str,
        *,
        annotations: Mapping[str, str] | None = None,
        resolved: bool = False,
        starts_at: datetime | None = None,
        **labels: str,
    ) -> dict[str, Any]:
        """Post one alert named ``alertname`` with ``labels``; ``resolved`` posts it with
        an end time of now, which resolves it.  Returns the alert as posted."""
        now = datetime.now(UTC)
        alert: dict[str, Any] = {
            "labels": {"alertname": alertname, **labels},
            "annotations": dict(annotations or {}),
            "startsAt": _stamp(starts_at or now),
        }
        if resolved:
            alert["endsAt"] = _stamp(now)
        self.post_alerts([alert])
        return alert

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (``GET /api/v2/alerts``)."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=10.0)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines of its log, for a failing test's message."""
        return self._process.log_tail(lines) if self._process is not None else []

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
