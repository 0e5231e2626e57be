"""Entry point of the ``kubeops`` command.

Command groups register themselves on an argparse parser; their heavy imports
happen inside the handlers, so ``kubeops --version`` starts fast.  The connection
flags (:mod:`kubeops.cli.connection`) are accepted before or after the command at
any depth, and a command's options and arguments in any order
(:mod:`kubeops.cli.parser`).  Every error a user can cause, a mistyped flag
included, is reported as one line on stderr with exit code 1, as kubectl does,
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from kubeops import __version__
from kubeops.cli import (
    auth,
    connection,
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
from kubeops.cli.parser import CommandParser
from kubeops.config.redact import printable
from kubeops.errors import KubeopsError


def build_parser() -> argparse.ArgumentParser:
    """The ``kubeops`` parser: every command, each accepting the connection flags."""
    parser = CommandParser(
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
    connection.add_to_every_parser(parser)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """kubeops' own warnings as one ``kubeops: warning:`` line (no source line); others
    as Python prints them."""
    from kubeops.config.tls import InsecureTLSWarning

    if issubclass(category, InsecureTLSWarning):
        print(f"kubeops: warning: {printable(str(message))}", file=file or sys.stderr)
        return
    _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kubeops`` with ``argv`` (default: the process's arguments); the exit code."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # told by the command's own parser, which points at its own help
        command = connection.command_parser(parser, args)
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        connection.complete(args)
        code: int = args.handler(args)
    except KeyboardInterrupt:
        print("kubeops: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`kubeops get pods | head`): stop quietly, like kubectl.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KubeopsError as err:
        print(f"kubeops: error: {printable(str(err))}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:
        # Tasks run side by side (a TaskGroup) fail together: the first is the line.
        first = _first_kubeops_error(group)
        if first is None:
            raise
        print(f"kubeops: error: {printable(str(first))}", file=sys.stderr)
        return 1
    return code


def _first_kubeops_error(group: BaseExceptionGroup[BaseException]) -> KubeopsError | None:
    """The first error of ``group`` when all of them are kubeops errors, else None (a bug)."""
    matched, rest = group.split(KubeopsError)
    if matched is None or rest is not None:
        return None
    leaf: BaseException = matched
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf if isinstance(leaf, KubeopsError) else None


if __name__ == "__main__":
    sys.exit(main())
