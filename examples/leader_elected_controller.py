"""A complete controller with leader election: mirror labelled ConfigMaps.

Every ConfigMap labelled ``mirror=yes`` gets a copy named ``<name>-mirror`` with
the same data; deleting the original deletes the copy.  Run several replicas
with the same ``--lease``: exactly one leads and reconciles, the others wait,
and if the leader dies another takes over once the lease expires (at once, if
the leader was stopped cleanly and released it).

    python examples/leader_elected_controller.py --namespace demo --lease mirror
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from kubeops.api import Client
from kubeops.cache import SharedInformerFactory
from kubeops.config import load_config
from kubeops.controller.elected import run_elected
from kubeops.controller.reconciler import Controller, Request
from kubeops.errors import KubeopsError, NotFound


def say(line: str) -> None:
    print(line, flush=True)


async def main(args: argparse.Namespace) -> None:
    config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
    async with Client(config) as client:
        factory = SharedInformerFactory(client, namespace=client.namespace)
        originals = await factory.informer("configmaps", label_selector="mirror=yes")
        lister = originals.lister()

        async def reconcile(request: Request) -> None:
            try:
                source = lister.get(request.namespace, request.name)
            except NotFound:
                with contextlib.suppress(NotFound):
                    await client.delete("configmaps", f"{request.name}-mirror", request.namespace)
                say(f"deleted mirror of {request}")
                return
            mirror = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{request.name}-mirror", "namespace": request.namespace},
                "data": source.get("data") or {},
            }
            await client.apply(mirror, field_manager="mirror-controller")
            say(f"reconciled {request}")

        controller = Controller("mirror", reconcile, workers=2)
        controller.watch(originals)
        say(f"{args.identity}: waiting for lease {args.lease}")
        await run_elected(
            client,
            [controller],
            lease=args.lease,
            identity=args.identity,
            lease_duration=args.lease_duration,
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
        )
        say(f"{args.identity}: lost the lease")


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context")
    parser.add_argument("--namespace")
    parser.add_argument("--lease", default="mirror-controller")
    parser.add_argument("--identity", default=None)
    parser.add_argument("--lease-duration", type=float, default=15.0)
    parser.add_argument("--renew-deadline", type=float, default=10.0)
    parser.add_argument("--retry-period", type=float, default=2.0)
    args = parser.parse_args()
    if args.identity is None:
        from kubeops.controller.leader_election import default_identity

        args.identity = default_identity()
    import logging

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    loop = asyncio.new_event_loop()
    task = loop.create_task(main(args))
    # SIGTERM (a pod being stopped) cancels cleanly: drain, release the lease, exit.
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        say(f"{args.identity}: stopped")
    except KubeopsError as err:
        print(f"leader_elected_controller: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(cli())
