"""What the sync daemon tests share: a replica of ``kubeops sync run|agent`` (the shared
fixtures' :class:`SyncProcess`) with its port, read over plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from kubeops.testenv.ports import free_port

from ..conftest import SpawnSync, SyncProcess


class Replica:
    """One ``kubeops sync run|agent`` process and the port it serves."""

    def __init__(self, process: SyncProcess, port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> tuple[int, str]:
        """Status and body of ``GET path`` (a 5xx is an answer, not an error)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def healthz(self) -> dict[str, Any]:
        """``/healthz`` (asserting the process still runs and the answer is 200)."""
        assert self.process.running, self.process.log
        status, body = self.get("/healthz")
        assert status == 200, body
        found: dict[str, Any] = json.loads(body)
        return found

    def ready(self) -> bool:
        """Whether ``/readyz`` answers 200."""
        return self.get("/readyz")[0] == 200

    def metric(self, name: str) -> float | None:
        """The value of an unlabelled sample on ``/metrics`` (None when absent)."""
        _, body = self.get("/metrics")
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def records(self, event: str) -> list[dict[str, Any]]:
        """The JSON log records of one ``event`` (``leading``, ``operation``)."""
        return [r for r in self.process.records() if r.get("event") == event]


def lease_name() -> str:
    """A Lease of the test's own, so tests never compete with each other's replicas."""
    return f"sync-test-{uuid.uuid4().hex[:8]}"


def start(spawn_sync: SpawnSync, role: str, *argv: str) -> Replica:
    """``kubeops sync <role> --listen 127.0.0.1:<free port> --log-format json ...``."""
    port = free_port()
    process = spawn_sync(role, "--listen", f"127.0.0.1:{port}", "--log-format", "json", *argv)
    return Replica(process, port)


def leaders(replicas: list[Replica]) -> list[int]:
    """The indexes of the running replicas that say they lead."""
    return [i for i, r in enumerate(replicas) if r.process.running and r.healthz()["leader"]]
