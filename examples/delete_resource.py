"""Delete one object by kind and name with a propagation policy, and wait until it is gone.

    python examples/delete_resource.py deployment web                      # Background
    python examples/delete_resource.py deploy web --propagation Foreground  # dependents first
    python examples/delete_resource.py rs web-5d9c7 --propagation Orphan    # keep the Pods
    python examples/delete_resource.py crontabs.stable.example.com nightly

The kind is anything kubectl accepts (``deploy``, ``deployments.apps``,
``apps/v1/Deployment``, a custom resource's plural).  A delete request only
*starts* a deletion: finalizers, foreground propagation and graceful Pod
termination keep the object around for a while, so the program then waits
until the object with that UID no longer exists.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Literal, cast

from kubeops.api import Client, ResourceType
from kubeops.config import load_config
from kubeops.errors import KubeopsError, NotFound

Propagation = Literal["Foreground", "Background", "Orphan"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", help="kind, plural or short name, e.g. deploy, configmaps")
    parser.add_argument("name", help="the object's name")
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--namespace", "-n", help="namespace (default: the context's)")
    parser.add_argument(
        "--propagation",
        choices=["Background", "Foreground", "Orphan"],
        default="Background",
        help="what happens to dependents: deleted after (Background, the default), "
        "deleted before (Foreground), or kept (Orphan)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default: 60)")
    return parser.parse_args()


def describe(obj: dict[str, Any]) -> str:
    """Why an object is still there: its finalizers, if any."""
    finalizers = obj["metadata"].get("finalizers") or []
    return f"finalizers {', '.join(finalizers)}" if finalizers else "no finalizers left"


async def wait_gone(
    client: Client,
    resource: ResourceType,
    name: str,
    namespace: str,
    uid: str | None,
    timeout: float,
) -> bool:
    """True once the object with ``uid`` is gone; False if it is still there at the timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            current = await client.get(resource, name, namespace)
        except NotFound:
            return True
        if uid and current["metadata"]["uid"] != uid:
            return True  # gone, and something recreated an object of the same name
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        reported = describe(current)
        print(f"waiting: {name} is terminating ({reported})", flush=True)
        # Rather than polling, watch the object from the version just read: the
        # DELETED event arrives the moment the last finalizer is removed.
        async for event in client.watch(
            resource,
            namespace,
            field_selector=f"metadata.name={name}",
            resource_version=current["metadata"]["resourceVersion"],
            timeout_seconds=max(1, int(remaining)),
        ):
            if event.type == "DELETED":
                return True  # leaving the loop closes the watch
            if event.type == "MODIFIED" and describe(event.object) != reported:
                reported = describe(event.object)
                print(f"waiting: {name} is terminating ({reported})", flush=True)
        # The watch ended (timeout, or the server closed it): look again.


async def delete(args: argparse.Namespace) -> None:
    config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
    async with Client(config) as client:
        # Resolve the kind once (discovery finds custom resources) and reuse the result.
        resource = await client.resource(args.kind)
        namespace = client.namespace
        where = f" in namespace {namespace}" if resource.namespaced else ""
        target = f"{resource.qualified_name}/{args.name}{where}"
        print(f"deleting {target} (propagation {args.propagation})")
        result = await client.delete(
            resource,
            args.name,
            namespace,
            propagation_policy=cast(Propagation, args.propagation),
        )
        # The server answers with the object (still there, now terminating) or,
        # for some kinds, a Status whose details carry the deleted object's UID.
        if result.get("kind") == "Status":
            uid = result.get("details", {}).get("uid")
        else:
            uid = result.get("metadata", {}).get("uid")
        if not await wait_gone(client, resource, args.name, namespace, uid, args.timeout):
            raise KubeopsError(f"{target} still exists after {args.timeout:g}s")
        print(f"{target} deleted")


def main() -> int:
    args = parse_args()
    try:
        asyncio.run(delete(args))
    except KubeopsError as err:
        print(f"delete_resource: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
