"""Create (or update) a Deployment with server-side apply and wait until its replicas
are available -- with the blocking ``SyncClient``.

    python examples/create_deployment.py --name web --image nginx:1.27 --replicas 3
    python examples/create_deployment.py --name web --replicas 1   # run again: scales down

Server-side apply makes the program idempotent: the first run creates the
Deployment, later runs change only the fields this program manages.  Waiting
uses a watch, so each status change is seen as it happens, not on a poll tick.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from kubeops.api import SyncClient
from kubeops.config import load_config
from kubeops.errors import KubeopsError

# Server-side apply records which manager owns which fields; name ours.
FIELD_MANAGER = "kubeops-example"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--namespace", "-n", help="namespace (default: the context's)")
    parser.add_argument("--name", default="hello", help="Deployment name (default: hello)")
    parser.add_argument("--image", default="nginx:1.27", help="container image")
    parser.add_argument("--replicas", type=int, default=2, help="desired replicas (default: 2)")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait (default: 120)"
    )
    return parser.parse_args()


def deployment(name: str, image: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def progress(deploy: dict[str, Any]) -> tuple[bool, str]:
    """Whether the rollout is complete, and a line describing it (as `kubectl rollout status`)."""
    spec, status = deploy.get("spec") or {}, deploy.get("status") or {}
    desired = spec.get("replicas", 1)
    available = status.get("availableReplicas", 0)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    generation = deploy["metadata"].get("generation", 0)
    # Until the controller has seen the latest spec, the status describes an older one.
    if status.get("observedGeneration", 0) < generation:
        return False, f"waiting for the controller to pick up generation {generation}"
    done = updated == desired and total == desired and available == desired
    return done, f"{available}/{desired} replicas available ({updated} updated, {total} total)"


def wait_available(client: SyncClient, name: str, namespace: str, timeout: float) -> bool:
    """Watch the Deployment until its rollout completes; False on timeout."""
    deadline = time.monotonic() + timeout
    deploy = client.get("deployments", name, namespace)
    reported = ""

    def report(deploy: dict[str, Any]) -> bool:
        nonlocal reported
        done, line = progress(deploy)
        if line != reported:  # most updates touch fields we do not show
            print(f"deployment/{name}: {line}", flush=True)
            reported = line
        return done

    while True:
        if report(deploy):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        # Watch this one object from the version just read.  The server ends the
        # watch after timeoutSeconds; leaving the loop early (return, raise)
        # closes the stream.
        for event in client.watch(
            "deployments",
            namespace,
            field_selector=f"metadata.name={name}",
            resource_version=deploy["metadata"]["resourceVersion"],
            timeout_seconds=max(1, int(remaining)),
        ):
            if event.type == "DELETED":
                raise KubeopsError(f"deployment {name!r} was deleted while waiting for it")
            if event.type == "MODIFIED" and report(event.object):
                return True
            # BOOKMARK events only move the resourceVersion on; nothing to report.
        # The watch ended: read the object again and watch on from there.
        deploy = client.get("deployments", name, namespace)


def main() -> int:
    args = parse_args()
    try:
        config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
        with SyncClient(config) as client:
            namespace = client.namespace
            print(
                f"applying deployment/{args.name} ({args.replicas} x {args.image}) "
                f"in namespace {namespace}"
            )
            applied = client.apply(
                deployment(args.name, args.image, args.replicas),
                namespace,
                field_manager=FIELD_MANAGER,
                # Take over fields another manager (kubectl, a previous tool) set.
                force=True,
            )
            print(
                f"deployment/{args.name} applied (generation {applied['metadata']['generation']})"
            )
            if not wait_available(client, args.name, namespace, args.timeout):
                print(
                    f"create_deployment: error: deployment/{args.name} in namespace {namespace} "
                    f"did not become available within {args.timeout:g}s",
                    file=sys.stderr,
                )
                return 1
            print(f"deployment/{args.name} is available")
    except KubeopsError as err:
        print(f"create_deployment: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
