"""Entry point of the ``kubeops`` command.

Command groups register themselves on an argparse parser; their heavy imports
happen inside the handlers, so ``kubeops --version`` starts fast.  Every error a
user can cause is reported as one line on stderr with exit code 1, never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from kubeops import __version__
from kubeops.cli import (
    auth,
    create,
    events,
    inspect,
    logs,
    node,
    resources,
    rollout,
    testenv,
    watch,
)
from kubeops.errors import KubeopsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubeops",
        description="Kubernetes operations automation: inspect, respond, sync and gate clusters.",
    )
    parser.add_argument("--version", action="version", version=f"kubeops {__version__}")
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    resources.register(groups)
    create.register(groups)
    auth.register(groups)
    node.register(groups)
    rollout.register(groups)
    logs.register(groups)
    events.register(groups)
    inspect.register(groups)
    testenv.register(groups)
    watch.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        print("kubeops: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`kubeops get pods | head`): stop quietly, like kubectl.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KubeopsError as err:
        print(f"kubeops: error: {err}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
