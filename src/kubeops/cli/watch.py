"""``kubeops watch KIND``: a ``kubectl get -w`` that survives restarts and compactions.

It runs an informer, so a dropped watch resumes, a 410 relists, and an object
deleted while disconnected is still reported as DELETED with its last known
state.  ``-o jsonl`` prints one ``{"type": ..., "object": ...}`` per line.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from kubeops.cli.cluster import run
from kubeops.cli.connection import add_connection_flags
from kubeops.config.redact import printable

if TYPE_CHECKING:
    from kubeops.api import Client


def register(groups: Any) -> None:
    """Add ``kubeops watch`` to the command groups."""
    watch = groups.add_parser(
        "watch", help="stream changes of a kind; survives API server restarts"
    )
    watch.add_argument("kind", help="kind, resource or short name")
    watch.add_argument("-l", "--selector", help="label selector")
    watch.add_argument("--field-selector", help="field selector")
    watch.add_argument("-o", "--output", choices=("table", "jsonl"), default="table")
    add_connection_flags(watch, all_namespaces="the changes in every namespace")
    watch.set_defaults(handler=run(_watch))


async def _watch(client: Client, args: argparse.Namespace) -> int:
    import asyncio
    import logging

    import orjson

    from kubeops.cache import DeletedFinalStateUnknown, SharedInformer, is_fatal_watch_error

    resource = await client.resource(args.kind)
    namespace = (
        None
        if args.all_namespaces or not resource.namespaced
        else args.namespace or client.namespace
    )
    informer = SharedInformer(
        client,
        resource,
        namespace=namespace,
        label_selector=args.selector,
        field_selector=args.field_selector,
    )
    jsonl = args.output == "jsonl"
    if not jsonl:
        print(f"{'EVENT':<9} {'NAMESPACE':<20} {'NAME':<40} RESOURCEVERSION", flush=True)

    def emit(kind: str, obj: dict[str, Any]) -> None:
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        if jsonl:
            line = orjson.dumps({"type": kind, "object": obj}).decode()
        else:
            meta = obj.get("metadata", {})
            line = f"{kind:<9} {meta.get('namespace', '-'):<20} {meta.get('name', ''):<40} {meta.get('resourceVersion', '')}"
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def on_delete(obj: Any) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            if obj.obj is None:
                return
            obj = obj.obj
        emit("DELETED", obj)

    informer.add_handler(
        on_add=lambda obj, _initial: emit("ADDED", obj),
        on_update=lambda old, new: None if _same(old, new) else emit("MODIFIED", new),
        on_delete=on_delete,
    )

    def on_error(err: BaseException) -> None:
        if is_fatal_watch_error(err) and not informer.has_synced():
            return  # a bad selector, RBAC: the first sync raises it as the one error line
        print(f"kubeops watch: {printable(str(err))}; reconnecting", file=sys.stderr, flush=True)

    informer.set_watch_error_handler(on_error)
    # on_error reports every list/watch error: the reflector's own log line would repeat it.
    logging.getLogger("kubeops.cache.reflector").setLevel(logging.ERROR)
    async with informer:
        # Errors retrying cannot heal fail the command before the first list; afterwards
        # everything is retried (a RoleBinding or CRD may come back).
        await informer.wait_for_sync(fail_fast=True)
        await asyncio.Event().wait()  # until interrupted
    return 0


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    version = "resourceVersion"
    return bool(old.get("metadata", {}).get(version) == new.get("metadata", {}).get(version))
