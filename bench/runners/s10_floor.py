"""S10's floor: the engine's writes with no engine -- kubeops' ``Client`` watching the source
and sending each Deployment straight to every target by server-side apply.

No state store of the targets, no diff, no status, no ownership checks: a source
event becomes one apply per target.  Each target has its own queue (the latest
body per name) and as many writers as the engine's default workers, no client-side
rate limit and no circuit breaker; a failed write is tried again every 0.2 s, so a
target that was down is caught up from the queue when it returns.  Runs until
the harness stops it (SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from _protocol import Params, Result, main, run_async
from _s10 import desired, ready_then_wait

from kubeops.api import Client, RetryPolicy
from kubeops.config import load_config
from kubeops.transport.breaker import CircuitBreaker
from kubeops.transport.errors import NotFound

FIELD_MANAGER = "kubeops-sync-floor"
RETRY_AFTER = 0.2


def _client(kubeconfig: str) -> Client:
    config = load_config(kubeconfig)
    return Client(
        config,
        qps=-1,
        retry=RetryPolicy(max_retries=0),
        breaker=CircuitBreaker(config.server, failure_threshold=10**9),
    )


class Sink:
    """One target: the latest body per name (None: delete it), written by ``workers`` tasks."""

    def __init__(self, client: Client, namespace: str, workers: int) -> None:
        self.client = client
        self.namespace = namespace
        self.pending: dict[str, dict[str, Any] | None] = {}
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.tasks = [asyncio.create_task(self._work()) for _ in range(workers)]

    def put(self, name: str, body: dict[str, Any] | None) -> None:
        if name not in self.pending:
            self.queue.put_nowait(name)
        self.pending[name] = body

    async def _work(self) -> None:
        while True:
            name = await self.queue.get()
            if name not in self.pending:
                continue
            body = self.pending.pop(name)
            try:
                if body is None:
                    with contextlib.suppress(NotFound):
                        await self.client.delete("deployments", name, self.namespace)
                else:
                    await self.client.apply(
                        body, self.namespace, field_manager=FIELD_MANAGER, force=True
                    )
            except Exception:  # the target is down: keep the newest body, try again
                if name not in self.pending:
                    self.put(name, body)
                await asyncio.sleep(RETRY_AFTER)


async def s10(p: Params) -> Result:
    source = _client(p.kubeconfig)
    targets = [_client(path) for path in p.targets]
    await asyncio.to_thread(ready_then_wait)
    sinks = [Sink(c, p.namespace, p.workers) for c in targets]

    def send(obj: dict[str, Any], deleted: bool) -> None:
        body = None if deleted else desired(obj, p.source_cluster)
        for sink in sinks:
            sink.put(obj["metadata"]["name"], body)

    version: str | None = None  # resume the watch where it ended; list again after an error
    while True:
        try:
            if version is None:
                listing = await source.list("deployments", p.namespace)
                for obj in listing["items"]:
                    send(obj, deleted=False)
                version = str(listing["metadata"]["resourceVersion"])
            async for event in source.watch("deployments", p.namespace, resource_version=version):
                version = event.resource_version or version
                if event.type != "BOOKMARK":
                    send(event.object, deleted=event.type == "DELETED")
        except Exception:
            version = None
            await asyncio.sleep(RETRY_AFTER)


if __name__ == "__main__":
    main({"S10": run_async(s10)})
