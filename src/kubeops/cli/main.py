"""Entry point of the ``kubeops`` command.

Command groups register themselves on an argparse parser; their heavy imports
happen inside the handlers, so ``kubeops --version`` starts fast.  A command line
that names its command imports and builds only that command's group (building
every group's parsers is ~10 ms of argparse); help and mistakes get them all.  The connection
flags (:mod:`kubeops.cli.connection`) are accepted before or after the command at
any depth, and a command's options and arguments in any order
(:mod:`kubeops.cli.parser`).  Every error a user can cause, a mistyped flag
included, is reported as one line on stderr with exit code 1, as kubectl does,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from kubeops import __version__
from kubeops.cli import connection
from kubeops.cli.parser import CommandParser
from kubeops.config.redact import printable
from kubeops.errors import KubeopsError

# The modules under kubeops.cli that register commands, in the order help lists them,
# and the commands each registers.
GROUPS: dict[str, tuple[str, ...]] = {
    "resources": ("get", "apply", "delete", "api-resources"),
    "create": ("create",),
    "auth": ("auth",),
    "node": ("cordon", "uncordon", "drain"),
    "rollout": ("rollout", "scale", "wait"),
    "logs": ("logs",),
    "events": ("events", "events-export"),
    "inspect": ("inspect",),
    "respond": ("respond",),
    "sync": ("sync",),
    "policy": ("policy",),
    "testenv": ("testenv",),
    "watch": ("watch",),
}
_VALUED_FLAGS = frozenset({"--kubeconfig", "--context", "-n", "--namespace"})


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``kubeops`` parser: every command, each accepting the connection flags.

    Given the command line, only the group of the command it names is built (all of
    them when it names none it knows, or asks for help before the command)."""
    parser = CommandParser(
        prog="kubeops",
        description="Kubernetes operations automation: inspect, respond, sync and gate clusters.",
    )
    parser.add_argument("--version", action="version", version=f"kubeops {__version__}")
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _groups_for(argv):
        importlib.import_module(f"kubeops.cli.{name}").register(groups)
    connection.add_to_every_parser(parser)
    return parser


def _groups_for(argv: Sequence[str] | None) -> list[str]:
    if argv is None:
        return list(GROUPS)
    words = iter(argv)
    for word in words:
        if word in ("-h", "--help"):
            break
        if word in _VALUED_FLAGS:
            next(words, None)
            continue
        if word.startswith("-"):
            continue
        named = [group for group, commands in GROUPS.items() if word in commands]
        return named or list(GROUPS)
    else:
        if "--version" in argv:  # nothing to parse but the flag
            return []
    return list(GROUPS)


def _two_words(argv: list[str]) -> list[str]:
    """``events export`` is the ``events-export`` command (``events`` takes KIND NAME)."""
    for index, word in enumerate(argv):
        if word.startswith("-") or (index and argv[index - 1] in _VALUED_FLAGS):
            continue
        if word == "events" and argv[index + 1 : index + 2] == ["export"]:
            return [*argv[:index], "events-export", *argv[index + 2 :]]
        break
    return argv


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
    argv = _two_words(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser(argv)
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
        print(f"kubeops: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:
        # Tasks run side by side (a TaskGroup) fail together: the first is the line.
        first = _first_kubeops_error(group)
        if first is None:
            raise
        print(f"kubeops: error: {_one_line(first)}", file=sys.stderr)
        return 1
    return code


def _one_line(err: KubeopsError) -> str:
    """The error as one line: control characters escaped, and line breaks too (a name
    or key from a file may hold one) -- except in an error that carries a log's last
    lines (``log_tail``, a component that failed to start), which are shown as lines."""
    return printable(str(err), one_line=getattr(err, "log_tail", None) is None)


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
