"""``kubeops logs``: a container's log, like ``kubectl logs``, or every Pod's of a workload.

::

    kubeops logs web-7d9f -n shop               # a Pod's default container
    kubeops logs pod/web-7d9f -c sidecar --tail 20
    kubeops logs deploy/web -f --since 10m      # each Pod's lines, prefixed [pod/NAME/CONTAINER]
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
    """Add ``kubeops logs`` to the command groups."""
    logs = groups.add_parser(
        "logs", help="print a container's log (of a Pod, or of each Pod of a workload)"
    )
    logs.add_argument("target", help="a Pod's name, or KIND/NAME: pod/web-1, deploy/web, job/x")
    logs.add_argument("-c", "--container", help="the container (default: the Pod's default one)")
    logs.add_argument("-f", "--follow", action="store_true", help="stream new lines")
    logs.add_argument(
        "--since", type=duration, help="only lines newer than this, e.g. 30s, 5m, 1h30m"
    )
    logs.add_argument("--since-time", type=_timestamp, help="only lines after this RFC 3339 time")
    logs.add_argument(
        "--tail", type=int, default=-1, help="the last lines of each container (-1: all)"
    )
    logs.add_argument("--timestamps", action="store_true", help="start each line with its time")
    logs.add_argument(
        "--prefix",
        action="store_true",
        help="start each line with [pod/NAME/CONTAINER] (the default for several Pods)",
    )
    add_connection_flags(logs)
    logs.set_defaults(handler=run(_logs))


def duration(text: str) -> float:
    """A positive duration as kubectl writes it (``90s``, ``5m``, ``1h30m``) -> seconds."""
    from kubeops.models.duration import DurationError, parse_duration

    try:
        return parse_duration(text, positive=True)
    except DurationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _timestamp(text: str) -> Any:
    import datetime

    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None


async def _logs(client: Client, args: argparse.Namespace) -> int:
    from kubeops.errors import KubeopsError
    from kubeops.ops.logs import logs, pods_for

    kind, _, name = args.target.rpartition("/")
    kind = kind or "pod"
    if not name:
        raise KubeopsError(f"logs: name the object: {args.target}NAME")
    if args.since is not None and args.since_time is not None:
        raise KubeopsError("logs: give --since or --since-time, not both")
    pods = await pods_for(client, kind, name, args.namespace)
    if not pods:
        print(f"No scheduled pods found for {args.target}.", file=sys.stderr)
        return 0
    prefix = args.prefix or len(pods) > 1
    # A terminal sees escape sequences from a container escaped; a file or pipe gets
    # the log byte for byte, as kubectl writes it (docs/decisions.md).
    escape = sys.stdout.isatty()
    async for line in logs(
        client,
        kind,
        name,
        args.namespace,
        container=args.container,
        follow=args.follow,
        since=args.since,
        since_time=args.since_time,
        tail=args.tail,
        timestamps=args.timestamps,
    ):
        text = line.format(prefix=prefix)
        print(printable(text) if escape else text, flush=args.follow)
    return 0
