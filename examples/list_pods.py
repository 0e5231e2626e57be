"""List the Pods of a namespace: name, phase, node and age -- with the async Client.

    python examples/list_pods.py                      # the current context's namespace
    python examples/list_pods.py --namespace kube-system --selector app=web
    python examples/list_pods.py --kubeconfig ./c1.kubeconfig --context c1

The kubeconfig is found as kubectl finds it (``--kubeconfig``, else ``KUBECONFIG``,
else ``~/.kube/config``, else the Pod's service account when run in a cluster).
Any error -- a broken kubeconfig, an unreachable cluster, a forbidden list --
ends the program with exit code 1 and one line saying what went wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from kubeops.api import Client
from kubeops.config import load_config
from kubeops.errors import KubeopsError


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--namespace", "-n", help="namespace (default: the context's)")
    parser.add_argument("--selector", "-l", help="label selector, e.g. app=web")
    return parser.parse_args()


def age(created: str | None, now: datetime) -> str:
    """``creationTimestamp`` as kubectl shows it: 42s, 7m, 3h, 12d."""
    if not created:
        return "<unknown>"
    seconds = int((now - datetime.fromisoformat(created)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def row(pod: dict[str, Any], now: datetime) -> tuple[str, str, str, str]:
    # Objects are the plain JSON dicts the API server sent; fields a Pod may not
    # have yet (no node before scheduling, no phase before the first status) get defaults.
    metadata, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    return (
        metadata["name"],
        status.get("phase", "Unknown"),
        spec.get("nodeName") or "<none>",
        age(metadata.get("creationTimestamp"), now),
    )


async def list_pods(args: argparse.Namespace) -> None:
    config = load_config(args.kubeconfig, context=args.context, namespace=args.namespace)
    # One Client per cluster; `async with` closes its connection pool at the end.
    async with Client(config) as client:
        namespace = client.namespace  # --namespace, else the context's, else "default"
        print(f"listing pods in namespace {namespace} on {config.server}")
        # list() follows the server's pagination and returns one List object.
        pods = await client.list("pods", namespace, label_selector=args.selector)
        now = datetime.now(UTC)
        rows = sorted(row(pod, now) for pod in pods["items"])
        if not rows:
            print(f"no pods in namespace {namespace}")
            return
        header = ("NAME", "PHASE", "NODE", "AGE")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for line in [header, *rows]:
            print(
                "   ".join(
                    cell.ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
            )
        print(f"{len(rows)} pod(s)")


def main() -> int:
    args = parse_args()
    try:
        asyncio.run(list_pods(args))
    except KubeopsError as err:
        # Every error kubeops raises on purpose names the operation, the object and
        # the cause; print it as one line instead of a traceback.
        print(f"list_pods: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
