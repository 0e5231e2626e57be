"""``kubeops cordon``, ``uncordon`` and ``drain``: node maintenance, as kubectl does it.

Progress (evictions, budgets refusing, pods still terminating) goes to stderr as
it happens; the result goes to stdout, as text or with ``-o json``.  A drain that
does not finish (a PodDisruptionBudget still refusing at ``--timeout``, an
eviction that failed) prints its report, then one error line, and exits 1.
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
    from kubeops.ops.node import DrainReport


def register(groups: Any) -> None:
    """Add ``kubeops cordon``, ``uncordon`` and ``drain`` to the command groups."""
    for verb, help_text in (
        ("cordon", "mark nodes unschedulable; their pods keep running"),
        ("uncordon", "mark nodes schedulable again"),
    ):
        command = groups.add_parser(verb, help=help_text)
        command.add_argument("nodes", nargs="+", metavar="NODE")
        command.add_argument("--dry-run", choices=("none", "server"), default="none")
        command.add_argument("-o", "--output", choices=("text", "json"), default="text")
        add_connection_flags(command)
        command.set_defaults(handler=run(_cordon), unschedulable=verb == "cordon")

    drain = groups.add_parser(
        "drain",
        help="cordon nodes and evict their pods through the Eviction API (PodDisruptionBudgets apply)",
    )
    drain.add_argument("nodes", nargs="+", metavar="NODE")
    drain.add_argument(
        "--ignore-daemonsets", action="store_true", help="skip DaemonSet-managed pods"
    )
    drain.add_argument(
        "--force", action="store_true", help="also evict pods that no controller manages"
    )
    drain.add_argument(
        "--delete-emptydir-data",
        action="store_true",
        help="also evict pods with emptyDir volumes (their data is lost)",
    )
    drain.add_argument("--pod-selector", help="only evict pods with these labels")
    drain.add_argument(
        "--grace-period",
        type=int,
        help="seconds each pod gets to terminate (default: the pod's own)",
    )
    drain.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="give up after this many seconds (default 0: wait as long as it takes)",
    )
    drain.add_argument(
        "--retry-interval",
        type=float,
        default=5.0,
        help="seconds between evictions a PodDisruptionBudget refused",
    )
    drain.add_argument("--dry-run", choices=("none", "server"), default="none")
    drain.add_argument("-o", "--output", choices=("text", "json"), default="text")
    add_connection_flags(drain)
    drain.set_defaults(handler=run(_drain))


async def _cordon(client: Client, args: argparse.Namespace) -> int:
    from kubeops.ops.node import CordonResult, cordon, uncordon

    verb = cordon if args.unschedulable else uncordon
    word = "cordoned" if args.unschedulable else "uncordoned"
    dry_run = args.dry_run == "server"
    results: list[CordonResult] = []
    try:
        for node in args.nodes:
            result = await verb(client, node, dry_run=dry_run)
            results.append(result)
            if args.output == "text":  # at once: a later node failing must not hide this one
                state = word if result.changed else f"already {word}"
                print(f"node/{node} {state}" + (" (server dry run)" if dry_run else ""))
    finally:
        if args.output == "json" and results:
            _print_json([r.to_dict() for r in results])
    return 0


async def _drain(client: Client, args: argparse.Namespace) -> int:
    from kubeops.errors import KubeopsError
    from kubeops.ops.node import drain

    def progress(line: str) -> None:
        print(printable(line), file=sys.stderr, flush=True)

    reports: list[DrainReport] = []
    try:
        for index, node in enumerate(args.nodes):
            report = await drain(
                client,
                node,
                ignore_daemonsets=args.ignore_daemonsets,
                force=args.force,
                delete_emptydir_data=args.delete_emptydir_data,
                pod_selector=args.pod_selector,
                grace_period=args.grace_period,
                timeout=args.timeout or None,
                retry_interval=args.retry_interval,
                dry_run=args.dry_run == "server",
                progress=progress,
            )
            reports.append(report)
            if args.output == "text":
                _print_report(report)
            if not report.complete:
                left = args.nodes[index + 1 :]
                pending = f"; not attempted: {', '.join(left)}" if left else ""
                raise KubeopsError(report.summary() + pending)
    finally:
        if args.output == "json" and reports:
            _print_json([r.to_dict() for r in reports])
    return 0


def _print_report(report: DrainReport) -> None:
    for pod in report.pods:
        line = f"pod {pod.key} {pod.outcome}"
        if pod.outcome == "blocked" and pod.budgets:
            line += f" by PodDisruptionBudget {', '.join(pod.budgets)}"
        if pod.reason:
            line += f": {pod.reason}"
        print(printable(line))
    if report.complete:
        print(report.summary())


def _print_json(documents: list[dict[str, Any]]) -> None:
    import orjson

    document: Any = documents[0] if len(documents) == 1 else documents
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
