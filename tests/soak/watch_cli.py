"""``kubeops watch -o jsonl`` as a subprocess, and what its stream says each object is.

The stream is checked as a handler's events are (tests/informer_soak.py's Recorder:
no second ADDED, no DELETED of something never added, no step back in
resourceVersion), and its last line per object must carry the object's final state.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from informer_soak import Obj, Recorder, Soak, rv, state, uid
from kubeops.cache import object_key

LINE_LIMIT = 1 << 22


class WatchProcess:
    """``kubeops watch configmaps -n NAMESPACE -o jsonl`` running against ``kubeconfig``."""

    def __init__(self, kubeconfig: Path, namespace: str, stderr: Path) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "kubeops",
            "watch",
            "configmaps",
            "-n",
            namespace,
            "-o",
            "jsonl",
            "--kubeconfig",
            str(kubeconfig),
        ]
        self.stderr_path = stderr
        self.recorder = Recorder("kubeops watch")
        self.lines = 0
        self.unparsed: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the CLI; its lines are read as they come."""
        with self.stderr_path.open("ab") as stderr:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                stdin=asyncio.subprocess.DEVNULL,
                limit=LINE_LIMIT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._reader = asyncio.create_task(self._read())

    @property
    def running(self) -> bool:
        """Whether the CLI is still running (it must not exit on a fault)."""
        return self._process is not None and self._process.returncode is None

    async def stop(self) -> int | None:
        """Interrupt the CLI as a user would (Ctrl-C); returns its exit status."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._reader is not None:
            await self._reader
        return process.returncode

    async def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        while line := await self._process.stdout.readline():
            self.lines += 1
            try:
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
            except (ValueError, KeyError, TypeError):
                self.unparsed.append(line.decode(errors="replace")[:200])
                continue
            self.deliver(kind, obj)

    def deliver(self, kind: str, obj: Obj) -> None:
        """One line of the stream, checked as a handler's event."""
        recorder = self.recorder
        key = object_key(obj)
        if kind == "ADDED":
            recorder.on_add(obj, False)
        elif kind == "MODIFIED":
            before = recorder.delivered.get(key)
            if before is None:
                recorder.problems.append(f"[{recorder.name}] {key}: MODIFIED, never added")
                before = obj
            recorder.on_update(before, obj)
        elif kind == "DELETED":
            recorder.on_delete(obj)
        else:
            recorder.problems.append(f"[{recorder.name}] {key}: an event of type {kind!r}")

    def converged(self, listed: dict[str, Obj]) -> bool:
        """Whether the stream's last word on every object is the server's."""
        shown = {key for key, (kind, _) in self.recorder.last.items() if kind != "delete"}
        if shown != listed.keys():
            return False
        return all(
            state(self.recorder.last[key][1]) == state(obj)  # type: ignore[arg-type]
            for key, obj in listed.items()
        )

    def differences(self, listed: dict[str, Obj], soak: Soak) -> tuple[list[str], int, int]:
        """Mismatches between the stream's last line per object and the final state; also
        how many deletes carried an older state (seen only by a relist) and how many
        objects were created and deleted unseen."""
        name = self.recorder.name
        found = list(self.recorder.problems)
        found += [f"[{name}] a line that is not an event: {line}" for line in self.unparsed]
        last = self.recorder.last
        for key, obj in listed.items():
            kind, shown = last.get(key, ("no event", {}))
            if kind in {"delete", "no event"}:
                found.append(f"[{name}] {key}: exists, but the last line was {kind}")
            elif isinstance(shown, dict) and state(shown) != state(obj):
                found.append(
                    f"[{name}] {key}: the last line has resourceVersion {rv(shown)}, "
                    f"the server {rv(obj)}"
                )
        for key, (kind, _) in last.items():
            if kind != "delete" and key not in listed:
                found.append(f"[{name}] {key}: shown as {kind}, not on the server")
        stale = unseen = 0
        for obj_name, final in soak.before_delete.items():
            key = f"{soak.client.namespace}/{obj_name}"
            if soak.current[obj_name] is not None:
                continue  # deleted, then created again
            if key not in last:
                unseen += 1
                continue
            kind, shown = last[key]
            if kind != "delete":
                continue  # reported above as shown but not on the server
            assert isinstance(shown, dict)
            if uid(shown) != uid(final):
                found.append(f"[{name}] {key}: the DELETED line is of another object")
            elif shown.get("data") != final.get("data"):
                stale += 1  # seen deleted only by a relist: its last known state
        return found, stale, unseen
