"""The etcd member a testenv runs, shared by its clusters under separate key prefixes."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

import httpx

from kubeops.testenv.assets import Assets
from kubeops.testenv.errors import ControlPlaneError
from kubeops.testenv.ports import HOST, ensure_free, free_port
from kubeops.testenv.process import Process


class Etcd:
    """One etcd member on loopback, its data in the run directory."""

    def __init__(
        self,
        assets: Assets,
        run_dir: Path,
        start_timeout: float = 60.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.run_dir = run_dir
        self.data_dir = run_dir / "etcd"
        self.client_port = free_port()
        self.peer_port = free_port()
        self.start_timeout = start_timeout
        self.process = Process(
            "etcd",
            [
                str(assets.path("etcd")),
                "--name=testenv",
                f"--data-dir={self.data_dir}",
                f"--listen-client-urls=http://{HOST}:{self.client_port}",
                f"--advertise-client-urls=http://{HOST}:{self.client_port}",
                f"--listen-peer-urls=http://{HOST}:{self.peer_port}",
                f"--initial-advertise-peer-urls=http://{HOST}:{self.peer_port}",
                f"--initial-cluster=testenv=http://{HOST}:{self.peer_port}",
                "--unsafe-no-fsync=true",  # test data: durability across power loss is not needed
                "--quota-backend-bytes=8589934592",
                "--log-level=warn",
                *extra_args,
            ],
            run_dir / "logs" / "etcd.log",
            run_dir,
        )

    @property
    def url(self) -> str:
        """etcd's client URL on loopback."""
        return f"http://{HOST}:{self.client_port}"

    def start(self) -> None:
        """Start etcd on its ports (refused at once if one is taken)."""
        ensure_free(self.client_port, "etcd")
        ensure_free(self.peer_port, "etcd")
        self.process.start()
        self.process.wait_ready(self.healthy, self.start_timeout)

    def stop(self) -> None:
        """Stop etcd, gracefully first."""
        self.process.stop()

    def healthy(self) -> bool:
        """Whether etcd answers ``/health`` with health true."""
        try:
            response = httpx.get(f"{self.url}/health", timeout=1.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("health") == "true"

    def _call(self, path: str, body: dict[str, object]) -> dict[str, object]:
        try:
            response = httpx.post(f"{self.url}{path}", json=body, timeout=30.0)
        except httpx.HTTPError as err:
            raise ControlPlaneError(f"etcd at {self.url} is unreachable for {path}: {err}") from err
        if response.status_code != 200:
            raise ControlPlaneError(f"etcd {path} failed: {response.status_code} {response.text}")
        result: dict[str, object] = response.json()
        return result

    def revision(self) -> int:
        """The store's current revision (every API object's resourceVersion comes from it)."""
        key = base64.b64encode(b"/").decode()
        header = self._call("/v3/kv/range", {"key": key, "limit": 1, "keys_only": True})["header"]
        assert isinstance(header, dict)
        return int(header["revision"])

    def advance(self) -> int:
        """Write a scratch key outside every cluster's prefix; return the new revision.

        Moves the revision past everything any client has seen, so a compaction
        right after it leaves no resourceVersion a client holds watchable.
        """
        key = base64.b64encode(b"/kubeops-testenv/advance").decode()
        value = base64.b64encode(b"x").decode()
        header = self._call("/v3/kv/put", {"key": key, "value": value})["header"]
        assert isinstance(header, dict)
        return int(header["revision"])

    def compact(self) -> int:
        """Compact away all history up to now; return the compacted revision."""
        revision = self.revision()
        self._call("/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision
