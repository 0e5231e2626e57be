"""Follow the Pods of a namespace with a shared informer: one line per change.

    python examples/informer.py                          # the current context's namespace
    python examples/informer.py --namespace web --resync 60
    python examples/informer.py --duration 30            # stop by itself after 30 s

An informer lists the Pods once, then watches them: its cache follows the
cluster, and its handlers hear of every change as ADDED, UPDATED or DELETED,
each with the Pod's phase.  Every ``--resync`` seconds each cached Pod is handed
to the update handler again, unchanged (printed as RESYNC): the moment a
controller re-checks the world against what it wants.  Dropped watches, expired
resourceVersions and API server restarts are the informer's business; it lists
and watches again by itself.

Ctrl-C (or the end of ``--duration``) stops it cleanly.  An error it cannot get
past -- a broken kubeconfig, an unreachable cluster, a forbidden list -- ends
the program with exit code 1 and one line saying what went wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import signal
import sys
from typing import Any

from kubeops.api import Client
from kubeops.cache import DeletedFinalStateUnknown, SharedInformerFactory
from kubeops.config import load_config
from kubeops.errors import ConnectionFailed, Forbidden, KubeopsError, Unauthorized


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--namespace", "-n", help="namespace (default: the context's)")
    parser.add_argument(
        "--resync",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="hand every cached Pod to the handlers again this often; 0: never (default 60)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this long (default: run until Ctrl-C)",
    )
    return parser.parse_args()


def describe(pod: dict[str, Any]) -> str:
    """``namespace/name phase``; a Pod gets its phase (Pending) when it is created."""
    metadata = pod.get("metadata") or {}
    phase = (pod.get("status") or {}).get("phase") or "Unknown"
    return f"{metadata.get('namespace')}/{metadata.get('name')} {phase}"


# The handlers.  An informer calls each one serially, in its own task, with the
# objects as the API server sent them: plain dicts, shared with the cache, so
# copy one before changing it.


def on_add(pod: dict[str, Any], is_in_initial_list: bool) -> None:
    # is_in_initial_list: the Pod was there when the informer started.
    print(f"ADDED {describe(pod)}")


def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
    # A resync hands over the cached object again: same resourceVersion, nothing changed.
    changed = old["metadata"]["resourceVersion"] != new["metadata"]["resourceVersion"]
    print(f"{'UPDATED' if changed else 'RESYNC'} {describe(new)}")


def on_delete(pod: dict[str, Any] | DeletedFinalStateUnknown) -> None:
    if isinstance(pod, DeletedFinalStateUnknown):
        # The deletion happened while the watch was down: the informer noticed the Pod
        # missing from its next list, and passes on the last state it knew.
        phase = ((pod.obj or {}).get("status") or {}).get("phase") or "Unknown"
        print(f"DELETED {pod.key} {phase} (while disconnected)")
        return
    print(f"DELETED {describe(pod)}")


async def follow_pods(args: argparse.Namespace) -> None:
    config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
    loop = asyncio.get_running_loop()
    # Set once, with the error that ends the program or None for a clean stop.
    finished: asyncio.Future[KubeopsError | None] = loop.create_future()

    def finish(error: KubeopsError | None = None) -> None:
        if not finished.done():
            finished.set_result(error)

    async with Client(config) as client:
        namespace = client.namespace
        # One factory per client; every informer it hands out shares one list+watch per
        # resource, and its default transform drops managedFields to save memory.
        factory = SharedInformerFactory(client, namespace=namespace, resync_period=args.resync)
        informer = await factory.informer("pods")
        registration = informer.add_handler(on_add, on_update, on_delete)

        def on_watch_error(error: BaseException) -> None:
            # The informer retries every failure by itself, with backoff.  Stop only for
            # the ones retrying cannot cure: refused credentials or permissions, or a
            # cluster that cannot be reached before the first list.
            fatal = isinstance(error, Unauthorized | Forbidden) or (
                isinstance(error, ConnectionFailed) and not informer.has_synced()
            )
            if fatal and isinstance(error, KubeopsError):
                finish(error)
            else:
                print(f"informer: {one_line(error)}; retrying", file=sys.stderr)

        informer.set_watch_error_handler(on_watch_error)
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows: Ctrl-C still works
                loop.add_signal_handler(signum, finish)
        if args.duration is not None:
            loop.call_later(args.duration, finish)

        resync = f"every {args.resync:g}s" if args.resync > 0 else "off"
        print(f"watching pods in namespace {namespace} on {config.server} (resync {resync})")
        factory.start()

        async def announce_sync() -> None:
            # The handler has synced once the initial list is in the cache and every Pod
            # in it has been handed to on_add.
            while not registration.has_synced():
                await asyncio.sleep(0.05)
            print(f"synced: {len(informer.store)} pod(s) in the cache")

        announcer = asyncio.create_task(announce_sync())
        try:
            error = await finished
        finally:
            announcer.cancel()
            await factory.shutdown()
        if error is not None:
            raise error
        print("stopped")


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def main() -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # one line per event, at once, into a pipe too
    # Failures the informer retries reach on_watch_error; what is logged beyond them
    # (a handler that raised) is a bug worth a traceback.
    logging.basicConfig(level=logging.ERROR, format="informer: %(message)s")
    args = parse_args()
    try:
        asyncio.run(follow_pods(args))
    except KubeopsError as err:
        # Every error kubeops raises on purpose names the operation, the object and
        # the cause; print it as one line instead of a traceback.
        print(f"informer: error: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
